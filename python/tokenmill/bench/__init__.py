"""``tokenmill bench``: tokenmill against every installed peer, on this machine, exactness included.

``run(config)`` runs one thread mode in this process and returns ``Results``; ``render`` turns
results into a terminal table, Markdown or JSON. The CLI (``tokenmill.commands.bench``) runs
``--threads both`` as two child processes, because peers size their thread pools once per process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tokenmill.bench.harness import BenchConfig, Row, Skip, Timing, machine_info, thread_mode

__all__ = ["BenchConfig", "Results", "Row", "Skip", "Timing", "merge", "run"]

SUITES = ("sampling", "tokenization", "firstpass", "streaming", "decode", "formats")


@dataclass(frozen=True)
class Results:
    machine: dict[str, Any]
    mode: dict[str, Any]
    rows: tuple[Row, ...]
    skipped: tuple[Skip, ...]
    corpora: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def run(config: BenchConfig) -> Results:
    """Run the selected suites in this process with ``config.threads`` threads."""
    if config.only is not None and config.only not in SUITES:
        raise ValueError(f"--only must be one of {', '.join(SUITES)}, not {config.only!r}")
    if config.threads < 1:
        raise ValueError(f"threads must be >= 1, not {config.threads}")
    start = time.perf_counter()
    rows: list[Row] = []
    skips: list[Skip] = []
    sources: dict[str, str] = {}
    with thread_mode(config.threads):
        if config.only in (None, "sampling"):
            from tokenmill.bench import sampling

            r, s = sampling.run(config)
            rows += r
            skips += s
        if config.only in (None, "tokenization"):
            from tokenmill.bench import tokenization

            r, s, sources = tokenization.run(config)
            rows += r
            skips += s
        if config.only in (None, "firstpass"):
            from tokenmill.bench import firstpass

            r, s, first_sources = firstpass.run(config)
            rows += r
            skips += s
            sources = {**sources, **first_sources}
        if config.only in (None, "streaming"):
            from tokenmill.bench import streaming

            r, s = streaming.run(config)
            rows += r
            skips += s
        if config.only in (None, "decode"):
            from tokenmill.bench import decode

            r, s = decode.run(config)
            rows += r
            skips += s
        if config.only in (None, "formats") and config.threads == 1:
            from tokenmill.bench import formats

            r, s = formats.run(config)
            rows += r
            skips += s
    mode = {"quick": config.quick, "threads": [config.threads], "only": config.only}
    return Results(
        machine_info(), mode, tuple(rows), tuple(skips), sources, time.perf_counter() - start
    )


def merge(parts: list[Results]) -> Results:
    """One ``Results`` from several thread modes' (same machine, same suites)."""
    if not parts:
        raise ValueError("nothing to merge")
    threads: list[int] = []
    skipped: list[Skip] = []
    corpora: dict[str, str] = {}
    for p in parts:
        threads += p.mode["threads"]
        skipped += [s for s in p.skipped if s not in skipped]
        corpora.update(p.corpora)
    mode = {**parts[0].mode, "threads": threads}
    # keep each (suite, encoding, workload, operation) group together, thread modes side by side
    flat = [r for p in parts for r in p.rows]
    first: dict[tuple[str, str, str, str], int] = {}
    for i, r in enumerate(flat):
        first.setdefault((r.suite, r.encoding, r.workload, r.operation), i)
    rows = tuple(
        sorted(
            flat, key=lambda r: (first[(r.suite, r.encoding, r.workload, r.operation)], r.threads)
        )
    )
    return Results(
        parts[0].machine, mode, rows, tuple(skipped), corpora, sum(p.seconds for p in parts)
    )
