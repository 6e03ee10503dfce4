"""BatchSampler (continuous batching), logprob modes, and the sampling hardening cases.

The batching reference is ``tm.sample`` called row by row with each request's seed, its own step
count and its history; logprob references are float64 numpy.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import tokenmill as tm
from tokenmill.sampling import SamplingParams


def _rows(seed: int, batch: int, vocab: int) -> npt.NDArray[np.float32]:
    return (np.random.default_rng(seed).standard_normal((batch, vocab)) * 3).astype(np.float32)


REQUESTS: dict[int, dict[str, Any]] = {
    11: {"temperature": 0.8, "top_p": 0.9, "seed": 1},
    12: {"temperature": 1.1, "top_k": 40, "repetition_penalty": 1.3, "seed": 2},
    13: {"temperature": 0.0},
    14: {"temperature": 0.7, "min_p": 0.05, "frequency_penalty": 0.5, "seed": 4},
    15: {"temperature": 1.0, "presence_penalty": 1.0, "logit_bias": {3: 2.5, 9: -1.0}, "seed": 5},
}
PROMPTS = {11: [1, 2, 3], 12: [5, 5, 6], 13: [], 14: [7], 15: [3, 3]}


def test_batch_sampler_gives_sample_tokens_whatever_the_batch() -> None:
    vocab = 2000
    settings = dict(REQUESTS)
    bs = tm.BatchSampler()
    for rid, kw in settings.items():
        bs.add(rid, SamplingParams(**kw), history=PROMPTS[rid])
    history = {rid: list(p) for rid, p in PROMPTS.items()}
    steps = dict.fromkeys(settings, 0)
    layouts = [[11, 12, 13, 14, 15], [15, 12], [13, 11, 14], [12], [14, 15, 11, 13]]
    rng = np.random.default_rng(0)
    for s in range(16):
        if s == 8:  # a request leaves and a new one joins mid-stream
            bs.remove(14)
            settings[16] = {"temperature": 0.6, "top_k": 5, "seed": 16}
            bs.add(16, SamplingParams(**settings[16], step=3))
            history[16], steps[16] = [], 3
            layouts = [[16 if i == 14 else i for i in lay] for lay in layouts]
        ids = list(layouts[s % len(layouts)])
        rng.shuffle(ids)
        x = _rows(100 + s, len(ids), vocab)
        got = bs.step(x, ids)
        assert got.dtype == np.int64 and got.shape == (len(ids),)
        for r, rid in enumerate(ids):
            want = tm.sample(
                x[r], step=steps[rid], token_history=history[rid] or None, **settings[rid]
            )
            assert got[r] == want, (s, rid)
            history[rid].append(int(got[r]))
            steps[rid] += 1
            assert bs.step_of(rid) == steps[rid]
    assert 14 not in bs and bs.request_ids == [11, 12, 13, 15, 16]


def test_batch_sampler_results_are_owned_and_out_is_filled() -> None:
    bs = tm.BatchSampler()
    for rid in range(3):
        bs.add(rid, SamplingParams(seed=rid))
    x = _rows(1, 3, 500)
    kept = [bs.step(x, [0, 1, 2]) for _ in range(3)]
    assert not np.shares_memory(kept[0], kept[1]) and not np.shares_memory(kept[1], kept[2])
    copies = [k.copy() for k in kept]
    bs.step(x, [0, 1, 2])
    for k, c in zip(kept, copies, strict=True):
        np.testing.assert_array_equal(k, c)
    out = np.empty(2, dtype=np.int64)
    assert bs.step(x[:2], [2, 0], out=out) is out
    assert out[0] == tm.sample(x[0], seed=2, step=4) and out[1] == tm.sample(x[1], seed=0, step=4)


def test_batch_sampler_errors_name_the_id_and_change_nothing() -> None:
    bs = tm.BatchSampler()
    bs.add(1, SamplingParams(seed=9))
    bs.add(2, SamplingParams(seed=8))
    with pytest.raises(ValueError, match=r"request id 1 is already present"):
        bs.add(1)
    x = _rows(2, 2, 100)
    with pytest.raises(ValueError, match=r"unknown request id 7"):
        bs.step(x, [1, 7])
    with pytest.raises(
        ValueError, match=r"request id 2 appears twice in one step \(again at row 1\)"
    ):
        bs.step(x, [2, 2])
    with pytest.raises(ValueError, match=r"3 request ids for 2 logits rows"):
        bs.step(x, [1, 2, 3])
    with pytest.raises(ValueError, match=r"unknown request id 5"):
        bs.remove(5)
    with pytest.raises(ValueError, match=r"single value"):
        bs.add(3, SamplingParams(temperature=np.array([1.0, 2.0])))
    with pytest.raises(ValueError, match=r"allowed_mask"):
        bs.add(3, SamplingParams(allowed_mask=np.zeros((1, 4), dtype=np.int32)))
    assert bs.step_of(1) == 0 and bs.step_of(2) == 0  # failed steps advanced nothing
    got = bs.step(x, [1, 2])
    assert got[0] == tm.sample(x[0], seed=9, step=0)
    assert len(bs) == 2 and 1 in bs and 7 not in bs and bs.request_ids == [1, 2]


def test_batch_sampler_history_penalises_like_token_history() -> None:
    """A repetition penalty strong enough to matter: the incremental counts equal the history
    passed in full to tm.sample, token for token, over many steps of one request."""
    vocab = 50
    bs = tm.BatchSampler()
    kw: dict[str, Any] = {"temperature": 0.5, "repetition_penalty": 3.0, "seed": 77}
    bs.add(0, SamplingParams(**kw), history=[4])
    bs.extend(0, [5, 5])  # forced tokens count too, without a step
    hist = [4, 5, 5]
    x = np.linspace(3, -3, vocab).astype(np.float32)
    for s in range(40):
        got = int(bs.step(x[None, :], [0])[0])
        assert got == tm.sample(x, step=s, token_history=hist, **kw)
        hist.append(got)
    assert len(set(hist)) > 10  # the penalty spread the draws


def test_shared_batch_sampler_across_threads() -> None:
    bs = tm.BatchSampler()
    for rid in range(8):
        bs.add(rid, SamplingParams(seed=rid, top_k=20))
    x = _rows(3, 2, 30_000)
    errors: list[BaseException] = []

    def work(a: int) -> None:
        try:
            for _ in range(25):
                bs.step(x, [a, a + 4])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(a,)) for a in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(bs.step_of(r) == 25 for r in range(8))


def test_shared_sampler_across_threads_takes_distinct_steps() -> None:
    x = _rows(4, 2, 5000)
    s = tm.Sampler(2, temperature=0.9, seed=np.array([3, 4]))
    results: list[npt.NDArray[np.int64]] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(20):
            r = s.sample(x)
            assert isinstance(r, np.ndarray)
            with lock:
                results.append(r)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert s.step == 80
    want: list[tuple[int, ...]] = sorted(
        tuple(
            int(v) for v in np.asarray(tm.sample(x, temperature=0.9, seed=np.array([3, 4]), step=k))
        )
        for k in range(80)
    )
    assert sorted(tuple(int(v) for v in r) for r in results) == want


# ----------------------------------------------------------------------------- logprobs


def _log_softmax64(y: npt.NDArray[Any], t: float) -> npt.NDArray[np.float64]:
    z = y.astype(np.float64) / t
    z = z - z.max()
    return z - np.log(np.exp(z).sum())  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "kw",
    [
        {"temperature": 0.7, "top_k": 10},
        {"temperature": 1.2, "top_p": 0.5},
        {"temperature": 0.9, "min_p": 0.1},
        {"temperature": 1.0},
        {"temperature": 0.0},
    ],
)
def test_raw_logprobs_are_log_softmax_before_truncation(kw: dict[str, Any]) -> None:
    x = _rows(5, 3, 4000)
    bias = {17: 4.0}
    r = tm.sample(x, seed=3, logprobs="raw", top_logprobs=5, logit_bias=bias, **kw)
    p = tm.sample(x, seed=3, logprobs="processed", top_logprobs=5, logit_bias=bias, **kw)
    np.testing.assert_array_equal(r.tokens, p.tokens)  # the mode never changes the draw
    assert r.top_ids is not None and r.top_logprobs is not None and r.logprobs is not None
    t = kw["temperature"] or 1.0
    for b in range(3):
        y = x[b].copy()
        y[17] += np.float32(4.0)  # processors come first
        ref = _log_softmax64(y, t)
        assert abs(r.logprobs[b] - ref[r.tokens[b]]) < 1e-4
        order = np.lexsort((np.arange(y.size), -y))[:5]
        np.testing.assert_array_equal(r.top_ids[b], order)
        np.testing.assert_allclose(r.top_logprobs[b], ref[order], atol=1e-4)
    if kw.get("top_k") or kw.get("top_p") or kw.get("min_p") or kw["temperature"] == 0.0:
        assert p.logprobs is not None
        assert (p.logprobs > r.logprobs).all()  # renormalised over fewer tokens


def test_processed_top_logprobs_pad_visibly_and_return_logprobs_means_processed() -> None:
    x = _rows(6, 2, 300)
    a = tm.sample(x, seed=1, top_k=3, top_logprobs=5, return_logprobs=True)
    b = tm.sample(x, seed=1, top_k=3, top_logprobs=5, logprobs="processed")
    np.testing.assert_array_equal(a.top_ids, b.top_ids)
    assert a.top_ids is not None and a.top_logprobs is not None
    assert (a.top_ids[:, 3:] == -1).all() and np.isneginf(a.top_logprobs[:, 3:]).all()
    raw = tm.sample(x, seed=1, top_k=3, top_logprobs=5, logprobs="raw")
    assert raw.top_ids is not None and (raw.top_ids >= 0).all()
    with pytest.raises(ValueError, match="logprobs must be 'raw', 'processed' or None"):
        tm.sample(x, logprobs="log")  # type: ignore[call-overload]


def test_batch_sampler_logprobs_match_sample() -> None:
    x = _rows(7, 2, 1000)
    bs = tm.BatchSampler()
    bs.add(0, SamplingParams(seed=1, top_p=0.8))
    bs.add(1, SamplingParams(seed=2, top_k=7))
    got = bs.step(x, [1, 0], logprobs="raw", top_logprobs=3)
    assert isinstance(got, tm.SampleResult)
    settings: list[dict[str, Any]] = [{"seed": 2, "top_k": 7}, {"seed": 1, "top_p": 0.8}]
    for r, kw in enumerate(settings):
        want = tm.sample(x[r], logprobs="raw", top_logprobs=3, **kw)
        assert got.tokens[r] == want.tokens
        assert got.logprobs is not None and got.logprobs[r] == want.logprobs
        np.testing.assert_array_equal(got.top_ids[r], want.top_ids)  # type: ignore[index]


# ----------------------------------------------------------------------------- hardening


@pytest.mark.parametrize("t", [1e-31, 1e-200, 1e-310, 5e-324])
def test_tiny_temperatures_are_greedy_never_nan(t: float) -> None:
    x = np.array([[0.5, 2.0, -1.0, 2.0, 1.9999999], [3.0, 1.0, 2.0, 0.0, 0.0]], np.float32)
    np.testing.assert_array_equal(tm.sample(x, temperature=t, seed=1), [1, 0])
    np.testing.assert_array_equal(tm.sample(x, temperature=t, seed=1), tm.sample(x, temperature=0))
    assert tm.sample(x[0], temperature=t) == 1  # the one-row fast path
    kept = tm.kept_mask(x, temperature=t)
    np.testing.assert_array_equal(kept.sum(axis=1), [1, 1])
    r = tm.sample(x, temperature=t, seed=1, logprobs="processed")
    assert r.logprobs is not None and not np.isnan(r.logprobs).any()
    sm = tm.softmax(x, t)  # the T -> 0 limit: uniform over the maxima
    np.testing.assert_array_equal(sm, [[0, 0.5, 0, 0.5, 0], [1, 0, 0, 0, 0]])
    lsm = tm.log_softmax(x, t)
    assert lsm[0, 1] == np.float32(-np.log(2)) and np.isneginf(lsm[0, 0])


def test_unaligned_contiguous_logits_are_read() -> None:
    x = _rows(8, 2, 1001)
    buf = np.zeros(x.nbytes + 1, dtype=np.uint8)
    un = buf[1:].view(np.float32).reshape(x.shape)
    un[...] = x
    assert un.flags.c_contiguous and not un.flags.aligned
    np.testing.assert_array_equal(tm.sample(un, seed=3, top_k=20), tm.sample(x, seed=3, top_k=20))
    assert tm.sample(un[0], seed=3) == tm.sample(x[0], seed=3)
    np.testing.assert_array_equal(tm.softmax(un), tm.softmax(x))
    np.testing.assert_array_equal(tm.kept_mask(un, top_p=0.5), tm.kept_mask(x, top_p=0.5))
    out_buf = np.zeros(2 * 8 + 1, dtype=np.uint8)
    out = out_buf[1:].view(np.int64)
    with pytest.raises(ValueError, match="out is not aligned"):
        tm.sample(x, out=out)


def test_softmax_in_place() -> None:
    x = _rows(9, 3, 3000)
    want = tm.softmax(x, 0.8)
    y = x.copy()
    assert tm.softmax(y, 0.8, out=y) is y
    np.testing.assert_array_equal(y, want)
    z = x.copy()
    tm.log_softmax(z, out=z)
    np.testing.assert_array_equal(z, tm.log_softmax(x))
