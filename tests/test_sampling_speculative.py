"""Speculative decoding (rejection sampling) and typical-p.

The emitted tokens must follow the target distribution exactly: chi-square tests over 1e5+
trials on small vocabularies, with drafts drawn from the draft distribution by numpy, for several
draft/target pairs (close, far, disjoint supports, deterministic drafts). Target distributions are
computed here in float64 from the documented filter rules (sort-based), not by tokenmill.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import tokenmill as tm
from test_sampling import chi2_sf

F64 = npt.NDArray[np.float64]


def target_probs(
    logits: npt.NDArray[np.float32], t: float, top_k: int = 0, top_p: float = 1.0
) -> F64:
    """The documented target: temperature, then top-k, then top-p over the sorted row (ties to the
    lower id), renormalised; greedy is one-hot at the lowest-id argmax."""
    x = logits.astype(np.float64)
    if t == 0:
        p = np.zeros_like(x)
        p[int(np.argmax(x))] = 1.0
        return p
    order = np.lexsort((np.arange(x.size), -x))
    keep = np.zeros(x.size, dtype=bool)
    n = top_k if 0 < top_k < x.size else x.size
    keep[order[:n]] = True
    e = np.exp((x - x.max()) / t) * keep
    if top_p < 1:
        cum = np.cumsum(e[order] / e.sum())
        cut = int(np.searchsorted(cum, top_p)) + 1  # shortest prefix reaching top_p
        keep2 = np.zeros(x.size, dtype=bool)
        keep2[order[:cut]] = True
        e = e * keep2
    return e / e.sum()  # type: ignore[no-any-return]


def assert_follows(tokens: npt.NDArray[np.int64], p: F64, what: str) -> None:
    counts = np.bincount(tokens, minlength=p.size).astype(np.float64)
    n = counts.sum()
    assert counts[p == 0].sum() == 0, f"{what}: tokens outside the support"
    support = p > 0
    if support.sum() < 2 or n == 0:
        return
    expected = p[support] * n
    stat = float(((counts[support] - expected) ** 2 / expected).sum())
    pval = chi2_sf(stat, int(support.sum()) - 1)
    assert pval > 1e-4, f"{what}: chi-square p-value {pval:.2e} (n={n:.0f})"


def _draft(rng: np.random.Generator, q: F64, batch: int) -> npt.NDArray[np.int64]:
    return rng.choice(q.size, size=batch, p=q).astype(np.int64)


PAIRS = {
    "close": ([2.0, 1.0, 0.5, 0.0, -1.0, -2.0], [1.8, 1.2, 0.4, 0.1, -1.0, -1.5]),
    "far": ([3.0, -1.0, 0.0, 1.0, -2.0, 0.5], [-2.0, 2.0, 1.5, -1.0, 0.0, 2.5]),
    # Disjoint supports: every draft token is rejected, every token comes from the residual.
    "disjoint": (
        [2.0, 1.5, 1.0, -np.inf, -np.inf, -np.inf],
        [-np.inf, -np.inf, -np.inf, 1.0, 2.0, 0.0],
    ),
}


@pytest.mark.parametrize("pair", sorted(PAIRS))
@pytest.mark.parametrize(
    "kw",
    [{"temperature": 1.0}, {"temperature": 0.7, "top_k": 4}, {"temperature": 1.3, "top_p": 0.8}],
)
def test_emitted_tokens_follow_the_target(pair: str, kw: dict[str, Any]) -> None:
    trials, k = 120_000, 2
    tgt = [np.array(PAIRS[pair][0], np.float32), np.array(PAIRS[pair][0][::-1], np.float32)]
    tgt.append(np.array([0.0, 1.0, 2.0, 0.5, -0.5, 1.5], np.float32))  # bonus position
    drf = np.array(PAIRS[pair][1], np.float64)
    q = np.exp(drf - drf.max())
    q /= q.sum()
    q_rows = [q, q[::-1].copy()]
    rng = np.random.default_rng(hash(pair) % 2**32)
    drafts = np.stack([_draft(rng, q_rows[i], trials) for i in range(k)], axis=1)
    target = np.broadcast_to(np.stack(tgt), (trials, k + 1, 6))
    probs = np.broadcast_to(np.stack(q_rows).astype(np.float32), (trials, k, 6))
    tokens, accepted = tm.rejection_sample(
        target, drafts, probs, seed=np.arange(trials, dtype=np.uint64), step=3, **kw
    )
    assert tokens.shape == (trials, k + 1) and accepted.shape == (trials,)
    p = [target_probs(t, kw["temperature"], kw.get("top_k", 0), kw.get("top_p", 1.0)) for t in tgt]
    # Position 0 is always emitted; position i is emitted (and follows p_i) when i drafts were
    # accepted; the bonus when all were. After the first non-accepted position: -1.
    assert_follows(tokens[:, 0], p[0], f"{pair} position 0")
    for i in range(1, k + 1):
        emitted = accepted >= i
        assert (tokens[emitted, i] >= 0).all() and (tokens[~emitted, i] == -1).all()
        assert_follows(tokens[emitted, i], p[i], f"{pair} position {i}")
    for i in range(k):
        ok = accepted > i
        np.testing.assert_array_equal(tokens[ok, i], drafts[ok, i])  # accepted = the draft
    if pair == "disjoint":
        assert (accepted == 0).all()
    # Acceptance rate: sum_x min(p, q) per position (the first position, unconditionally).
    rate = float(np.minimum(p[0], q_rows[0]).sum())
    got = float((accepted >= 1).mean())
    assert abs(got - rate) < 5 * math.sqrt(rate * (1 - rate) / trials) + 1e-9


@pytest.mark.parametrize("temperature", [1.0, 0.0])
def test_deterministic_draft_follows_the_target(temperature: float) -> None:
    trials = 100_000
    tgt = np.array([[1.0, 0.2, -0.5, 0.8, 0.0], [0.0, 0.0, 1.0, 2.0, -1.0]], np.float32)
    rng = np.random.default_rng(7)
    drafts = rng.integers(0, 5, size=(trials, 1))  # any token ids: n-gram lookup
    target = np.broadcast_to(tgt, (trials, 2, 5))
    tokens, accepted = tm.rejection_sample(
        target,
        drafts,
        None,
        temperature=temperature,
        seed=11,
        step=np.arange(trials, dtype=np.uint64),
    )
    p0 = target_probs(tgt[0], temperature)
    p1 = target_probs(tgt[1], temperature)
    assert_follows(tokens[:, 0], p0, "deterministic position 0")
    assert_follows(tokens[accepted == 1, 1], p1, "deterministic bonus")
    # A one-hot draft is accepted with probability p(d).
    for d in range(5):
        sel = drafts[:, 0] == d
        rate = float((accepted[sel] == 1).mean())
        assert abs(rate - p0[d]) < 5 * math.sqrt(max(p0[d] * (1 - p0[d]), 1e-12) / sel.sum()) + 1e-9


def test_rejection_sample_is_reproducible_per_row_and_checks_inputs() -> None:
    rng = np.random.default_rng(3)
    target = rng.standard_normal((4, 4, 50)).astype(np.float32)
    drafts = rng.integers(0, 50, size=(4, 3))
    q = rng.dirichlet(np.ones(50), size=(4, 3)).astype(np.float32)
    seeds = np.array([5, 6, 7, 8], dtype=np.uint64)
    a = tm.rejection_sample(target, drafts, q, seed=seeds, top_p=0.9)
    b = tm.rejection_sample(target[::-1], drafts[::-1], q[::-1], seed=seeds[::-1], top_p=0.9)
    np.testing.assert_array_equal(a[0], b[0][::-1])
    np.testing.assert_array_equal(a[1], b[1][::-1])
    one = tm.rejection_sample(target[2:3], drafts[2:3], q[2:3], seed=7, top_p=0.9)
    np.testing.assert_array_equal(one[0][0], a[0][2])
    with pytest.raises(ValueError, match=r"draft row 1, position 2: draft token 50 is outside"):
        bad = drafts.copy()
        bad[1, 2] = 50
        tm.rejection_sample(target, bad, q)
    with pytest.raises(ValueError, match=r"draft row 0, position 1: draft_probs sums to"):
        q2 = q.copy()
        q2[0, 1] *= 2
        tm.rejection_sample(target, drafts, q2)
    with pytest.raises(ValueError, match=r"draft_token_ids has shape \(4, 2\), expected \(4, 3\)"):
        tm.rejection_sample(target, drafts[:, :2], None)
    with pytest.raises(ValueError, match=r"draft_probs has shape"):
        tm.rejection_sample(target, drafts, q[:, :, :10])


@pytest.mark.parametrize("layout", ["padding", "num_draft_tokens"])
def test_rows_with_different_draft_counts_follow_the_target(layout: str) -> None:
    """One batch of width K = 3 whose rows hold 0, 1, 2 or 3 draft tokens: every emitted position
    of every row follows the target distribution of that position. Entries past a row's count are
    garbage the sampler must not read: with ``num_draft_tokens`` the ids are arbitrary, the draft
    distributions zero (they would fail the sum check) and the target rows NaN (they would fail
    the NaN check)."""
    per_k, width = 40_000, 3
    ks = np.repeat(np.arange(width + 1), per_k)
    trials = ks.size
    tgt = np.array(
        [
            [2.0, 1.0, 0.5, 0.0, -1.0, -2.0],
            [-1.0, 0.5, 2.0, 1.0, 0.0, 0.3],
            [0.0, 0.0, 1.0, 2.0, -np.inf, 1.5],
            [1.0, 2.0, -1.0, 0.0, 0.5, 0.0],
        ],
        np.float32,
    )
    drf = np.array(
        [[-2.0, 2.0, 1.5, -1.0, 0.0, 2.5], [1.8, 1.2, 0.4, 0.1, -1.0, -1.5], [0.0] * 6], np.float64
    )
    q = np.exp(drf - drf.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    rng = np.random.default_rng(29)
    drafts = np.stack([_draft(rng, q[i], trials) for i in range(width)], axis=1)
    target = np.repeat(tgt[None], trials, axis=0)
    probs = np.repeat(q.astype(np.float32)[None], trials, axis=0)
    past = np.arange(width)[None, :] >= ks[:, None]  # entries past each row's count
    extra: dict[str, Any] = {}
    if layout == "padding":
        drafts[past] = -1
    else:
        drafts[past] = 99  # not a token: must not be read
        probs[past] = 0.0
        target[np.arange(width + 1)[None, :] > ks[:, None]] = np.nan
        extra["num_draft_tokens"] = ks
    tokens, accepted = tm.rejection_sample(
        target, drafts, probs, seed=np.arange(trials, dtype=np.uint64), temperature=0.8, **extra
    )
    assert tokens.shape == (trials, width + 1)
    assert (accepted <= ks).all() and (accepted >= 0).all()
    p = [target_probs(t, 0.8) for t in tgt]
    for k in range(width + 1):
        rows = ks == k
        tk, ak = tokens[rows], accepted[rows]
        assert (tk[:, k + 1 :] == -1).all(), f"k={k}: tokens past the bonus position"
        for i in range(k + 1):
            emitted = ak >= i
            assert (tk[emitted, i] >= 0).all() and (tk[~emitted, i] == -1).all()
            assert_follows(tk[emitted, i], p[i], f"k={k} position {i}")
        for i in range(k):
            ok = ak > i
            np.testing.assert_array_equal(tk[ok, i], drafts[rows][ok, i])
        if k:  # acceptance at position 0: sum_x min(p_0, q_0)
            rate = float(np.minimum(p[0], q[0]).sum())
            got = float((ak >= 1).mean())
            assert abs(got - rate) < 5 * math.sqrt(rate * (1 - rate) / per_k)


def test_a_row_with_fewer_drafts_gives_what_it_gives_alone() -> None:
    rng = np.random.default_rng(8)
    target = rng.standard_normal((3, 5, 40)).astype(np.float32)
    q = rng.dirichlet(np.ones(40), size=(3, 4)).astype(np.float32)
    drafts = rng.integers(0, 40, size=(3, 4))
    counts = np.array([4, 1, 2])
    padded = np.where(np.arange(4)[None, :] < counts[:, None], drafts, -1)
    seeds = np.array([1, 2, 3], dtype=np.uint64)
    both = [
        tm.rejection_sample(target, padded, q, seed=seeds, top_k=20),
        tm.rejection_sample(target, drafts, q, seed=seeds, top_k=20, num_draft_tokens=counts),
    ]
    for r, k in enumerate(counts):
        row = slice(r, r + 1)
        alone_t, alone_a = tm.rejection_sample(
            target[row, : k + 1], drafts[row, :k], q[row, :k], seed=r + 1, top_k=20
        )
        for tokens, accepted in both:
            np.testing.assert_array_equal(tokens[r, : k + 1], alone_t[0])
            assert (tokens[r, k + 1 :] == -1).all()
            assert accepted[r] == alone_a[0]


def test_bfloat16_target_logits_verify_as_their_float32_values() -> None:
    """bfloat16 target logits (uint16 bits, torch bf16 when torch is present) are read by the
    kernels and give what their widened float32 values give."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((5, 4, 300)).astype(np.float32) * 3
    bits = (x.view(np.uint32) >> 16).astype(np.uint16)
    widened = (bits.astype(np.uint32) << 16).view(np.float32)
    drafts = np.where(rng.random((5, 3)) < 0.8, rng.integers(0, 300, size=(5, 3)), -1)
    drafts[drafts[:, 0] == -1] = -1  # padding only after the drafts
    drafts[:, 2][drafts[:, 1] == -1] = -1
    q = rng.dirichlet(np.ones(300), size=(5, 3)).astype(np.float32)
    kw: dict[str, Any] = {"seed": np.arange(5, dtype=np.uint64), "temperature": 0.9, "top_p": 0.95}
    sources: list[Any] = [bits]
    try:
        import torch

        sources.append(torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16))
    except ImportError:
        pass
    for probs in (None, q):
        want = tm.rejection_sample(widened, drafts, probs, **kw)
        for src in sources:
            got = tm.rejection_sample(src, drafts, probs, **kw)
            np.testing.assert_array_equal(np.asarray(got[0]), want[0])
            np.testing.assert_array_equal(np.asarray(got[1]), want[1])


