"""``tokenmill count``: exact token counts of a dataset per tokenizer (and per language)."""

from __future__ import annotations

import argparse
import sys

from tokenmill.commands._engine import add_engine_arguments, add_progress_argument, progress

FORMATS = ("table", "json", "csv", "markdown")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Exact token counts of a dataset per tokenizer (and per language): documents, tokens, "
        "UTF-8 bytes, characters, tokens per byte and the distribution of tokens per document. "
        "DATASET is a .jsonl/.ndjson/.csv/.tsv/.parquet file, a directory or a glob of them, on "
        "local disk or any filesystem pyarrow supports (s3://bucket/prefix/*.parquet, gs://, "
        "hdfs://)."
    )
    parser.add_argument(
        "dataset", metavar="DATASET", nargs="+", help="file, directory, glob or URI"
    )
    parser.add_argument(
        "--tokenizer",
        metavar="NAME_OR_PATH",
        action="append",
        help="bundled encoding, OpenAI model name, .tiktoken or tokenizer.json path; repeatable "
        "(default: cl100k_base)",
    )
    parser.add_argument("--text-column", default="text", help="column of the text (default: text)")
    parser.add_argument("--lang-column", help="column of the language: counts per language too")
    parser.add_argument(
        "--on-error",
        choices=["skip", "fail"],
        default="skip",
        help="a malformed row: count the others and list it (skip, default) or stop (fail)",
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="table", help="output format (default: table)"
    )
    add_progress_argument(parser, "progress bar")
    add_engine_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from tokenmill.dataset.count import count_tokens
    from tokenmill.dataset.render import render_count

    show = progress(args)
    try:
        result = count_tokens(
            args.dataset,
            args.tokenizer or ["cl100k_base"],
            text_column=args.text_column,
            lang_column=args.lang_column,
            on_error=args.on_error,
            engine=args.engine,
            address=args.address,
            progress=show,
        )
    except ImportError as exc:
        print(f"tokenmill count: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(render_count(result, args.format))
    return 0
