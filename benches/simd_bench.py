"""Bench: the sampling kernels on every ISA this CPU runs, against a read pass and the copy floor.

Run: ``python -m benches.simd_bench [--shape 64,128256] [--rounds 15] [--threads 1]``.

* One child process per ISA, forced with ``TOKENMILL_SIMD`` (the kernel table is chosen once per
  process); ISAs the CPU lacks are skipped.
* Input: float32 logits ``N(0, 1) * 3`` (fixed seed), C-contiguous.
* In each child, every round times, one after another: the read pass ``np.max(x, axis=1)``, the
  copy floor ``np.copyto(dst, x)`` into a preallocated array, ``tm.softmax(x, out=buf)``,
  temperature 0.7 + top-p 0.9 + sample, and plain temperature 0.7 sampling (no filter). Each
  operation's ratio is taken against the read pass (or the copy) of the same round; the figure
  is the median over rounds, so drift of a shared machine cancels out of it. The fastest round of
  each operation, and the ratios of those, are printed below it: on a machine shared with other
  work they show what the kernels do when nothing else runs.
* Targets: top-p <= 3x the read pass, softmax <= 1.5x the copy, plain sampling <= 2x the read pass.

Speed lives here, never in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

ISAS = ("avx512", "avx2", "neon", "scalar")
TARGETS = {
    "top-p 0.9": ("read", 3.0),
    "softmax": ("copy", 1.5),
    "log_softmax": ("copy", 1.5),
    "plain T=0.7": ("read", 2.0),
}


def child(shape: tuple[int, int], rounds: int, threads: int, cpu: bool) -> dict[str, Any]:
    import numpy as np

    import tokenmill as tm

    tm.set_num_threads(threads)
    x = (np.random.default_rng(0).standard_normal(shape, dtype=np.float32) * 3).astype(np.float32)
    dst = np.empty_like(x)
    buf = np.empty_like(x)
    ops: dict[str, Callable[[], Any]] = {
        "read": lambda: np.max(x, axis=1),
        "copy": lambda: np.copyto(dst, x),
        "softmax": lambda: tm.softmax(x, out=buf),
        "log_softmax": lambda: tm.log_softmax(x, out=buf),
        "top-p 0.9": lambda: tm.sample(x, temperature=0.7, top_p=0.9, seed=1),
        "plain T=0.7": lambda: tm.sample(x, temperature=0.7, seed=1),
    }
    for f in ops.values():  # warm-up: page in buffers, build scratch
        f()
    times: dict[str, list[float]] = {k: [] for k in ops}
    clock = time.process_time if cpu else time.perf_counter
    for _ in range(rounds):
        for name, f in ops.items():
            t0 = clock()
            f()
            times[name].append(clock() - t0)
    ratios: dict[str, float] = {}
    for name, (ref, _) in TARGETS.items():
        r = [a / b for a, b in zip(times[name], times[ref], strict=True)]
        ratios[name] = float(np.median(r))
    ratios["copy / read"] = float(
        np.median([a / b for a, b in zip(times["copy"], times["read"], strict=True)])
    )
    ms = {k: 1e3 * float(np.median(v)) for k, v in times.items()}
    best = {k: 1e3 * min(v) for k, v in times.items()}
    return {"simd": tm.simd_level(), "ratios": ratios, "ms": ms, "best_ms": best}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="64,128256")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--isa", action="append", choices=ISAS, help="only these ISAs (repeatable)")
    ap.add_argument(
        "--cpu",
        action="store_true",
        help="time process CPU seconds instead of wall time (on a machine whose cores are "
        "oversubscribed, this drops the time the process waits for a core; 1 thread only)",
    )
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    b, v = (int(s) for s in args.shape.split(","))
    if args.child:
        print(json.dumps(child((b, v), args.rounds, args.threads, args.cpu)))
        return 0
    clock = "process CPU time" if args.cpu else "wall time"
    print(f"[{b}, {v}] float32, {args.threads} thread(s), median of {args.rounds} rounds, {clock}")
    print(f"{'ISA':<8} {'read ms':>8} {'copy/read':>9} " + " ".join(f"{k:>22}" for k in TARGETS))
    for isa in args.isa or ISAS:
        env = {**os.environ, "TOKENMILL_SIMD": isa}
        cmd = [sys.executable, "-m", "benches.simd_bench", "--child", "--shape", args.shape]
        cmd += ["--rounds", str(args.rounds), "--threads", str(args.threads)]
        cmd += ["--cpu"] if args.cpu else []
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        res = json.loads(out.stdout)
        if res["simd"] != isa:
            continue  # not usable here (the child fell back)
        cells = []
        for name, (ref, target) in TARGETS.items():
            r = res["ratios"][name]
            mark = "ok" if r <= target else "MISS"
            cells.append(f"{r:5.2f}x {ref} (<={target}) {mark:>4}")
        print(
            f"{isa:<8} {res['ms']['read']:8.2f} {res['ratios']['copy / read']:8.2f}x "
            + " ".join(f"{c:>22}" for c in cells)
        )
        print("  median ms: " + ", ".join(f"{k} {v:.2f}" for k, v in res["ms"].items()))
        best = res["best_ms"]
        print(
            "  fastest round ms: "
            + ", ".join(f"{k} {v:.2f}" for k, v in best.items())
            + " | ratios of those: "
            + ", ".join(f"{k} {best[k] / best[ref]:.2f}x {ref}" for k, (ref, _) in TARGETS.items())
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
