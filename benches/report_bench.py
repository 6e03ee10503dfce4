"""Bench: ``tokenmill report`` over N synthetic parallel sentences (default 1M) with 2 tokenizers.

Run: ``python -m benches.report_bench [--sentences 1000000] [--tokenizer NAME ...]``.

The corpus is the built-in sample repeated with fresh ids until it holds N sentences, spread over
its 31 languages, written once to a JSONL file; the timed part is the whole report from that file
(load, count with every tokenizer, statistics), as ``tokenmill report --corpus FILE`` runs it.
Speed lives here, never in tests. The target: 1M sentences, 2 tokenizers, under a minute
on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def write_synthetic_corpus(path: Path, n_sentences: int) -> int:
    """Write ``n_sentences`` rows (lang, id, text) cycling the built-in corpus; return bytes."""
    from tokenmill.report.corpus import load_corpus

    base = load_corpus()
    langs = list(base.languages.items())
    per_lang = -(-n_sentences // len(langs))
    written = 0
    size = 0
    with path.open("w", encoding="utf-8") as fh:
        for lang, lt in langs:
            k = len(lt.ids)
            for i in range(per_lang):
                if written == n_sentences:
                    break
                rec = {"lang": lang, "id": f"{lt.ids[i % k]}-{i // k}", "text": lt.texts[i % k]}
                line = json.dumps(rec, ensure_ascii=False) + "\n"
                fh.write(line)
                size += len(line.encode("utf-8"))
                written += 1
    return size


def benchmark_report(
    n_sentences: int = 1_000_000,
    tokenizers: Sequence[Any] = ("cl100k_base", "o200k_base"),
    *,
    workdir: str | Path | None = None,
) -> dict[str, Any]:
    """Time the report over ``n_sentences`` synthetic sentences; returns seconds and throughput."""
    import tokenmill
    from tokenmill.report.corpus import load_corpus
    from tokenmill.report.model import token_length_report

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "synthetic.jsonl"
        size = write_synthetic_corpus(path, n_sentences)
        c0 = time.process_time()
        t0 = time.perf_counter()
        corpus = load_corpus(path)
        t1 = time.perf_counter()
        c1 = time.process_time()
        report = token_length_report(corpus, tokenizers=tokenizers, progress=False)
        t2 = time.perf_counter()
        c2 = time.process_time()
    total_tokens = sum(r.total_tokens for r in report.entries)
    return {
        "sentences": n_sentences,
        "tokenizers": list(report.tokenizers),
        "corpus_mb": round(size / 1e6, 1),
        "load_s": round(t1 - t0, 2),
        "count_and_stats_s": round(t2 - t1, 2),
        "total_s": round(t2 - t0, 2),
        "sentences_per_s": round(n_sentences * len(report.tokenizers) / (t2 - t0)),
        # CPU seconds of this process (all threads): wall time on a busy shared machine says
        # little, CPU time says what the work costs.
        "load_cpu_s": round(c1 - c0, 2),
        "count_and_stats_cpu_s": round(c2 - c1, 2),
        "loadavg_1m_at_end": round(os.getloadavg()[0], 1),
        "tokens_counted": total_tokens,
        "threads": tokenmill.get_num_threads(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benches.report_bench", description=__doc__)
    parser.add_argument("--sentences", type=int, default=1_000_000)
    parser.add_argument("--tokenizer", nargs="+", default=["cl100k_base", "o200k_base"])
    args = parser.parse_args(argv)
    result = benchmark_report(args.sentences, args.tokenizer)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
