"""``tokenmill usage``: price JSONL logs of provider responses, by model and/or day."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from tokenmill.commands._prices import add_price_options
from tokenmill.commands._prices import catalogue as price_catalogue


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
    add_price_options(parser)


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
    from tokenmill.cost.usage_log import price_usage_logs

    report = price_usage_logs(args.logs, by=args.by, catalogue=price_catalogue(args))
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
