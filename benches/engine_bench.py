"""Bench: `tokenmill count` on ~100 MB of generated Parquet, local vs Ray with 1 and 2 workers.

Run: ``python -m benches.engine_bench [--mb 100] [--dir PATH] [--repeat 2]`` (needs
``tokenmill[ray]``).

The dataset is built once from the bench corpora (``tokenmill.bench.corpora``: English prose,
source code and multilingual text, documents of ~4-64 KB), repeated until ``--mb`` MB of text, as
16 Parquet files with a ``lang`` column. Each configuration counts it with ``cl100k_base`` and
``--lang-column``; the figure is the best wall time of ``--repeat`` runs (the machine may be
shared). A Ray run includes starting the actor pool (workers import tokenmill and load the
tokenizer) but not starting the cluster, which happens once before. Every run's merged result is
checked to be identical to the local one.

Printed: documents/s and text MB/s (UTF-8 bytes of the counted texts) per configuration, the
per-worker throughput (Ray, 1 worker of 1 thread), and the arithmetic for 1 TB on 100 nodes.
Speed lives here, never in tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

import tokenmill
from tokenmill.bench import corpora
from tokenmill.dataset import count_tokens
from tokenmill.engines.ray import RayEngine

FILES = 16


def build_dataset(root: Path, mb: int) -> tuple[int, int]:
    """``mb`` MB of text as ``FILES`` Parquet files; returns (documents, text bytes)."""
    pools = [
        ("en", corpora.english(4 << 20, 16 << 10).docs),
        ("code", corpora.code(4 << 20, 64 << 10).docs),
        ("mul", corpora.multilingual(4 << 20, 4 << 10).docs),
    ]
    texts: list[str] = []
    langs: list[str] = []
    size = 0
    target = mb * 1_000_000
    while size < target:
        for lang, docs in pools:
            for d in docs:
                texts.append(d)
                langs.append(lang)
                size += len(d.encode("utf-8"))
                if size >= target:
                    break
            if size >= target:
                break
    root.mkdir(parents=True, exist_ok=True)
    per = -(-len(texts) // FILES)
    for k in range(FILES):
        part = slice(k * per, (k + 1) * per)
        table = pa.table({"lang": langs[part], "text": texts[part]})
        pq.write_table(table, root / f"part-{k:03d}.parquet", row_group_size=2048)
    return len(texts), size


def timed(repeat: int, fn: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=100, help="MB of text to generate (default 100)")
    ap.add_argument("--dir", type=Path, help="where to write the Parquet files (default: tmp)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per configuration (best kept)")
    args = ap.parse_args()

    import ray

    tmp = None
    root = args.dir
    if root is None:
        tmp = tempfile.TemporaryDirectory(prefix="tokenmill-engine-bench-")
        root = Path(tmp.name)
    docs, nbytes = build_dataset(root, args.mb)
    cpus = os.cpu_count() or 1
    print(f"machine: {platform.processor() or platform.machine()}, {cpus} CPUs (shared, noisy)")
    print(f"dataset: {docs:,} documents, {nbytes / 1e6:.1f} MB of text, {FILES} Parquet files")
    t = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    print(f"ray.init: {time.perf_counter() - t:.1f} s (once, not in the figures)")

    def run(engine: Any, path: Path = root) -> Any:
        return count_tokens(path, "cl100k_base", lang_column="lang", engine=engine)

    tiny = root / "tiny" / "one.parquet"  # a one-row dataset: the fixed cost of a run
    tiny.parent.mkdir(exist_ok=True)
    pq.write_table(pa.table({"lang": ["en"], "text": ["one document"]}), tiny)

    configs: list[tuple[str, Any, int]] = [
        ("local, 1 thread", "local", 1),
        (f"local, {cpus} threads", "local", cpus),
        ("ray, 1 worker x 1 thread", RayEngine(workers=1, threads=1), cpus),
        ("ray, 2 workers x 1 thread", RayEngine(workers=2, threads=1), cpus),
    ]
    reference = None
    rows = []
    for label, engine, threads in configs:
        tokenmill.set_num_threads(threads)
        secs, result = timed(args.repeat, lambda engine=engine: run(engine))
        fixed, _ = timed(args.repeat, lambda engine=engine: run(engine, tiny))
        if reference is None:
            reference = result.partial
        assert result.partial == reference, f"{label}: result differs from the local engine"
        total = result.row("cl100k_base")
        steady = total.bytes / max(secs - fixed, 1e-9) / 1e6
        rows.append((label, secs, fixed, total.documents / secs, total.bytes / secs / 1e6, steady))
    ray.shutdown()
    head = f"{'configuration':<28} {'seconds':>8} {'fixed s':>8} {'docs/s':>8} {'MB/s':>6}"
    print(f"\n{head} {'MB/s after start-up':>20}")
    for label, secs, fixed, dps, mbps, steady in rows:
        print(f"{label:<28} {secs:8.2f} {fixed:8.2f} {dps:8,.0f} {mbps:6.1f} {steady:20.1f}")
    print("fixed s: the same configuration on a one-row dataset (actor start, tokenizer load)")
    worker = rows[2][5]
    print(f"\nper worker (Ray, 1 worker x 1 thread, after start-up): {worker:.1f} MB/s of text")
    for per_node in (2, 32):
        hours = 1e6 / (100 * per_node * worker) / 3600
        print(
            f"1 TB on 100 nodes x {per_node} workers: 1e6 MB / (100 x {per_node} x {worker:.1f} "
            f"MB/s) = {hours * 60:.1f} min, if throughput scales linearly and storage keeps up"
        )
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
