"""Timing harness shared by every bench suite.

Design notes
------------
* One measurement = ``warmup`` untimed calls, then ``reps`` timed calls with
  ``time.perf_counter``. The number of repetitions adapts to the cost of one call: as many as fit
  in ``budget_s`` seconds, clamped to ``[min_reps, max_reps]``. We report the median (the number
  to quote), the min (the least disturbed run) and the max (how noisy the machine was).
* Side by side: ``measure_interleaved`` times several libraries' calls in shared rounds (each
  round calls every one once), so drift of a shared machine hits them alike; the tokenization
  suite times every library of a row this way.
* Thread modes. ``pinned single thread`` means: this process is pinned to one CPU with
  ``os.sched_setaffinity``, ``tokenmill.set_num_threads(1)``, torch's intra-op threads = 1 and the
  OMP / MKL / OpenBLAS / rayon environment variables = 1 (those only take effect for libraries
  that are not yet imported, which is why ``tokenmill bench --threads both`` runs each mode in its
  own subprocess). ``multi-thread`` uses every CPU this process may run on.
* Nothing here asserts anything about speed: the suites compare ratios measured side by side in
  one run, which survive a loaded machine far better than absolute times.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

# Environment variables that size the thread pools of the libraries we compare against.
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "RAYON_NUM_THREADS",
    "RAYON_RS_NUM_CPUS",
    "TOKENMILL_NUM_THREADS",
)


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of one call: median, min and max over ``reps`` timed repetitions."""

    median_s: float
    min_s: float
    max_s: float
    reps: int


@dataclass(frozen=True)
class BenchConfig:
    """What to run. ``quick`` shrinks every workload so the whole bench takes under a minute.

    ``sampling_shapes`` / ``sizes`` / ``corpus_bytes`` override the mode's defaults (the test suite
    uses tiny ones).
    """

    quick: bool = False
    threads: int = 1
    only: str | None = None
    sampling_shapes: tuple[tuple[int, int], ...] | None = None
    sizes: tuple[int, ...] | None = None
    corpus_bytes: int | None = None
    load_reps: int | None = None
    budget_s: float | None = None

    @property
    def warmup(self) -> int:
        return 1

    @property
    def min_reps(self) -> int:
        return 3 if self.quick else 5

    @property
    def max_reps(self) -> int:
        return 15 if self.quick else 30

    @property
    def row_budget_s(self) -> float:
        if self.budget_s is not None:
            return self.budget_s
        return 0.1 if self.quick else 1.0


@dataclass(frozen=True)
class Row:
    """One line of a results table. ``ratio`` is relative to ``ratio_to`` (see the suite)."""

    suite: str
    operation: str
    workload: str
    library: str
    threads: int
    timing: Timing | None
    throughput: float | None = None
    throughput_unit: str = ""
    ratio: float | None = None
    ratio_to: str = ""
    exact: str = ""
    note: str = ""
    encoding: str = ""
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Skip:
    """A row or peer that was not run, and why."""

    suite: str
    what: str
    reason: str


def measure(
    fn: Callable[[], Any],
    *,
    warmup: int = 1,
    min_reps: int = 3,
    max_reps: int = 30,
    budget_s: float = 1.0,
) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then an adaptive number of timed ones.

    The first timed call sizes the repetition count: ``budget_s / t``, clamped to
    ``[min_reps, max_reps]``.
    """
    for _ in range(warmup):
        fn()
    times: list[float] = []
    t0 = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t0)
    reps = int(budget_s / times[0]) if times[0] > 0 else max_reps
    reps = max(min_reps, min(max_reps, reps))
    for _ in range(reps - 1):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return Timing(statistics.median(times), min(times), max(times), reps)


def measure_interleaved(
    fns: Sequence[Callable[[], Any]],
    *,
    min_reps: int = 3,
    max_reps: int = 30,
    budget_s: float = 1.0,
    clock: Callable[[], float] = time.perf_counter,
) -> list[Timing]:
    """Time several calls side by side: each round calls every ``fn`` once, in order.

    ``clock`` is wall time by default; ``time.thread_time`` suits calls that run entirely on the
    calling thread (it leaves out the time spent waiting for a core on a shared machine).

    Drift of a shared machine (another job starting, the VM's clock changing) then hits every
    ``fn`` alike, instead of whichever was timed in that stretch, so their ratios are steadier
    than those of back-to-back ``measure`` blocks. No warm-up here (callers have just made an
    untimed call of each ``fn``, their exactness check). The first round sizes the number of
    rounds: ``budget_s`` split over the ``fn``s, clamped to ``[min_reps, max_reps]``.
    """
    times: list[list[float]] = [[] for _ in fns]

    def one_round() -> None:
        for fn, ts in zip(fns, times, strict=True):
            t0 = clock()
            fn()
            ts.append(clock() - t0)

    one_round()
    per_round = sum(ts[0] for ts in times)
    rounds = int(budget_s * max(len(fns), 1) / per_round) if per_round > 0 else max_reps
    rounds = max(min_reps, min(max_reps, rounds))
    for _ in range(rounds - 1):
        one_round()
    return [Timing(statistics.median(ts), min(ts), max(ts), len(ts)) for ts in times]


def measure_with(
    config: BenchConfig, fn: Callable[[], Any], *, warmup: int | None = None, scale: float = 1.0
) -> Timing:
    """``measure`` with the repetition policy of ``config`` (``scale`` stretches the budget).

    Pass ``warmup=0`` when the caller has just made an untimed call itself (an exactness check).
    """
    return measure(
        fn,
        warmup=config.warmup if warmup is None else warmup,
        min_reps=config.min_reps,
        max_reps=config.max_reps,
        budget_s=config.row_budget_s * scale,
    )


def available_cpus() -> list[int]:
    """CPUs this process may run on, sorted."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


ALL_CPUS: list[int] = available_cpus()
"""The CPUs the bench process could run on when it started, before any thread mode pinned it:
children that must use more than one CPU are given these back."""


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables that size peers' pools to ``threads``, for a child process."""
    env = dict.fromkeys(THREAD_ENV_VARS, str(threads))
    env["TOKENIZERS_PARALLELISM"] = "true"
    return env


@contextlib.contextmanager
def thread_mode(threads: int) -> Iterator[None]:
    """Run the body with ``threads`` threads; ``threads == 1`` also pins the process to one CPU.

    Restores the affinity and tokenmill's thread count on exit.
    """
    from tokenmill import _native

    cpus = available_cpus()
    old_env = {k: os.environ.get(k) for k in (*THREAD_ENV_VARS, "TOKENIZERS_PARALLELISM")}
    old_threads = _native.get_num_threads()
    pinned = False
    os.environ.update(thread_env(threads))
    try:
        if threads == 1 and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {cpus[0]})
            pinned = True
        _native.set_num_threads(threads)
        torch = sys.modules.get("torch")
        old_torch = None
        if torch is not None:
            old_torch = torch.get_num_threads()
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            if torch is not None and old_torch is not None:
                torch.set_num_threads(old_torch)
    finally:
        _native.set_num_threads(old_threads)
        if pinned:
            os.sched_setaffinity(0, set(cpus))
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def machine_info() -> dict[str, Any]:
    """A short description of the machine and the software versions, for the results header."""
    import platform

    import numpy as np

    from tokenmill import _native

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "tokenmill": _native.__version__,
        "simd": _native.simd_level(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus_available": len(available_cpus()),
    }
