"""``tokenmill report``: how many more tokens the same sentences take per language.

Parses arguments, calls :func:`tokenmill.report.token_length_report`, prints or writes the result.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenmill.commands._engine import add_engine_arguments

if TYPE_CHECKING:
    from tokenmill.report.model import Report

FORMATS = ("table", "markdown", "csv", "json", "html")
_SUFFIX = {"table": "txt", "markdown": "md", "csv": "csv", "json": "json", "html": "html"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Measure tokens per sentence and the premium against a pivot language (English by "
        "default) for every language of a parallel corpus and every tokenizer. Without --corpus, "
        "a built-in sample of 40 everyday sentences in 31 languages is used."
    )
    parser.add_argument(
        "--corpus",
        metavar="PATH",
        help="FLORES-200 directory (dev/, devtest/), MASSIVE directory or .jsonl, or a "
        ".jsonl/.csv/.tsv/.parquet file with lang, id, text columns (default: built-in sample)",
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="table", help="output format (default: table)"
    )
    parser.add_argument(
        "--tokenizer",
        metavar="NAME_OR_PATH",
        nargs="+",
        action="extend",
        help="bundled encoding name or .tiktoken / tokenizer.json path; repeatable "
        "(default: cl100k_base o200k_base)",
    )
    parser.add_argument("--model", metavar="M", help="price the content at this model's rates")
    parser.add_argument(
        "--split",
        default=None,
        help="FLORES split (dev, devtest) or MASSIVE partition (train, dev, test); default dev",
    )
    parser.add_argument(
        "--languages",
        metavar="CODE",
        nargs="+",
        help="only these languages (FLORES codes such as hin_Deva; the pivot is always kept)",
    )
    parser.add_argument("--pivot", default="eng_Latn", help="pivot language (default: eng_Latn)")
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="write every format and the plots (SVG and PNG) into DIR (report.*)",
    )
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="write the premium dot plot to FILE (.png, .svg or .pdf), the per-script summary "
        "beside it (FILE-scripts) and, with two tokenizers or more, their scatter (FILE-scatter)",
    )
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress", dest="progress", action="store_true", default=None, help="force the bar on"
    )
    progress.add_argument(
        "--no-progress", dest="progress", action="store_false", help="never show a progress bar"
    )
    add_engine_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from tokenmill.report.model import DEFAULT_TOKENIZERS, token_length_report
    from tokenmill.report.render import render, render_html

    if args.plot and importlib.util.find_spec("matplotlib") is None:
        # fail before the (possibly long) counting rather than after it
        print(
            "tokenmill report: error: --plot needs matplotlib: pip install 'tokenmill[report]'",
            file=sys.stderr,
        )
        return 2
    try:
        report = token_length_report(
            corpus=args.corpus,
            tokenizers=tuple(args.tokenizer or DEFAULT_TOKENIZERS),
            pivot=args.pivot,
            model=args.model,
            languages=args.languages,
            split=args.split,
            progress=args.progress,
            engine=args.engine,
            address=args.address,
        )
        with contextlib.ExitStack() as stack:
            # Each figure is drawn once and saved in every format asked for.
            figures = None
            wants_figures = args.plot or args.out or args.format == "html"
            if wants_figures and importlib.util.find_spec("matplotlib") is not None:
                from tokenmill.report.plot import drawn

                figures = stack.enter_context(drawn(report))
            svgs = None
            if figures is not None and (args.out or args.format == "html"):
                from tokenmill.report.plot import svg_figures

                svgs = svg_figures(report, figures)
            if args.plot:
                from tokenmill.report.plot import write_plots

                write_plots(report, args.plot, figures=figures)
            if args.out:
                _write_out(report, Path(args.out), figures, svgs)
            text = render_html(report, svgs) if args.format == "html" else None
    except ImportError as exc:
        print(f"tokenmill report: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text if text is not None else render(report, args.format))
    return 0


def _write_out(
    report: Report, out: Path, figures: Mapping[str, Any] | None, svgs: Mapping[str, str] | None
) -> None:
    """Every output file in ``out``, all or none (written aside, moved into place once every one
    succeeded)."""
    from tokenmill._files import write_together
    from tokenmill.report.render import render, render_html

    def plots(staging: Path) -> list[Path]:
        if figures is None:
            print(
                "tokenmill report: plots skipped: they need matplotlib: "
                "pip install 'tokenmill[report]'",
                file=sys.stderr,
            )
            return []
        from tokenmill.report.plot import write_plots

        return [
            p
            for suffix in (".svg", ".png")
            for p in write_plots(report, staging / f"report{suffix}", figures=figures)
        ]

    def tables(staging: Path) -> list[Path]:
        paths = []
        for fmt in FORMATS:
            path = staging / f"report.{_SUFFIX[fmt]}"
            text = render_html(report, svgs) if fmt == "html" else render(report, fmt)
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        return paths

    written = write_together(out, [plots, tables])
    print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
