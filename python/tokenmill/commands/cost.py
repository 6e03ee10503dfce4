"""``tokenmill cost``: price a prompt, a conversation or a dataset on one model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tokenmill.commands._engine import add_engine_arguments, add_progress_argument, progress
from tokenmill.commands._prices import add_price_options
from tokenmill.commands._prices import catalogue as price_catalogue

_DATASET_SUFFIXES = {".jsonl", ".ndjson", ".csv", ".parquet"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        metavar="FILE|-",
        help="a text file, '-' for stdin, a .json list of chat messages, or a dataset "
        "(.jsonl/.ndjson/.csv/.parquet file or a directory of them)",
    )
    parser.add_argument("--model", "-m", required=True, help="model name (see `tokenmill models`)")
    parser.add_argument(
        "--output-tokens",
        type=int,
        default=0,
        metavar="N",
        help="expected output tokens (per row for a dataset); default 0",
    )
    parser.add_argument(
        "--cached-tokens", type=int, default=0, metavar="N", help="prompt tokens read from cache"
    )
    parser.add_argument("--batch", action="store_true", help="use the provider's batch prices")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--format",
        choices=["auto", "text", "chat", "dataset"],
        default="auto",
        help="how to read FILE (auto: by suffix; .json holding a message list = chat)",
    )
    parser.add_argument("--column", help="dataset text column (default: 'messages' or 'text')")
    parser.add_argument("--messages-column", help="dataset column of chat message lists")
    add_price_options(parser)
    add_progress_argument(parser, "dataset progress bar")
    add_engine_arguments(parser)  # datasets only


def _read_text(name: str) -> str:
    if name == "-":
        text = sys.stdin.read()
        if not text:
            # An empty pipe is almost always a mistake upstream; $0 would hide it.
            raise ValueError("no input on stdin (FILE is '-')")
        return text
    path = Path(name)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OSError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not valid UTF-8 at byte {exc.start}") from None


def _mode(args: argparse.Namespace) -> str:
    if args.format != "auto":
        return str(args.format)
    if args.file == "-":
        return "text"
    path = Path(args.file)
    if path.is_dir() or path.suffix.lower() in _DATASET_SUFFIXES:
        return "dataset"
    if path.suffix.lower() == ".json":
        return "chat"
    return "text"


def _money(x: Any) -> str:
    return f"${format(x, 'f')}"


def run(args: argparse.Namespace) -> int:
    from tokenmill.cost.estimate import estimate_cost

    catalogue = price_catalogue(args)
    mode = _mode(args)
    if mode != "dataset" and args.engine != "local":
        raise ValueError("--engine ray counts datasets; FILE is not one")
    dataset = None
    if mode == "dataset":
        from tokenmill.cost.dataset import price_dataset

        if args.cached_tokens:
            raise ValueError("--cached-tokens is not supported for datasets")
        show = progress(args)
        dataset = price_dataset(
            args.file,
            args.model,
            column=args.column,
            messages_column=args.messages_column,
            output_tokens_per_row=args.output_tokens,
            batch=args.batch,
            catalogue=catalogue,
            progress=show,
            engine=args.engine,
            address=args.address,
        )
        est = dataset.estimate
    else:
        text = _read_text(args.file)
        prompt: Any = text
        if mode == "chat":
            try:
                prompt = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{args.file}: not a JSON message list: {exc}") from None
            if isinstance(prompt, dict) and "messages" in prompt:
                prompt = prompt["messages"]
            if not isinstance(prompt, list):
                raise ValueError(f"{args.file}: expected a JSON list of messages")
        est = estimate_cost(
            prompt,
            model=args.model,
            output_tokens=args.output_tokens,
            cached_input_tokens=args.cached_tokens,
            batch=args.batch,
            catalogue=catalogue,
        )
    if args.json:
        data = dataset.to_dict() if dataset else est.to_dict()
        print(json.dumps(data, indent=2, allow_nan=False))
        return 0
    u = est.usage
    print(f"model      {est.model} ({est.provider}){'  [batch]' if est.batch else ''}")
    print(f"prices     as of {est.as_of or 'unknown'} ({est.source})")
    if dataset is not None:
        c = dataset.count
        print(f"rows       {c.rows:,} counted, {c.bad_rows:,} bad, max {c.max_row_tokens:,} tokens")
    rows = [
        ("input", u.uncached_input_tokens, est.input_cost),
        ("cache read", u.cache_read_tokens, est.cache_read_cost),
        ("cache write", u.cache_write_tokens, est.cache_write_cost),
        ("output", u.output_tokens, est.output_cost),
    ]
    for label, n, cost in rows:
        if n or label in ("input", "output"):
            print(f"{label:<10} {n:>14,} tokens  {_money(cost)}")
    tier = "  (long-context prices)" if est.long_context else ""
    print(f"total      {_money(est.total_cost)} {est.currency}{tier}")
    reason = est.reason if est.exact else est.reason.replace("approximate:", "APPROXIMATE:", 1)
    print(f"count      {reason}")
    for warning in est.warnings:
        print(f"warning    {warning}", file=sys.stderr)
    if dataset is not None and dataset.count.bad_rows:
        shown = dataset.count.bad_samples[:10]
        print(f"bad rows   {dataset.count.bad_rows:,} (first {len(shown)}):", file=sys.stderr)
        for bad in shown:
            print(f"  {bad}", file=sys.stderr)
    return 0
