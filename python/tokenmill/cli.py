"""Command-line entry point: ``tokenmill <command> ...``.

The CLI only parses arguments and prints. Each subcommand lives in ``tokenmill.commands.<name>``,
a module with ``configure(parser)`` (add the arguments) and ``run(args) -> int`` (do the work).
They import heavy dependencies inside ``run`` so that ``tokenmill --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tokenmill._native import __version__

# subcommand -> (module, one-line help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "report": (
        "tokenmill.commands.report",
        "tokens per sentence and premium vs English per language",
    ),
    "count": (
        "tokenmill.commands.count",
        "exact token counts of a dataset per tokenizer and language (local or Ray)",
    ),
    "cost": ("tokenmill.commands.cost", "price a prompt, conversation or dataset on a model"),
    "models": ("tokenmill.commands.models", "list the price catalogue (prices, as-of date)"),
    "usage": ("tokenmill.commands.usage", "price JSONL logs of provider responses"),
    "scaling": ("tokenmill.commands.scaling", "optimal model size, training cost, params, memory"),
    "bench": ("tokenmill.commands.bench", "compare speed and exactness with installed peers"),
    "info": ("tokenmill.commands.info", "show the version, SIMD level and what is installed"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokenmill",
        description="Fast, exact token tooling for LLMs: sampling, tokenization, token economics.",
    )
    parser.add_argument("--version", action="version", version=f"tokenmill {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.configure(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args._run(args)
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error of ours.
        return 1
    except (ValueError, OSError, KeyError) as exc:
        print(f"tokenmill {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
