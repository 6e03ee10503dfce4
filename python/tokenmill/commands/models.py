"""``tokenmill models``: list the price catalogue with prices and the as-of date."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider", "-p", help="only this provider (e.g. openai, anthropic)")
    parser.add_argument("--json", action="store_true", help="print the records as JSON")
    parser.add_argument(
        "--all",
        action="store_true",
        help="also list every model of the bundled LiteLLM price file (thousands)",
    )


def _p(x: Decimal | None) -> str:
    return "-" if x is None else format(x, "f")


def run(args: argparse.Namespace) -> int:
    from tokenmill.cost.catalogue import iter_catalogue, load_catalogue

    full = load_catalogue()
    cat = (full.with_fallback() if args.all else full).filter(args.provider)
    records = list(iter_catalogue(cat))
    if args.json:
        doc = {
            "as_of": cat.as_of,
            "currency": "USD",
            "unit": "per 1M tokens",
            "models": {m.name: m.to_dict() for m in records},
        }
        print(json.dumps(doc, indent=2))
        return 0
    print(f"USD per 1M tokens; prices as of {cat.as_of} ({cat.source}); '-' = not offered")
    head = (
        "model",
        "provider",
        "input",
        "output",
        "cache rd",
        "cache wr",
        "batch in",
        "batch out",
        "context",
        "tokenizer",
    )
    table = [head] + [
        (
            m.name,
            m.provider,
            _p(m.input),
            _p(m.output),
            _p(m.cache_read),
            _p(m.cache_write),
            _p(m.batch_input),
            _p(m.batch_output),
            "-" if m.context_window is None else f"{m.context_window:,}",
            m.tokenizer.describe(),
        )
        for m in records
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        cells = [
            c.ljust(w) if i in (0, 1, 9) else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
    if not args.all and full.fallback is not None:
        print(
            "... and the thousands of LiteLLM price-file models behind these: --all lists them",
            file=sys.stderr,
        )
    return 0
