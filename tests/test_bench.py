"""The bench harness: it runs end to end on tiny workloads, its JSON has the promised fields, and
the references behind its exactness column are right. No timing is asserted anywhere."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tokenmill
from tokenmill import bench
from tokenmill.bench import corpora, firstpass, render, sampling, tokenization
from tokenmill.bench.harness import (
    BenchConfig,
    available_cpus,
    measure,
    measure_interleaved,
    thread_mode,
)
from tokenmill.commands.bench import _thread_modes

TINY = BenchConfig(
    quick=True,
    threads=1,
    sampling_shapes=((3, 1000),),
    sizes=(2000,),
    corpus_bytes=8192,
    load_reps=1,
    budget_s=0.0,
)
ROW_FIELDS = {
    "suite", "operation", "workload", "library", "threads", "timing", "throughput",
    "throughput_unit", "ratio", "ratio_to", "exact", "note", "encoding", "extra",
}  # fmt: skip


@pytest.fixture(scope="module")
def tiny_results() -> bench.Results:
    return bench.run(TINY)


def test_json_has_the_expected_fields(tiny_results: bench.Results) -> None:
    doc = json.loads(render.to_json(tiny_results))
    assert doc["schema"] == render.SCHEMA
    assert {"tokenmill", "simd", "python", "numpy", "cpu", "cpus_available"} <= set(doc["machine"])
    assert doc["mode"] == {"quick": True, "threads": [1], "only": None}
    assert doc["rows"], "no rows at all"
    for row in doc["rows"]:
        assert set(row) == ROW_FIELDS
        t = row["timing"]
        if t is not None:
            assert set(t) == {"median_s", "min_s", "max_s", "reps"}
            assert 0 <= t["min_s"] <= t["median_s"] <= t["max_s"]
            # load: one fresh process per repetition; first pass: one pass by definition
            want = {"load": TINY.load_reps, "firstpass": 1}.get(row["suite"], TINY.min_reps)
            assert t["reps"] >= want
    for skip in doc["skipped"]:
        assert set(skip) == {"suite", "what", "reason"} and skip["reason"]


def test_sampling_rows_cover_every_operation(tiny_results: bench.Results) -> None:
    rows = [r for r in tiny_results.rows if r.suite == "sampling"]
    floor = [r for r in rows if r.operation == "one read pass"]
    assert len(floor) == 1 and floor[0].ratio == 1.0 and floor[0].workload == "[3, 1000]"
    copy = [r for r in rows if r.operation == "copy floor"]
    assert len(copy) == 1 and copy[0].extra["× copy"] == 1.0
    numpy_ops = {r.operation for r in rows if r.library == "numpy"}
    assert numpy_ops == {op.name for op in sampling.OPS}
    for r in rows:
        assert r.ratio_to == "np.max (floor)" and r.ratio is not None and r.ratio > 0
        assert r.throughput_unit == "rows/s" and "GB/s" in r.extra and r.extra["× copy"] > 0
        if not r.library.endswith("(floor)"):
            # our own numpy peers must pass the exactness check they are held to
            assert not r.exact.startswith("WRONG"), r
    has_sampler = hasattr(tokenmill, "sample") and hasattr(tokenmill, "softmax")
    tm_ops = {r.operation for r in rows if r.library == "tokenmill"}
    assert tm_ops == ({op.name for op in sampling.OPS} if has_sampler else set())
    if not has_sampler:
        assert any(s.suite == "sampling" and "tokenmill" in s.what for s in tiny_results.skipped)
        return
    # Every other instruction set this CPU runs, forced in a child process, with its own rows.
    info = tokenmill._native.build_info()
    others = {str(i) for i in info["simd_usable"]} - {str(info["simd_chosen"])}  # type: ignore[union-attr]
    for isa in others:
        isa_rows = [r for r in rows if r.library == f"tokenmill [{isa}]"]
        assert {r.operation for r in isa_rows} == {op.name for op in sampling.OPS}, isa
        assert all(r.exact.startswith("exact") for r in isa_rows), isa_rows


def test_tokenization_rows_or_a_reason(tiny_results: bench.Results) -> None:
    rows = [r for r in tiny_results.rows if r.suite == "tokenization"]
    if not hasattr(tokenmill, "get_encoding"):
        assert not rows
        assert any("get_encoding" in s.reason for s in tiny_results.skipped)
        return
    ops = {(r.encoding, r.operation) for r in rows if r.library == "tokenmill"}
    for enc in tokenization.OPENAI_ENCODINGS:
        assert {(enc, "encode"), (enc, "count"), (enc, "count_batch")} <= ops
    workloads = {r.workload for r in rows}
    assert {"english", "multilingual", "code", "a*N N=2k", "base64 N=2k"} <= workloads
    for r in rows:
        assert r.throughput_unit == "MB/s" and r.throughput is not None and r.throughput > 0
        assert r.exact in ("reference", "exact", "unverified") or r.exact.startswith("WRONG")


def test_streaming_rows_check_every_stream_against_decode(tiny_results: bench.Results) -> None:
    rows = [r for r in tiny_results.rows if r.operation == "decode stream"]
    ours = {(r.encoding, r.workload) for r in rows if r.library == "tokenmill"}
    assert {("o200k_base", "batch 1"), ("o200k_base", "batch 256")} <= ours
    for r in rows:
        assert r.throughput_unit == "µs/token" and r.ratio_to == "tokenmill"
        assert r.exact == "yes", r  # every implementation's text is the one-shot decode
    assert "Streaming detokenization" in render.render(tiny_results)


def test_prompt_tail_rows_compare_with_tiktoken(tiny_results: bench.Results) -> None:
    pytest.importorskip("tiktoken")
    rows = [r for r in tiny_results.rows if r.operation == "encode_with_unstable"]
    assert {(r.encoding, r.library) for r in rows} == {
        (e, lib) for e in ("cl100k_base", "o200k_base") for lib in ("tokenmill", "tiktoken")
    }
    for r in rows:
        assert r.suite == "streaming" and r.throughput_unit == "µs/prompt", r
        assert r.exact == "yes", r  # stable tokens equal, completions the same set
    assert "Prompt tail" in render.render(tiny_results)


def test_json_round_trip_and_renderings(tiny_results: bench.Results) -> None:
    assert render.from_json(render.to_json(tiny_results)) == tiny_results
    text = render.render(tiny_results)
    assert "one read pass" in text and "× floor" in text
    md = render.render(tiny_results, markdown=True)
    assert "| shape | operation | library |" in md
    with pytest.raises(ValueError, match="schema"):
        render.from_json(json.dumps({"schema": "other"}))


def test_merge_keeps_both_thread_modes(tiny_results: bench.Results) -> None:
    merged = bench.merge([tiny_results, tiny_results])
    assert merged.mode["threads"] == [1, 1]
    assert len(merged.rows) == 2 * len(tiny_results.rows)
    assert len(merged.skipped) == len(tiny_results.skipped)
    with pytest.raises(ValueError):
        bench.merge([])


def test_cli_quick_json_and_markdown(tmp_path: Path) -> None:
    md = tmp_path / "bench.md"
    proc = subprocess.run(
        [sys.executable, "-m", "tokenmill", "bench", "--quick", "--only", "sampling",
         "--threads", "1", "--json", "--markdown", str(md)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    shapes = {r["workload"] for r in doc["rows"]}
    assert shapes == {f"[{b}, {v}]" for b, v in sampling.QUICK_SHAPES}
    assert all(r["suite"] == "sampling" for r in doc["rows"])
    assert "| shape |" in md.read_text(encoding="utf-8")


def test_cli_rejects_bad_thread_counts() -> None:
    for bad in ("0", "-2", "many"):
        with pytest.raises(ValueError, match="--threads"):
            _thread_modes(bad, quick=True)
    assert _thread_modes("1", quick=False) == [1]
    assert _thread_modes(None, quick=True) == [1]
    assert _thread_modes("both", quick=False)[0] == 1


def test_run_rejects_bad_config() -> None:
    with pytest.raises(ValueError, match="only"):
        bench.run(BenchConfig(only="everything"))
    with pytest.raises(ValueError, match="threads"):
        bench.run(BenchConfig(threads=0))


# --- harness ---------------------------------------------------------------------------------


def test_measure_counts_calls() -> None:
    calls = []
    t = measure(lambda: calls.append(1), warmup=2, min_reps=4, max_reps=4, budget_s=10.0)
    assert t.reps == 4 and len(calls) == 2 + 4
    assert t.min_s <= t.median_s <= t.max_s
    calls.clear()
    t = measure(lambda: calls.append(1), warmup=0, min_reps=3, max_reps=50, budget_s=0.0)
    assert t.reps == 3 and len(calls) == 3


def test_measure_interleaved_alternates_the_calls() -> None:
    order: list[str] = []
    timings = measure_interleaved(
        [lambda: order.append("a"), lambda: order.append("b"), lambda: order.append("c")],
        min_reps=4,
        max_reps=4,
        budget_s=10.0,
    )
    assert order == ["a", "b", "c"] * 4
    assert [t.reps for t in timings] == [4, 4, 4]
    assert all(t.min_s <= t.median_s <= t.max_s for t in timings)
    assert measure_interleaved([], min_reps=3, max_reps=3) == []


def test_thread_mode_pins_and_restores() -> None:
    before_cpus = available_cpus()
    before_threads = tokenmill.get_num_threads()
    with thread_mode(1):
        assert tokenmill.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1"
        if hasattr(os, "sched_getaffinity"):
            assert len(os.sched_getaffinity(0)) == 1
    assert available_cpus() == before_cpus
    assert tokenmill.get_num_threads() == before_threads


# --- the float64 references behind the exactness column --------------------------------------


def _kept(logits: list[float], **kw: float) -> list[int]:
    x = np.array([logits], dtype=np.float32)
    op = sampling.Op("t", **kw)  # type: ignore[arg-type]
    return [int(i) for i in np.flatnonzero(sampling.ref_kept(x, op)[0])]


def test_reference_top_k_keeps_exactly_k_ties_to_lower_id() -> None:
    assert _kept([3.0, 1.0, 2.0, 0.0], top_k=2) == [0, 2]
    assert _kept([1.0, 5.0, 1.0, 1.0], top_k=2) == [0, 1]
    assert _kept([0.0] * 5, top_k=3) == [0, 1, 2]


def test_reference_top_p_is_the_smallest_prefix_reaching_p() -> None:
    # probabilities 0.5, 0.3, 0.2 (as logits ln p)
    logits = [math.log(0.2), math.log(0.5), math.log(0.3)]
    assert _kept(logits, top_p=0.5) == [1]
    assert _kept(logits, top_p=0.6) == [1, 2]
    assert _kept(logits, top_p=0.81) == [0, 1, 2]
    # temperature sharpens before the cut: T=0.5 squares and renormalises -> 25/38 = 0.66 first
    assert _kept(logits, top_p=0.6, temperature=0.5) == [1]


def test_reference_min_p_threshold() -> None:
    logits = [0.0, math.log(0.1) - 1e-3, math.log(0.1) + 1e-3, -50.0]
    assert _kept(logits, min_p=0.1) == [0, 2]
    assert _kept(logits, min_p=0.1, top_k=1) == [0]


def test_reference_softmax_against_math() -> None:
    x = np.array([[0.0, math.log(3.0)]], dtype=np.float32)
    got = sampling.ref_softmax(x)
    assert got[0, 0] == pytest.approx(0.25, rel=1e-7) and got[0, 1] == pytest.approx(0.75, rel=1e-7)


def test_numpy_peers_sample_inside_the_reference_kept_set() -> None:
    x = sampling.make_logits((64, 500), seed=3)
    rng = np.random.default_rng(1)
    rows = np.arange(64)
    draws: list[tuple[sampling.Op, Callable[[], Any]]] = [
        (sampling.OPS[1], lambda: sampling.numpy_top_k(x, 0.7, 50, rng)),
        (sampling.OPS[2], lambda: sampling.numpy_top_p(x, 0.7, 0.9, rng)),
        (sampling.OPS[3], lambda: sampling.numpy_min_p(x, 0.05, rng)),
    ]
    for op, draw in draws:
        kept = sampling.ref_kept(x, op)
        for _ in range(20):
            assert kept[rows, draw()].all(), op.name
    softmax = sampling.numpy_softmax(x)
    assert np.allclose(softmax, sampling.ref_softmax(x), rtol=1e-5)


def test_check_marks_a_wrong_answer_wrong() -> None:
    x = sampling.make_logits((4, 300))
    op = sampling.OPS[1]
    ref = {"kept": sampling.ref_kept(x, op)}
    outside = np.array([int(np.flatnonzero(~ref["kept"][i])[0]) for i in range(4)])
    assert sampling.check(op, x, outside, "numpy", None, ref).startswith("WRONG")
    inside = np.array([int(np.flatnonzero(ref["kept"][i])[0]) for i in range(4)])
    assert sampling.check(op, x, inside, "numpy", None, ref) == "exact (membership)"
    soft = {"softmax": sampling.ref_softmax(x)}
    assert sampling.check(sampling.OPS[0], x, soft["softmax"] * 1.01, "x", None, soft).startswith(
        "WRONG"
    )
    greedy = {"argmax": np.argmax(x, axis=1)}
    assert sampling.check(sampling.OPS[4], x, greedy["argmax"] + 1, "x", None, greedy).startswith(
        "WRONG"
    )


# --- corpora ---------------------------------------------------------------------------------


def test_corpora_are_built_offline_and_deterministic() -> None:
    for build in (corpora.english, corpora.code):
        a, b = build(20_000, 4096), build(20_000, 4096)
        assert a == b and a.docs
        assert 10_000 < a.n_bytes <= 20_000
        assert all(len(d.encode()) < 4096 + 10_000 for d in a.docs)
    prose = corpora.english(20_000).docs[0]
    assert sum(c.isalpha() for c in prose) > 0.6 * len(prose)


def test_many_language_corpus_is_broad_new_text_and_deterministic() -> None:
    import unicodedata

    a, b = firstpass.many_language(400_000), firstpass.many_language(400_000)
    assert a == b and 350_000 < a.n_bytes <= 400_000
    text = "".join(a.docs)
    names = {unicodedata.name(c, "").split(" ")[0] for c in text if c.isalpha()}
    for script in [
        "DEVANAGARI", "BENGALI", "TAMIL", "TELUGU", "GURMUKHI", "THAI", "KHMER", "MYANMAR",
        "ETHIOPIC", "GEORGIAN", "ARMENIAN", "CJK", "HIRAGANA", "KATAKANA", "HANGUL", "ARABIC",
        "HEBREW", "CYRILLIC", "GREEK", "LATIN",
    ]:  # fmt: skip
        assert script in names, script
    assert any(unicodedata.decomposition(c) for c in text if "LATIN" in unicodedata.name(c, ""))

    # Unlike sentences recombined whole, most words of the second half are not in the first.
    def new_share(t: str) -> float:
        words = t.split()
        seen = set(words[: len(words) // 2])
        rest = words[len(words) // 2 :]
        return sum(w not in seen for w in rest) / len(rest)

    assert new_share(text) > 0.15
    assert new_share("".join(corpora.multilingual(400_000).docs)) < 0.02


def test_firstpass_rows_are_exact_and_labelled() -> None:
    pytest.importorskip("tiktoken")
    config = bench.BenchConfig(quick=True, corpus_bytes=30_000)
    rows, _, sources = firstpass.run(config, encodings=["cl100k_base"])
    assert set(sources) == {f"first pass: {n}" for n in ("english", "code", "many-language")}
    ours = [r for r in rows if r.library == "tokenmill"]
    assert ours and {r.operation for r in ours} == {"encode", "count", "count_batch"}
    assert {r.exact for r in ours} == {"ok"}
    passes = [r for r in ours if r.operation != "count_batch"]
    assert all(r.throughput and r.extra["warm_MB/s"] > 0 for r in passes)
    # count_batch on 1 and 2 threads: the same total as tiktoken's (exact "ok" above)
    scaling = [r for r in ours if r.operation == "count_batch"]
    assert sorted(r.threads for r in scaling) == [1, 2]
    assert {r.workload for r in scaling} == {"many-language"}
    assert all(r.ratio_to == "1 thread" and r.ratio and r.throughput for r in scaling)
    assert firstpass.run(bench.BenchConfig(quick=True, threads=2)) == ([], [], {})
    text = render.render(bench.Results({}, {"threads": [1]}, tuple(rows), ()))
    assert "First pass" in text and "Thread scaling" in text


def test_split_docs_keeps_every_line() -> None:
    text = "".join(f"line {i}\n" for i in range(1000))
    docs = corpora.split_docs(text, 100)
    assert "".join(docs) == text
    assert all(len(d) >= 100 for d in docs[:-1])


def test_adversarial_inputs() -> None:
    assert corpora.adversarial("a*N", 5) == "aaaaa"
    letters = corpora.adversarial("letters", 1000)
    assert len(letters) == 1000 and set(letters) <= set("abcdefghijklmnopqrstuvwxyz")
    b64 = corpora.adversarial("base64", 1000, seed=2)
    assert len(b64) == 1000 and b64 == corpora.adversarial("base64", 1000, seed=2)
    assert not any(c.isspace() for c in b64)
    with pytest.raises(ValueError, match="unknown adversarial kind"):
        corpora.adversarial("zeros", 10)


# --- offline vocabularies --------------------------------------------------------------------


def test_tiktoken_cache_is_filled_under_the_url_hash(tmp_path: Path) -> None:
    if tokenization.vocab_bytes("cl100k_base") is None:
        pytest.skip("no local cl100k_base vocabulary (tokenmill bundle or bpe-openai)")
    env_before = dict(os.environ)
    cache = tokenization.prepare_tiktoken_cache(tmp_path)
    assert cache is not None and Path(cache).parent == tmp_path
    assert dict(os.environ) == env_before  # the harness leaves its process's environment alone
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    data = (Path(cache) / hashlib.sha1(url.encode()).hexdigest()).read_bytes()
    # tiktoken's published sha256 of cl100k_base.tiktoken
    assert hashlib.sha256(data).hexdigest() == (
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
    )


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_locally_built_tiktoken_is_tiktoken(name: str) -> None:
    """The bench's reference, built without download or environment, is tiktoken's encoding:
    same ranks, split pattern and special tokens as ``tiktoken.get_encoding`` (which the test
    session loads from its own offline cache), and the same tokens."""
    tiktoken = pytest.importorskip("tiktoken")
    env_before = dict(os.environ)
    ours = tokenization.tiktoken_encoding(name)
    assert dict(os.environ) == env_before
    ref = tiktoken.get_encoding(name)
    assert ours._pat_str == ref._pat_str
    assert ours._special_tokens == ref._special_tokens
    assert ours._mergeable_ranks == ref._mergeable_ranks
    text = "Hello, world! Ünïcödé 東京 مرحبا <|endoftext|>\n\n  x"
    assert ours.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all")


def test_multilingual_corpus_is_generated_from_package_data() -> None:
    small = corpora.multilingual(5_000)
    big = corpora.multilingual(300_000)
    assert big.docs == corpora.multilingual(300_000).docs  # deterministic
    assert "".join(big.docs).startswith("".join(small.docs)[:4_000])
    assert 290_000 <= big.n_bytes <= 300_000
    assert "/usr/share" not in big.source
    assert any("\u0900" <= ch <= "\u097f" for ch in "".join(big.docs))  # Devanagari
    assert any("\u0600" <= ch <= "\u06ff" for ch in "".join(big.docs))  # Arabic


def test_a_fast_but_wrong_peer_is_marked_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tiktoken")
    if tokenization.vocab_bytes("cl100k_base") is None:
        pytest.skip("no local cl100k_base vocabulary")
    enc = tokenization.tiktoken_encoding("cl100k_base")
    ref = tokenization.Impl(
        "tiktoken",
        enc.encode_ordinary,
        lambda t: len(enc.encode_ordinary(t)),
        lambda ts, _n: [len(x) for x in enc.encode_ordinary_batch(ts)],
    )
    ours = tokenization.Impl(
        "tokenmill", enc.encode_ordinary, lambda t: len(enc.encode_ordinary(t)), None
    )
    liar = tokenization.Impl(
        "liar",
        lambda t: enc.encode_ordinary(t)[:-1],  # drops the last token
        lambda t: len(enc.encode_ordinary(t)) + 1,  # counts one too many
        lambda ts, _n: [0 for _ in ts],
    )
    monkeypatch.setattr(tokenization, "implementations", lambda *_a: ([ours, ref, liar], []))
    docs = ("Hello, world! " * 50, "Ünïcödé text, 東京, مرحبا. " * 20)
    loads = [tokenization.Workload("tiny", docs, True)]
    rows, _ = tokenization.run_encoding("cl100k_base", TINY, loads, None)
    verdict = {(r.library, r.operation): r.exact for r in rows}
    assert verdict[("tiktoken", "encode")] == "reference"
    assert verdict[("tokenmill", "encode")] == "exact"
    assert verdict[("tokenmill", "count")] == "exact"
    for op in ("encode", "count", "count_batch"):
        assert verdict[("liar", op)] == "WRONG (2/2 docs differ)", op
    base = {r.operation: r for r in rows if r.library == "tiktoken"}
    for r in rows:
        base_tp = base[r.operation].throughput
        assert r.ratio_to == "tiktoken" and r.ratio is not None
        assert r.throughput is not None and base_tp is not None
        assert r.ratio == pytest.approx(r.throughput / base_tp)


def test_sampling_ratio_uses_the_floor_of_the_same_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each operation's calls are timed together with a read pass, and the ratio is to that pass."""
    from tokenmill.bench.harness import Timing

    calls: list[int] = []

    def fake_interleaved(fns: list[object], **_kw: object) -> list[Timing]:
        # The read pass first, then one call per library; distinct medians per operation.
        calls.append(len(fns))
        n = len(calls)
        return [Timing(0.001 * n, 0.001 * n, 0.001 * n, 3)] + [
            Timing(0.001 * n * (j + 2), 0.0, 0.0, 3) for j in range(len(fns) - 1)
        ]

    monkeypatch.setattr(sampling, "measure_interleaved", fake_interleaved)
    monkeypatch.setattr(sampling, "_other_isas", lambda: [])
    rows, _ = sampling.run(TINY)
    ops = [r for r in rows if not r.library.endswith("(floor)")]
    assert len(calls) == len(sampling.OPS) + 1  # the floors' own rounds, then one per operation
    assert all(n >= 3 for n in calls[1:])  # the read pass, the copy and at least numpy
    for r in ops:
        # call j of an operation is (j + 1)x its floor (call 0), whatever that operation's
        # floor is; the copy is call 1 (2x), so each library is ratio / 2 of the copy
        assert r.ratio is not None and r.ratio == pytest.approx(round(r.ratio))
        assert r.ratio >= 3
        assert r.extra["× copy"] == pytest.approx(r.ratio / 2)


def test_thread_speedup_is_taken_over_each_modes_read_pass() -> None:
    """The modes run one after the other; the headline divides their ratios to the read pass."""
    from tokenmill.bench.harness import Row, Timing

    def row(threads: int, median: float, ratio: float) -> Row:
        t = Timing(median, median, median, 3)
        return Row("sampling", "softmax", "[64, 128256]", "tokenmill", threads, t, ratio=ratio)

    # The 2-thread run took as long as the 1-thread one, but its read pass was twice as slow
    # (the machine drifted): 2 threads are 2x faster.
    res = bench.Results({}, {"threads": [1, 2]}, (row(1, 0.004, 4.0), row(2, 0.004, 2.0)), ())
    lines = render.headline(res)
    assert any("2 threads 2.00× faster than 1" in line for line in lines), lines
