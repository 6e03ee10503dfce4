"""``tokenmill bench``: compare tokenmill with every installed peer on this machine.

``--threads both`` (the full mode's default) runs each thread mode in its own child process:
libraries size their thread pools once per process, and the single-thread mode pins the process
to one CPU before anything is imported.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="small workloads; the whole run takes under a minute"
    )
    parser.add_argument(
        "--threads",
        default=None,
        metavar="1|N|both",
        help="1 = pinned single thread, N = that many threads, both = 1 and every CPU "
        "(default: both, or 1 with --quick)",
    )
    parser.add_argument(
        "--only",
        choices=("sampling", "tokenization", "firstpass", "streaming", "decode", "formats"),
        help="run one suite only",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument("--markdown", metavar="FILE", help="also write the tables as Markdown")


def _thread_modes(spec: str | None, quick: bool) -> list[int]:
    from tokenmill.bench.harness import available_cpus

    n_cpus = len(available_cpus())
    if spec is None:
        spec = "1" if quick else "both"
    if spec == "both":
        return [1, n_cpus] if n_cpus > 1 else [1]
    try:
        n = int(spec)
    except ValueError:
        raise ValueError(
            f"--threads must be 1, a number of threads or 'both', not {spec!r}"
        ) from None
    if n < 1:
        raise ValueError(f"--threads must be >= 1, not {n}")
    return [n]


def _child(args: argparse.Namespace, threads: int) -> str:
    from tokenmill.bench.harness import thread_env

    cmd = [sys.executable, "-m", "tokenmill", "bench", "--json", "--threads", str(threads)]
    if args.quick:
        cmd.append("--quick")
    if args.only:
        cmd += ["--only", args.only]
    print(f"tokenmill bench: running the {threads}-thread mode ...", file=sys.stderr)
    proc = subprocess.run(
        cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, **thread_env(threads)}
    )
    if proc.returncode != 0:
        raise OSError(f"the {threads}-thread bench process failed (exit {proc.returncode})")
    return proc.stdout


def run(args: argparse.Namespace) -> int:
    import tokenmill.bench as bench
    from tokenmill.bench import render

    modes = _thread_modes(args.threads, args.quick)
    if len(modes) == 1:
        results = bench.run(bench.BenchConfig(quick=args.quick, threads=modes[0], only=args.only))
    else:
        results = bench.merge([render.from_json(_child(args, t)) for t in modes])
    if args.markdown:
        Path(args.markdown).write_text(render.render(results, markdown=True), encoding="utf-8")
    if args.json:
        print(render.to_json(results))
    else:
        print(render.render(results))
    return 0