def test_bad_draft_counts_name_row_and_position() -> None:
    target = np.zeros((2, 4, 10), np.float32)
    drafts = np.array([[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match=r"row 1, position 0: num_draft_tokens is 4, outside"):
        tm.rejection_sample(target, drafts, None, num_draft_tokens=[3, 4])
    with pytest.raises(ValueError, match=r"draft row 0, position 1: .*padding \(-1\) inside"):
        tm.rejection_sample(target, [[1, -1, 3], [4, 5, 6]], None, num_draft_tokens=[3, 3])
    with pytest.raises(ValueError, match=r"draft row 1, position 2: draft token 6 follows padding"):
        tm.rejection_sample(target, [[1, 2, 3], [4, -1, 6]], None)
    with pytest.raises(ValueError, match=r"num_draft_tokens must be 2 ints"):
        tm.rejection_sample(target, drafts, None, num_draft_tokens=[1, 2, 3])
    with pytest.raises(ValueError, match=r"num_draft_tokens must be 2 ints"):
        tm.rejection_sample(target, drafts, None, num_draft_tokens=[1.0, 2.0])


# ----------------------------------------------------------------------------- typical-p


def hf_typical_kept(scores: npt.NDArray[np.float32], mass: float) -> npt.NDArray[np.bool_]:
    """transformers' TypicalLogitsWarper (min_tokens_to_keep=1), written here in numpy float64."""
    x = scores.astype(np.float64)
    logp = x - x.max()
    logp = logp - np.log(np.exp(logp).sum())
    p = np.exp(logp)
    ent = -np.nansum(logp * p)
    shifted = np.abs(-logp - ent)
    order = np.argsort(shifted, kind="stable")
    cum = np.cumsum(p[order])
    last = min(int((cum < mass).sum()), x.size - 1)
    keep = shifted <= shifted[order[last]]
    keep[order[0]] = True
    return keep  # type: ignore[no-any-return]


@pytest.mark.parametrize("mass", [0.2, 0.5, 0.9, 0.95])
def test_typical_p_kept_sets_match_the_hf_rule(mass: float) -> None:
    rng = np.random.default_rng(int(mass * 100))
    for trial in range(20):
        x = (rng.standard_normal(3000) * rng.choice([0.5, 2.0, 4.0])).astype(np.float32)
        got = tm.kept_mask(x, typical_p=mass)
        np.testing.assert_array_equal(got, hf_typical_kept(x, mass), err_msg=f"trial {trial}")
        t = tm.sample(x, typical_p=mass, seed=trial)
        assert got[t]


def test_typical_p_against_transformers() -> None:
    torch = pytest.importorskip("torch")
    generation = pytest.importorskip("transformers.generation.logits_process")
    rng = np.random.default_rng(1)
    for mass in (0.3, 0.9):
        warper = generation.TypicalLogitsWarper(mass)
        x = (rng.standard_normal((8, 2000)) * 2).astype(np.float32)
        out = warper(None, torch.from_numpy(x.copy())).numpy()
        np.testing.assert_array_equal(tm.kept_mask(x, typical_p=mass), np.isfinite(out))
