"""Bench: worst-case pieces and uncached engine speed, tokenmill vs quicktok-v1, side by side.

Run: ``python -m benches.backtrack_bench [--sizes 10000,100000,1000000,10000000] [--repeat 5]``.

* Worst case: one long piece, ``'a' * N`` and ``N`` random base64 characters (fixed
  seed), for ``N`` in ``--sizes``; count and encode; process CPU time, the minimum of
  ``--repeat`` runs (the machine may be shared). The growth column is time(N) / time(N / 10)
  (the target is at most 12x). Tokens are checked against quicktok (and tiktoken up to 1M).
* Engine speed: count throughput (MB/s) on the bench corpora (``tokenmill.bench.corpora``:
  English docstrings and multilingual gettext strings, ~64 KB documents) with the piece cache
  off, so every piece runs through the merge engines; quicktok beside it for scale. Run first
  in a fresh process, it also reports what building the backtracking tables costs.

Speed lives here, never in tests.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

import tokenmill
from tokenmill.bench import corpora


def cpu_min(repeat: int, fn: Callable[..., Any], *args: Any) -> float:
    """Minimum process CPU time of ``repeat`` calls of ``fn(*args)``, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn(*args)
        best = min(best, time.process_time() - t)
    return best


def count_all(count: Callable[[str], int], docs: Sequence[str]) -> int:
    """Total count over ``docs``, one call per document."""
    return sum(count(d) for d in docs)


def worst_case(encoding: str, sizes: Sequence[int], repeat: int) -> None:
    import quicktok  # type: ignore[import-not-found,import-untyped,unused-ignore]

    tm = tokenmill.get_encoding(encoding)
    qt = quicktok.get_encoding(encoding)
    tk: Any = None
    try:
        from tokenmill.bench.tokenization import tiktoken_encoding

        tk = tiktoken_encoding(encoding)
    except (ImportError, LookupError):
        pass
    tm.count("a" * 100)  # build the lazy tables outside the timings
    print(f"\n{encoding}: one long piece, ms of CPU (min of {repeat}); growth = t(N) / t(N/10)")
    print(
        f"{'text':8} {'N':>9} {'op':6} {'tokenmill':>10} {'tm nocache':>10} {'quicktok':>10}"
        f" {'tm/qt':>6} {'growth':>7} {'nocache growth':>14}"
    )
    for kind in ("a", "base64"):
        prev: dict[str, float] = {}
        prev_cold: dict[str, float] = {}
        for n in sizes:
            text = "a" * n if kind == "a" else corpora.adversarial("base64", n)
            want = qt.encode_ordinary(text)
            got = tm.encode_ordinary(text)
            if got != want:
                print(f"  MISMATCH vs quicktok: {kind} N={n}")
            if tk is not None and n <= 1_000_000 and tk.encode_ordinary(text) != got:
                print(f"  MISMATCH vs tiktoken: {kind} N={n}")
            reps = max(1, repeat if n <= 1_000_000 else repeat // 2)
            for op in ("count", "encode"):
                run = tm.count if op == "count" else tm.encode_ordinary
                peer = qt.count if op == "count" else qt.encode_ordinary
                t_tm = cpu_min(reps, run, text)
                tokenmill.set_piece_cache(False)
                try:
                    t_cold = cpu_min(reps, run, text)
                finally:
                    tokenmill.set_piece_cache(True)
                t_qt = cpu_min(reps, peer, text)
                growth = f"{t_tm / prev[op]:.1f}x" if op in prev else ""
                growth_cold = f"{t_cold / prev_cold[op]:.1f}x" if op in prev_cold else ""
                prev[op] = t_tm
                prev_cold[op] = t_cold
                print(
                    f"{kind:8} {n:>9} {op:6} {t_tm * 1e3:>10.2f} {t_cold * 1e3:>10.2f}"
                    f" {t_qt * 1e3:>10.2f} {t_tm / t_qt:>6.2f} {growth:>7} {growth_cold:>14}"
                )


def engine_speed(encoding: str, limit: int, repeat: int) -> None:
    """Count MB/s with the piece cache off; reports the cost of building the lazy tables."""
    import quicktok

    tm = tokenmill.get_encoding(encoding)
    qt = quicktok.get_encoding(encoding)
    texts = [
        ("english", corpora.english(limit).docs),
        ("multilingual", corpora.multilingual(limit).docs),
    ]
    t = time.process_time()
    tm.count("a" * 100)
    build_ms = (time.process_time() - t) * 1e3
    print(f"\n{encoding}: first piece over 64 bytes (builds the tables): {build_ms:.0f} ms CPU")
    print(f"{encoding}: count MB/s, piece cache off (min of {repeat}, interleaved)")
    tokenmill.set_piece_cache(False)
    try:
        for name, docs in texts:
            mb = sum(len(d.encode("utf-8")) for d in docs) / 1e6
            t_tm = t_qt = float("inf")
            for _ in range(repeat):
                t_tm = min(t_tm, cpu_min(1, count_all, tm.count, docs))
                t_qt = min(t_qt, cpu_min(1, count_all, qt.count, docs))
            rates = f"tokenmill {mb / t_tm:7.1f}  quicktok {mb / t_qt:7.1f}"
            print(f"  {name:13} {mb:5.1f} MB  {rates}")
    finally:
        tokenmill.set_piece_cache(True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000,10000000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--encodings", default="cl100k_base,o200k_base")
    parser.add_argument("--corpus-mb", type=float, default=4.0)
    parser.add_argument("--skip-worst", action="store_true")
    parser.add_argument("--skip-engine", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    for encoding in args.encodings.split(","):
        if not args.skip_engine:
            engine_speed(encoding, int(args.corpus_mb * 1e6), args.repeat)
        if not args.skip_worst:
            worst_case(encoding, sizes, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
