"""``tokenmill usage``: price JSONL logs of provider responses, by model and/or day."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "logs",
        nargs="+",
        metavar="LOG",
        help="JSONL of provider responses (OpenAI chat / Responses / Batch output, Anthropic "
        "Messages, Gemini generateContent); '-' for stdin",
    )
    parser.add_argument("--by", default="model", help="group by: model, day or model,day")
    parser.add_argument("--format", choices=["table", "json", "csv"], default="table")
    parser.add_argument("--prices", metavar="PATH", help="JSON/TOML file of price overrides")
    parser.add_argument(
        "--litellm",
        nargs="?",
        const="",
        metavar="PATH",
        help="also load a LiteLLM price file (no PATH: the installed litellm package's copy)",
    )


COLUMNS = (
    "requests",
    "input_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost",
)


def run(args: argparse.Namespace) -> int:
    from tokenmill.cost.catalogue import load_catalogue
    from tokenmill.cost.litellm import load_litellm
    from tokenmill.cost.usage_log import price_usage_logs

    cat = load_catalogue()
    if args.litellm is not None:
        cat = cat.merged(load_litellm(args.litellm or None))
    if args.prices:
        cat = cat.with_overrides(args.prices)
    report = price_usage_logs(args.logs, by=args.by, catalogue=cat)
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([*report.by, *COLUMNS])
        for g in report.groups:
            d = g.to_dict(report.by)
            writer.writerow([d[c] for c in (*report.by, *COLUMNS)])
        d = report.total.to_dict(())
        writer.writerow(["TOTAL", *[""] * (len(report.by) - 1), *[d[c] for c in COLUMNS]])
    else:
        _table(report)
    _notes(report)
    return 0


def _table(report: Any) -> None:
    head = (*report.by, "requests", "input", "cached", "cache wr", "output", "reasoning", "USD")
    rows = [head]
    for g in [*report.groups, report.total]:
        key = g.key if g.key else ("TOTAL", *[""] * (len(report.by) - 1))
        rows.append(
            (
                *key,
                f"{g.requests:,}",
                f"{g.input_tokens:,}",
                f"{g.cached_tokens:,}",
                f"{g.cache_write_tokens:,}",
                f"{g.output_tokens:,}",
                f"{g.reasoning_tokens:,}",
                f"${format(g.cost, 'f')}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    n_keys = len(report.by)
    for r in rows:
        cells = [
            c.ljust(w) if i < n_keys else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


def _notes(report: Any) -> None:
    excluded = report.excluded()
    if excluded:
        print(f"totals exclude {excluded}", file=sys.stderr)
    for g in report.unknown_models:
        print(f"unknown model  {g.key[0]}: {g.requests:,} requests", file=sys.stderr)
    for s in [*report.unpriced, *report.skipped]:
        print(f"skipped        {s}", file=sys.stderr)
    if report.skipped_count > len(report.skipped):
        print(
            f"               ... {report.skipped_count - len(report.skipped):,} more",
            file=sys.stderr,
        )
    for w in report.warnings:
        print(f"note           {w}", file=sys.stderr)
