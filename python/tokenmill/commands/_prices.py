"""The price-catalogue options shared by ``tokenmill cost`` and ``tokenmill usage``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenmill.cost.catalogue import Catalogue


def add_price_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prices", metavar="PATH", help="JSON/TOML file of price overrides")
    parser.add_argument(
        "--litellm",
        nargs="?",
        const="",
        metavar="PATH",
        help="also load a LiteLLM price file (no PATH: the installed litellm package's copy)",
    )


def catalogue(args: argparse.Namespace) -> Catalogue:
    """The bundled catalogue with ``--litellm`` merged in and ``--prices`` overrides applied."""
    from tokenmill.cost.catalogue import load_catalogue
    from tokenmill.cost.litellm import load_litellm

    cat = load_catalogue()
    if args.litellm is not None:
        cat = cat.merged(load_litellm(args.litellm or None))
    if args.prices:
        cat = cat.with_overrides(args.prices)
    return cat
