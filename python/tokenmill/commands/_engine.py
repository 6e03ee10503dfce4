"""The ``--engine`` / ``--address`` options shared by ``count``, ``report`` and ``cost``."""

from __future__ import annotations

import argparse


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """``--engine`` and ``--address``, shared by ``count``, ``report`` and ``cost``."""
    parser.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="where the counting runs: this process (default) or a Ray cluster "
        "(needs pip install 'tokenmill[ray]')",
    )
    parser.add_argument(
        "--address",
        metavar="ADDR",
        help="Ray cluster to join with --engine ray: 'auto' (one started with `ray start`) or "
        "ray://host:10001; default: Ray's default (a local cluster when none is running)",
    )
