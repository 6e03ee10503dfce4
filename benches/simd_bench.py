"""Bench: the sampling kernels on every ISA this CPU runs, against a read pass and the copy floor.

Run: ``python -m benches.simd_bench [--shape 64,128256] [--rounds 15] [--threads 1[,2]] [--isa
avx512] [--cpu]``.

* One child process per ISA, forced with ``TOKENMILL_SIMD`` (the kernel table is chosen once per
  process); ISAs the CPU lacks are skipped.
* Input: float32 logits ``N(0, 1) * 3`` (fixed seed), C-contiguous.
* In each child, every round times, one after another: the read pass ``np.max(x, axis=1)``, the
  copy floor ``np.copyto(dst, x)`` into a preallocated array, ``tm.softmax(x, out=buf)``,
  ``tm.log_softmax(x, out=buf)``, temperature 0.7 + top-p 0.9 + sample, and plain temperature
  0.7 sampling (no filter). Each operation's ratio is taken against the read pass (or the copy)
  of the same round; the figure is the median over rounds, so drift of a shared machine cancels
  out of it. The fastest round of each operation, and the ratios of those, are printed below it:
  on a machine shared with other work they show what the kernels do when nothing else runs.
* ``--threads 1,2``: every round runs each operation at each thread count (tokenmill via
  ``set_num_threads``; the read pass and the copy split by rows over that many Python threads,
  numpy releasing the GIL), and the median per-round speed-up of each is printed: the read pass's
  own speed-up is what the memory system allows the kernels.
* ``--cpu``: process CPU time instead of wall time (one thread only). On a machine whose cores
  are oversubscribed, wall time includes waiting for a core; CPU time does not (cache sharing
  with the other work still shows).
* Targets: top-p <= 3x the read pass, softmax and log_softmax <= 1.5x the copy, plain sampling
  <= 2x the read pass.

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


def child(shape: tuple[int, int], rounds: int, threads: list[int], cpu: bool) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    import tokenmill as tm

    x = (np.random.default_rng(0).standard_normal(shape, dtype=np.float32) * 3).astype(np.float32)
    dst = np.empty_like(x)
    buf = np.empty_like(x)
    pools = {t: ThreadPoolExecutor(t) for t in threads if t > 1}

    def split(fn: Callable[[int, int], Any], t: int) -> Callable[[], Any]:
        """``fn`` over ``t`` row ranges on ``t`` threads (numpy releases the GIL in these loops)."""
        if t == 1:
            return lambda: fn(0, shape[0])
        cuts = [shape[0] * i // t for i in range(t + 1)]
        return lambda: list(pools[t].map(fn, cuts[:-1], cuts[1:]))

    def ops(t: int) -> dict[str, Callable[[], Any]]:
        return {
            "read": split(lambda a, b: np.max(x[a:b], axis=1), t),
            "copy": split(lambda a, b: np.copyto(dst[a:b], x[a:b]), t),
            "softmax": lambda: tm.softmax(x, out=buf),
            "log_softmax": lambda: tm.log_softmax(x, out=buf),
            "top-p 0.9": lambda: tm.sample(x, temperature=0.7, top_p=0.9, seed=1),
            "plain T=0.7": lambda: tm.sample(x, temperature=0.7, seed=1),
        }

    per = {t: ops(t) for t in threads}
    for t in threads:  # warm-up: page in buffers, build scratch and pools
        tm.set_num_threads(t)
        for f in per[t].values():
            f()
    times: dict[int, dict[str, list[float]]] = {t: {k: [] for k in per[t]} for t in threads}
    clock = time.process_time if cpu else time.perf_counter
    for _ in range(rounds):
        for t in threads:
            tm.set_num_threads(t)
            for name, f in per[t].items():
                t0 = clock()
                f()
                times[t][name].append(clock() - t0)
    out: dict[str, Any] = {"simd": tm.simd_level(), "threads": {}}
    for t in threads:
        ts = times[t]
        ratios: dict[str, float] = {}
        for name, (ref, _) in TARGETS.items():
            r = [a / b for a, b in zip(ts[name], ts[ref], strict=True)]
            ratios[name] = float(np.median(r))
        ratios["copy / read"] = float(
            np.median([a / b for a, b in zip(ts["copy"], ts["read"], strict=True)])
        )
        ms = {k: 1e3 * float(np.median(v)) for k, v in ts.items()}
        best = {k: 1e3 * min(v) for k, v in ts.items()}
        out["threads"][str(t)] = {"ratios": ratios, "ms": ms, "best_ms": best}
    if len(threads) > 1:
        # Speed-up of each operation from the first thread count to each other, per round
        # (the rounds interleave the thread counts, so drift cancels out of it).
        t1 = threads[0]
        out["speedup"] = {
            str(t): {
                k: float(np.median([a / b for a, b in zip(times[t1][k], times[t][k], strict=True)]))
                for k in times[t]
            }
            for t in threads[1:]
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="64,128256")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument(
        "--threads",
        default="1",
        help="thread counts, comma-separated (e.g. 1,2: every round runs each; speed-ups printed)",
    )
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
    threads = [int(t) for t in args.threads.split(",")]
    if args.cpu and threads != [1]:
        ap.error("--cpu times one thread only (process CPU time adds up every thread)")
    if args.child:
        print(json.dumps(child((b, v), args.rounds, threads, args.cpu)))
        return 0
    clock = "process CPU time" if args.cpu else "wall time"
    print(f"[{b}, {v}] float32, {args.threads} thread(s), median of {args.rounds} rounds, {clock}")
    print(f"{'ISA':<8} {'read ms':>8} {'copy/read':>9} " + " ".join(f"{k:>22}" for k in TARGETS))
    for isa in args.isa or ISAS:
        env = {**os.environ, "TOKENMILL_SIMD": isa}
        cmd = [sys.executable, "-m", "benches.simd_bench", "--child", "--shape", args.shape]
        cmd += ["--rounds", str(args.rounds), "--threads", args.threads]
        cmd += ["--cpu"] if args.cpu else []
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        res = json.loads(out.stdout)
        if res["simd"] != isa:
            continue  # not usable here (the child fell back)
        for t in threads:
            one = res["threads"][str(t)]
            cells = []
            for name, (ref, target) in TARGETS.items():
                r = one["ratios"][name]
                mark = "ok" if r <= target else "MISS"
                cells.append(f"{r:5.2f}x {ref} (<={target}) {mark:>4}")
            label = isa if len(threads) == 1 else f"{isa} {t}t"
            print(
                f"{label:<8} {one['ms']['read']:8.2f} {one['ratios']['copy / read']:8.2f}x "
                + " ".join(f"{c:>22}" for c in cells)
            )
            print("  median ms: " + ", ".join(f"{k} {v:.2f}" for k, v in one["ms"].items()))
            best = one["best_ms"]
            print(
                "  fastest round ms: "
                + ", ".join(f"{k} {v:.2f}" for k, v in best.items())
                + " | ratios of those: "
                + ", ".join(
                    f"{k} {best[k] / best[ref]:.2f}x {ref}" for k, (ref, _) in TARGETS.items()
                )
            )
        for t, sp in res.get("speedup", {}).items():
            print(
                f"  {t} threads vs {threads[0]}, median per-round speed-up: "
                + ", ".join(f"{k} {v:.2f}x" for k, v in sp.items())
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
