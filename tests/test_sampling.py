"""tokenmill sampling: exactness against float64 numpy references, statistics, determinism, errors.

References here are written independently of the Rust code: a float64 softmax, and a kept-set
function that sorts the whole vocabulary (by logit, ties to the lower id) and applies the filters
in the documented order.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import tokenmill as tm

TINY = float(np.finfo(np.float32).tiny)


# ----------------------------------------------------------------------------- references


def ref_softmax(x: npt.NDArray[Any], t: float | npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    x64 = np.asarray(x, dtype=np.float64)
    t64 = np.asarray(t, dtype=np.float64).reshape(-1, 1) if x64.ndim == 2 else np.float64(t)
    z = (x64 - x64.max(axis=-1, keepdims=True)) / t64
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)  # type: ignore[no-any-return]


def ref_process(
    x: npt.NDArray[np.float32],
    history: list[int] | None = None,
    rep: float = 1.0,
    presence: float = 0.0,
    frequency: float = 0.0,
    bias: dict[int, float] | None = None,
    mask_bits: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.float32]:
    y = x.astype(np.float32).copy()
    if history:
        ids, counts = np.unique(np.asarray(history), return_counts=True)
        for i, c in zip(ids, counts, strict=True):
            v = y[i]
            if rep != 1.0:
                v = v / np.float32(rep) if v > 0 else v * np.float32(rep)
            v = v - (np.float32(presence) + np.float32(frequency) * np.float32(c))
            y[i] = v
    if bias:
        for i, b in bias.items():
            y[i] += np.float32(b)
    if mask_bits is not None:
        y[~mask_bits] = -np.inf
    return y


def ref_order(y: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """Whole-vocabulary ranking: larger logit first, ties to the lower id."""
    order: npt.NDArray[np.intp] = np.lexsort((np.arange(len(y)), -y.astype(np.float64)))
    return order


def ref_kept_probs(
    y: npt.NDArray[np.float32], t: float, k: int = 0, p: float = 1.0, min_p: float = 0.0
) -> npt.NDArray[np.float64]:
    """Final distribution (zeros outside the kept set) by sorting the whole vocabulary."""
    y64 = y.astype(np.float64)
    v = len(y)
    m = y64.max()
    out = np.zeros(v)
    if t == 0:
        out[int(np.argmax(y64 == m))] = 1.0
        return out
    order = ref_order(y)
    if 0 < k < v:
        order = order[:k]
    w = np.exp((y64[order] - m) / t)
    if p < 1.0:
        cum = np.cumsum(w / w.sum())
        n = int(np.argmax(cum >= p)) + 1 if cum[-1] >= p else len(order)
        order, w = order[:n], w[:n]
    if min_p > 0:
        keep = y64[order] >= m + t * math.log(min_p)
        order, w = order[keep], w[keep]
    out[order] = w
    total: np.float64 = out.sum()
    return out / total


def ref_kept(y: npt.NDArray[np.float32], t: float, **kw: Any) -> npt.NDArray[np.bool_]:
    return ref_kept_probs(y, t, **kw) > 0


def assert_same_kept(
    got: npt.NDArray[np.bool_], y: npt.NDArray[np.float32], t: float, **kw: Any
) -> None:
    want = ref_kept(y, t, **kw)
    if np.array_equal(got, want):
        return
    # Only a top-p boundary within float rounding of p may differ.
    p = kw.get("p", 1.0)
    assert p < 1.0, (np.flatnonzero(got ^ want), kw)
    probs = ref_kept_probs(y, t, **{**kw, "p": 1.0, "min_p": 0.0})
    order = ref_order(y)
    cum = np.cumsum(probs[order])
    diff = np.flatnonzero(got ^ want)
    pos = [int(np.flatnonzero(order == d)[0]) for d in diff]
    assert len(diff) == 1 and abs(cum[pos[0] - 1] - p) < 1e-6, (diff, kw)


def chi2_sf(stat: float, df: int) -> float:
    """Upper tail of the chi-square distribution: Q(df/2, stat/2), regularized gamma."""
    a, x = df / 2.0, stat / 2.0
    if x <= 0:
        return 1.0
    lg = math.lgamma(a)
    if x < a + 1:  # series for P, then Q = 1 - P
        term = total = 1.0 / a
        n = a
        for _ in range(10_000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return 1.0 - total * math.exp(-x + a * math.log(x) - lg)
    # Continued fraction (modified Lentz) for Q.
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return math.exp(-x + a * math.log(x) - lg) * h


def test_chi2_sf_matches_known_values() -> None:
    # Textbook critical values: P(chi2_1 > 3.841) = 0.05, P(chi2_10 > 23.209) = 0.01.
    assert chi2_sf(3.841459, 1) == pytest.approx(0.05, abs=1e-6)
    assert chi2_sf(23.209251, 10) == pytest.approx(0.01, abs=1e-6)
    assert chi2_sf(100.0, 100) == pytest.approx(0.48119, abs=1e-4)


def chi2_pvalue(tokens: npt.NDArray[np.int64], probs: npt.NDArray[np.float64]) -> float:
    support = np.flatnonzero(probs > 0)
    counts = np.bincount(tokens, minlength=len(probs))
    assert counts[probs == 0].sum() == 0, "sampled a token outside the kept set"
    n = len(tokens)
    expected = probs[support] * n
    # Merge categories with small expectation into one bin (keeps the test valid).
    small = expected < 5
    obs = counts[support]
    e_bins = np.append(expected[~small], expected[small].sum())
    o_bins = np.append(obs[~small], obs[small].sum())
    if small.sum() == 0:
        e_bins, o_bins = e_bins[:-1], o_bins[:-1]
    df = len(e_bins) - 1
    if df < 1:
        return 1.0
    stat = float(((o_bins - e_bins) ** 2 / e_bins).sum())
    return chi2_sf(stat, df)


rng = np.random.default_rng(20261127)


def logits(batch: int, vocab: int, scale: float = 3.0) -> npt.NDArray[np.float32]:
    return (rng.standard_normal((batch, vocab)) * scale).astype(np.float32)


# ----------------------------------------------------------------------------- softmax


@pytest.mark.parametrize("vocab", [1, 7, 8, 33, 1000, 4097, 128_256])
def test_softmax_relative_error_vs_float64(vocab: int) -> None:
    x = logits(3, vocab, 5.0)
    x[0, : vocab // 3] -= 90.0  # very negative: tiny, subnormal and underflowing results
    if vocab > 4:
        x[1, 3] = -np.inf
        x[2, 1] = 1e-40  # subnormal input
    temps = np.array([1.0, 0.7, 2.3])
    got = tm.softmax(x, temps)
    ref = ref_softmax(x, temps)
    assert got.dtype == np.float32 and got.shape == x.shape
    normal = ref >= TINY
    rel = np.abs(got[normal] - ref[normal]) / ref[normal]
    assert rel.max() <= 1e-6
    assert np.all(np.abs(got[~normal] - ref[~normal]) <= 2e-45)
    lgot = tm.log_softmax(x, temps)
    with np.errstate(divide="ignore"):
        lref = np.log(ref_softmax(x, temps))
    finite = np.isfinite(lref)
    # |log p| can be large; the bound is relative to max(1, |log p|).
    err = np.abs(lgot[finite] - lref[finite]) / np.maximum(1.0, np.abs(lref[finite]))
    assert err.max() <= 1e-6
    assert np.all(lgot[~finite] == -np.inf)


def test_softmax_large_logits_and_small_temperature() -> None:
    x = np.array([[3000.0, 2999.0, 2990.0, -3000.0]], dtype=np.float32)
    for t in (1.0, 0.01, 100.0):
        ref = ref_softmax(x, t)
        got = tm.softmax(x, t)
        normal = ref >= TINY
        assert np.all(np.abs(got[normal] - ref[normal]) / ref[normal] <= 1e-6)


def test_softmax_inputs_dtypes_layouts_and_out() -> None:
    x = logits(4, 50)
    want = tm.softmax(x)
    np.testing.assert_array_equal(tm.softmax(x.astype(np.float64)), want)
    np.testing.assert_array_equal(tm.softmax(x[0]), want[0])
    wide = logits(4, 100)
    wide[:, ::2] = x
    np.testing.assert_array_equal(tm.softmax(wide[:, ::2]), want)  # non-contiguous
    h = x.astype(np.float16)
    np.testing.assert_allclose(tm.softmax(h), ref_softmax(h.astype(np.float32), 1.0), rtol=1e-6)
    out = np.empty_like(x)
    assert tm.softmax(x, out=out) is out
    np.testing.assert_array_equal(out, want)


class _ArrayOnly:
    def __init__(self, a: npt.NDArray[Any]) -> None:
        self.a = a

    def __array__(self, dtype: Any = None, copy: Any = None) -> npt.NDArray[Any]:
        return self.a


class _DLPackOnly:
    def __init__(self, a: npt.NDArray[Any]) -> None:
        self.a = a

    def __dlpack__(self, **kw: Any) -> Any:
        return self.a.__dlpack__(**kw)

    def __dlpack_device__(self) -> Any:
        return self.a.__dlpack_device__()


def test_array_protocol_and_dlpack_objects() -> None:
    x = logits(2, 64)
    want = tm.softmax(x)
    np.testing.assert_array_equal(tm.softmax(_ArrayOnly(x)), want)
    np.testing.assert_array_equal(tm.softmax(_DLPackOnly(x)), want)
    assert tm.sample(_DLPackOnly(x), temperature=0).tolist() == x.argmax(1).tolist()


# ----------------------------------------------------------------------------- kept sets


def _dist(kind: str, vocab: int) -> npt.NDArray[np.float32]:
    if kind == "random":
        return (rng.standard_normal(vocab) * 3).astype(np.float32)
    if kind == "flat":
        return np.zeros(vocab, dtype=np.float32)
    if kind == "peaked":
        x = (rng.standard_normal(vocab)).astype(np.float32)
        x[rng.integers(vocab)] = 40.0
        return x
    if kind == "tied":
        return rng.integers(-3, 4, size=vocab).astype(np.float32)
    if kind == "masked":
        x = (rng.standard_normal(vocab) * 2).astype(np.float32)
        x[rng.random(vocab) < 0.6] = -np.inf
        x[0] = 1.0
        return x
    raise AssertionError(kind)


FILTERS = [
    {"k": 1},
    {"k": 5},
    {"k": 50},
    {"p": 0.5},
    {"p": 0.905},
    {"min_p": 0.05},
    {"min_p": 0.5},
    {"k": 50, "p": 0.8},
    {"k": 200, "p": 0.95, "min_p": 0.02},
    {"p": 0.7, "min_p": 0.1},
    {},
]


@pytest.mark.parametrize("kind", ["random", "flat", "peaked", "tied", "masked"])
@pytest.mark.parametrize("vocab", [37, 1000, 40_000])
def test_kept_set_matches_reference(kind: str, vocab: int) -> None:
    y = _dist(kind, vocab)
    for f in FILTERS:
        for t in (1.0, 0.6):
            got = tm.kept_mask(
                y,
                temperature=t,
                top_k=f.get("k", 0),
                top_p=f.get("p", 1.0),
                min_p=f.get("min_p", 0.0),
            )
            assert got.shape == (vocab,) and got.dtype == np.bool_
            assert_same_kept(got, y, t, **f)


def test_kept_set_batched_per_row_parameters() -> None:
    x = np.stack([_dist("random", 3000) for _ in range(6)])
    ks = np.array([0, 10, 0, 3, 100, 0])
    ps = np.array([1.0, 1.0, 0.9, 0.5, 0.95, 1.0])
    mps = np.array([0.0, 0.0, 0.0, 0.0, 0.01, 0.2])
    ts = np.array([1.0, 0.5, 0.8, 1.3, 0.7, 0.0])
    got = tm.kept_mask(x, temperature=ts, top_k=ks, top_p=ps, min_p=mps)
    for r in range(6):
        assert_same_kept(got[r], x[r], float(ts[r]), k=int(ks[r]), p=ps[r], min_p=mps[r])


def test_tie_rule_exactly_k_lowest_ids() -> None:
    y = np.array([1.0, 5.0, 2.0, 5.0, 5.0, 5.0, 0.0], dtype=np.float32)
    assert np.flatnonzero(tm.kept_mask(y, top_k=2)).tolist() == [1, 3]
    assert np.flatnonzero(tm.kept_mask(y, top_k=5)).tolist() == [1, 2, 3, 4, 5]
    # top-p over four equal tokens (0.25 each): p = 0.5 keeps exactly the two lowest ids.
    z = np.array([-np.inf, 0, 0, -np.inf, 0, 0], dtype=np.float32)
    assert np.flatnonzero(tm.kept_mask(z, top_p=0.5)).tolist() == [1, 2]
    assert tm.sample(y, temperature=0) == 1


def _mask_words(bits: npt.NDArray[np.bool_]) -> npt.NDArray[np.int32]:
    """Pack per-token booleans as vLLM does: token i is bit i % 32 of word i // 32."""
    words = np.zeros((len(bits) + 31) // 32, dtype=np.uint32)
    for i in np.flatnonzero(bits):
        words[i // 32] |= np.uint32(1) << np.uint32(i % 32)
    return words.view(np.int32)


def test_processors_match_reference() -> None:
    vocab = 1000
    for trial in range(20):
        x = (rng.standard_normal(vocab) * 2).astype(np.float32)
        history = rng.integers(0, vocab, size=30).tolist()
        bias = {int(i): float(rng.normal() * 3) for i in rng.integers(0, vocab, size=10)}
        bits = rng.random(vocab) < 0.7
        bits[np.argmax(x)] = True
        rep, pres, freq = 1.3, 0.4, 0.25
        mask = _mask_words(bits)
        y = ref_process(x, history, rep, pres, freq, bias, bits)
        k = int(rng.integers(0, 60))
        p = float(rng.choice([1.0, 0.9, 0.6]))
        got = tm.kept_mask(
            x,
            temperature=0.9,
            top_k=k,
            top_p=p,
            repetition_penalty=rep,
            presence_penalty=pres,
            frequency_penalty=freq,
            token_history=history,
            logit_bias=bias,
            allowed_mask=mask,
        )
        assert_same_kept(got, y, 0.9, k=k, p=p)
        # token_counts is equivalent to the history it counts.
        counts = np.bincount(history, minlength=vocab)
        got2 = tm.kept_mask(
            x,
            temperature=0.9,
            top_k=k,
            top_p=p,
            repetition_penalty=rep,
            presence_penalty=pres,
            frequency_penalty=freq,
            token_counts=counts,
            logit_bias=bias,
            allowed_mask=mask,
        )
        np.testing.assert_array_equal(got, got2, err_msg=str(trial))


def test_repetition_penalty_hf_semantics() -> None:
    x = np.array([2.0, -2.0, 1.0, 0.5], dtype=np.float32)
    r = tm.sample(x, temperature=1, top_logprobs=4, repetition_penalty=2.0, token_history=[0, 1])
    # processed logits: [1.0, -4.0, 1.0, 0.5] -> softmax
    want = np.log(ref_softmax(np.array([1.0, -4.0, 1.0, 0.5]), 1.0))
    got = dict(zip(r.top_ids.tolist(), r.top_logprobs.tolist(), strict=True))
    for i in range(4):
        assert got[i] == pytest.approx(want[i], abs=1e-5)


def test_presence_frequency_openai_semantics_and_dense_bias() -> None:
    x = np.zeros(5, dtype=np.float32)
    r = tm.sample(
        x,
        top_logprobs=5,
        presence_penalty=1.0,
        frequency_penalty=0.5,
        token_history=[2, 2, 3],
        logit_bias=np.array([0, 0, 0, 0, 2.0]),
    )
    z = np.array([0, 0, -2.0, -1.5, 2.0])
    want = np.log(ref_softmax(z, 1.0))
    got = dict(zip(r.top_ids.tolist(), r.top_logprobs.tolist(), strict=True))
    for i in range(5):
        assert got[i] == pytest.approx(want[i], abs=1e-5)


def test_allowed_mask_bit_layout() -> None:
    vocab = 70
    x = np.zeros((2, vocab), dtype=np.float32)
    bits = np.zeros((2, vocab), dtype=bool)
    bits[0, [0, 31, 32, 69]] = True
    bits[1, [5]] = True
    mask = np.stack([_mask_words(b) for b in bits])
    got = tm.kept_mask(x, allowed_mask=mask)
    np.testing.assert_array_equal(got, bits)
    toks = tm.sample(x, allowed_mask=mask, n=200, seed=1)
    assert set(toks[0].tolist()) == {0, 31, 32, 69}
    assert set(toks[1].tolist()) == {5}


# ----------------------------------------------------------------------------- statistics

DRAWS = 100_000


@pytest.mark.parametrize(
    "f",
    [
        {},
        {"k": 7},
        {"p": 0.8},
        {"min_p": 0.1},
        {"k": 12, "p": 0.9, "min_p": 0.02},
    ],
)
def test_chi_square_small_vocab(f: dict[str, Any]) -> None:
    y = (rng.standard_normal(24) * 1.5).astype(np.float32)
    t = 0.8
    probs = ref_kept_probs(y, t, **f)
    toks = tm.sample(
        y,
        temperature=t,
        top_k=f.get("k", 0),
        top_p=f.get("p", 1.0),
        min_p=f.get("min_p", 0.0),
        seed=12345,
        n=DRAWS,
    )
    assert chi2_pvalue(toks, probs) > 1e-3


@pytest.mark.parametrize(
    "f", [{}, {"k": 50}, {"p": 0.9}, {"min_p": 0.05}, {"k": 400, "p": 0.95, "min_p": 0.01}]
)
def test_chi_square_on_kept_set_of_128k_vocab(f: dict[str, Any]) -> None:
    y = logits(1, 128_256)[0]
    t = 0.7
    probs = ref_kept_probs(y, t, **f)
    toks = tm.sample(
        y,
        temperature=t,
        top_k=f.get("k", 0),
        top_p=f.get("p", 1.0),
        min_p=f.get("min_p", 0.0),
        seed=777,
        n=DRAWS,
    )
    assert chi2_pvalue(toks, probs) > 1e-3


def test_chi_square_plain_sampling_across_steps() -> None:
    # n = 1 per call, fresh step each call: the per-step stream is also unbiased.
    y = np.array([0.0, 1.0, -1.0, 0.5, 2.0], dtype=np.float32)
    batch = np.tile(y, (2000, 1))
    toks = np.concatenate(
        [tm.sample(batch, seed=np.arange(2000) + 10_000 * s, step=s) for s in range(50)]
    )
    assert chi2_pvalue(toks, ref_kept_probs(y, 1.0)) > 1e-3


def test_membership_random_configs() -> None:
    for _ in range(30):
        vocab = int(rng.integers(2, 5000))
        kind = str(rng.choice(["random", "flat", "peaked", "tied", "masked"]))
        x = np.stack([_dist(kind, vocab) for _ in range(3)])
        kw = {
            "temperature": float(rng.choice([0.0, 0.3, 1.0, 2.0])),
            "top_k": int(rng.choice([0, 1, 10, 100])),
            "top_p": float(rng.choice([1.0, 0.95, 0.5, 0.1])),
            "min_p": float(rng.choice([0.0, 0.05, 0.5])),
        }
        kept = tm.kept_mask(x, **kw)
        toks = tm.sample(x, n=50, seed=int(rng.integers(1 << 62)), **kw)
        for r in range(3):
            assert kept[r, toks[r]].all(), kw


def test_logprobs_and_top_logprobs_under_final_distribution() -> None:
    y = logits(1, 5000)[0]
    res = tm.sample(y, temperature=0.8, top_k=40, top_p=0.9, seed=3, n=5, top_logprobs=8)
    probs = ref_kept_probs(y, 0.8, k=40, p=0.9)
    assert isinstance(res, tm.SampleResult)
    assert res.tokens.shape == (5,) and res.logprobs is not None
    np.testing.assert_allclose(res.logprobs, np.log(probs[res.tokens]), atol=2e-6)
    order = ref_order(np.where(probs > 0, y, -np.inf).astype(np.float32))
    kept_n = int((probs > 0).sum())
    want_ids = order[: min(8, kept_n)]
    assert res.top_ids is not None and res.top_logprobs is not None
    assert res.top_ids[: len(want_ids)].tolist() == want_ids.tolist()
    np.testing.assert_allclose(
        res.top_logprobs[: len(want_ids)], np.log(probs[want_ids]), atol=2e-6
    )
    assert (res.top_ids[len(want_ids) :] == -1).all()
    # Plain sampling: logprobs are the log-softmax at the temperature.
    res = tm.sample(y, temperature=1.3, seed=4, return_logprobs=True, top_logprobs=3)
    ls = np.log(ref_softmax(y, 1.3))
    assert float(res.logprobs) == pytest.approx(ls[int(res.tokens)], abs=2e-6)
    assert res.top_ids.tolist() == ref_order(y)[:3].tolist()


def test_greedy() -> None:
    x = logits(8, 1000)
    x[3, [10, 20]] = 100.0
    toks = tm.sample(x, temperature=0.0)
    want = x.argmax(axis=1)
    assert toks.tolist() == want.tolist() and toks[3] == 10
    assert toks.dtype == np.int64 and toks.shape == (8,)
    res = tm.sample(x[3], temperature=0.0, return_logprobs=True)
    assert int(res.tokens) == 10 and float(res.logprobs) == 0.0


# ----------------------------------------------------------------------------- determinism


def test_same_seed_same_token_regardless_of_batch_position_and_threads() -> None:
    rows = logits(9, 20_000)
    kw: dict[str, Any] = {
        "temperature": np.linspace(0.5, 1.5, 9),
        "top_k": np.array([0, 50, 0, 5, 0, 1000, 0, 3, 0]),
        "top_p": np.array([1.0, 1.0, 0.9, 0.5, 1.0, 0.95, 0.99, 1.0, 0.7]),
        "min_p": np.array([0.0, 0.0, 0.0, 0.0, 0.05, 0.01, 0.0, 0.0, 0.1]),
        "seed": np.arange(9) * 7919 + 5,
        "step": np.full(9, 17),
    }
    before = tm.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            tm.set_num_threads(threads)
            results.append(tm.sample(rows, n=4, **kw))
        full = results[0]
        for r in results[1:]:
            np.testing.assert_array_equal(r, full)
        perm = rng.permutation(9)
        pkw = {k: v[perm] for k, v in kw.items()}
        np.testing.assert_array_equal(tm.sample(rows[perm], n=4, **pkw), full[perm])
        for i in range(9):
            one = {k: v[i] for k, v in kw.items()}
            single = tm.sample(
                rows[i],
                n=4,
                **{
                    k: (int(v) if k in ("seed", "step", "top_k") else float(v))
                    for k, v in one.items()
                },
            )
            np.testing.assert_array_equal(single, full[i])
        other = np.concatenate([logits(5, 20_000), rows[2:3]])
        okw = {k: np.concatenate([v[:5], v[2:3]]) for k, v in kw.items()}
        np.testing.assert_array_equal(tm.sample(other, n=4, **okw)[5], full[2])
    finally:
        tm.set_num_threads(before)


def test_steps_and_unseeded_draws_vary() -> None:
    y = np.zeros(1000, dtype=np.float32)
    by_step = {tm.sample(y, seed=1, step=s) for s in range(20)}
    assert len(by_step) > 10
    unseeded = {tm.sample(y) for _ in range(20)}
    assert len(unseeded) > 10


def test_sampler_reuses_buffers_and_advances_steps() -> None:
    x = logits(4, 3000)
    s = tm.Sampler(4, temperature=0.8, top_p=0.9, seed=np.arange(4) + 100)
    a = s.sample(x)
    a_copy = a.copy()
    b = s.sample(x)
    assert b is not a or np.shares_memory(a, b)  # same buffer, overwritten
    np.testing.assert_array_equal(
        a_copy, tm.sample(x, temperature=0.8, top_p=0.9, seed=np.arange(4) + 100, step=0)
    )
    np.testing.assert_array_equal(
        b, tm.sample(x, temperature=0.8, top_p=0.9, seed=np.arange(4) + 100, step=1)
    )
    assert s.step == 2
    s2 = tm.Sampler(4, seed=5, return_logprobs=True, top_logprobs=2)
    r = s2.sample(x, step=9)
    assert r.tokens.shape == (4,) and r.top_ids.shape == (4, 2)
    with pytest.raises(ValueError, match="batch"):
        s.sample(x[:2])


def test_out_argument() -> None:
    x = logits(3, 100)
    out = np.empty(3, dtype=np.int64)
    got = tm.sample(x, seed=2, out=out)
    assert got is out
    np.testing.assert_array_equal(out, tm.sample(x, seed=2))
    out2 = np.empty((3, 4), dtype=np.int64)
    assert tm.sample(x, seed=2, n=4, out=out2) is out2
    with pytest.raises(ValueError, match="out"):
        tm.sample(x, out=np.empty(3, dtype=np.int32))


# ----------------------------------------------------------------------------- bad input


def test_bad_logits() -> None:
    x = logits(3, 10)
    nan = x.copy()
    nan[1, 4] = np.nan
    with pytest.raises(ValueError, match=r"row 1 contains NaN at token 4"):
        tm.sample(nan)
    with pytest.raises(ValueError, match=r"row 1 contains NaN"):
        tm.softmax(nan)
    inf = x.copy()
    inf[2, 3] = np.inf
    with pytest.raises(ValueError, match=r"row 2 contains \+inf at token 3"):
        tm.sample(inf)
    with pytest.raises(ValueError, match=r"\+inf"):
        tm.softmax(inf)
    ninf = x.copy()
    ninf[0] = -np.inf
    with pytest.raises(ValueError, match=r"row 0 is entirely -inf"):
        tm.sample(ninf)
    with pytest.raises(ValueError, match=r"row 0 is entirely -inf"):
        tm.softmax(ninf)
    masked = np.zeros((2, 2), dtype=np.int32)
    masked[0] = -1
    with pytest.raises(ValueError, match=r"row 1 is entirely -inf"):
        tm.sample(logits(2, 40), allowed_mask=masked)
    with pytest.raises(ValueError, match=r"row 0 contains \+inf"):
        tm.sample(logits(1, 40), logit_bias={3: float("inf")})
    with pytest.raises(ValueError, match="ndim=3"):
        tm.sample(np.zeros((2, 2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="ndim=0"):
        tm.softmax(np.float32(1.0))
    with pytest.raises(ValueError, match="vocab size 0"):
        tm.sample(np.zeros((2, 0), dtype=np.float32))
    with pytest.raises(TypeError, match="integer dtype"):
        tm.sample(np.zeros((2, 5), dtype=np.int64))
    with pytest.raises(TypeError, match="complex"):
        tm.softmax(np.zeros(5, dtype=np.complex64))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"temperature": -0.1}, r"temperature must be finite and >= 0, got -0.1 \(row 0\)"),
        ({"temperature": np.array([1.0, float("nan")])}, r"temperature .* \(row 1\)"),
        ({"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
        ({"top_p": np.array([0.5, 1.5])}, r"top_p must be in \(0, 1\], got 1.5 \(row 1\)"),
        ({"top_k": -1}, r"top_k must be an integer >= 0"),
        ({"top_k": 2.5}, r"top_k must be an integer >= 0"),
        ({"min_p": 1.5}, r"min_p must be in \[0, 1\]"),
        ({"min_p": -0.1}, r"min_p must be in \[0, 1\]"),
        ({"repetition_penalty": 0.0}, r"repetition_penalty must be finite and > 0"),
        ({"repetition_penalty": -1.0}, r"repetition_penalty"),
        ({"temperature": np.ones(3)}, r"temperature has shape \(3,\), expected .*\(2,\)"),
        ({"top_k": np.ones(5, dtype=np.int64)}, r"top_k has shape"),
        ({"seed": np.arange(3)}, r"seed has shape"),
        ({"seed": -1}, r"seed must be in \[0, 2\*\*64\)"),
        ({"seed": 2**64}, r"seed must be in \[0, 2\*\*64\)"),
        ({"step": -3}, r"step must be in \[0, 2\*\*64\)"),
        ({"seed": 1, "step": 2**64}, r"step must be in \[0, 2\*\*64\)"),
        (
            {"allowed_mask": np.zeros((2, 3), dtype=np.int32)},
            r"allowed_mask has shape \(2, 3\), expected \(2, 4\)",
        ),
        (
            {"allowed_mask": np.zeros((2, 4), dtype=np.float32)},
            r"allowed_mask must be packed int32",
        ),
        ({"token_history": [[1, 2]]}, r"token_history has 1 rows, expected batch size 2"),
        (
            {"token_history": [[1, 200], []], "repetition_penalty": 1.2},
            r"token id 200 is outside the vocabulary \[0, 100\) \(row 0\)",
        ),
        ({"logit_bias": {500: 1.0}}, r"logit_bias: token id 500 is outside"),
        ({"logit_bias": np.zeros(7)}, r"logit_bias has shape"),
        ({"n": 0}, r"n must be an int >= 1"),
        ({"top_logprobs": -1}, r"top_logprobs must be an int >= 0"),
    ],
)
def test_bad_parameters(kw: dict[str, Any], match: str) -> None:
    x = logits(2, 100)
    with pytest.raises((ValueError, TypeError), match=match):
        tm.sample(x, **kw)


def test_bad_softmax_temperature() -> None:
    with pytest.raises(ValueError, match=r"temperature must be finite and > 0 for softmax"):
        tm.softmax(logits(1, 5), 0.0)
    with pytest.raises(ValueError, match=r"temperature has shape"):
        tm.softmax(logits(2, 5), np.ones(3))


def test_scalar_and_per_row_keys_agree() -> None:
    """Plain-int seed/step (fast path) draw exactly what the same keys as per-row arrays draw."""
    x = np.random.default_rng(5).standard_normal((3, 500)).astype(np.float32)
    for seed, step in [(0, 0), (2**64 - 1, 7), (12345, 2**64 - 1)]:
        fast = tm.sample(x, seed=seed, step=step, n=4)
        rows = tm.sample(
            x,
            seed=np.full(3, seed, dtype=np.uint64),
            step=np.full(3, step, dtype=np.uint64),
            n=4,
        )
        np.testing.assert_array_equal(fast, rows)
