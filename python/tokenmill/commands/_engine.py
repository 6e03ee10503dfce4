"""The options of the commands that count datasets: ``--engine`` / ``--address`` (``count``,
``report``, ``cost``) and ``--progress {auto,always,never}`` (``count``, ``cost``)."""

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


#: ``--progress`` choice -> the ``progress`` argument of the counting functions.
PROGRESS: dict[str, bool | None] = {"auto": None, "always": True, "never": False}


def add_progress_argument(parser: argparse.ArgumentParser, bar: str) -> None:
    """``--progress {auto,always,never}`` for the ``bar`` on stderr; read it with
    :func:`progress`."""
    parser.add_argument(
        "--progress",
        choices=list(PROGRESS),
        default="auto",
        help=f"{bar} on stderr (auto: when stderr is a terminal)",
    )


def progress(args: argparse.Namespace) -> bool | None:
    """The ``--progress`` choice: ``None`` (auto), ``True`` or ``False``."""
    return PROGRESS[args.progress]
