"""The single-row fast path of ``tm.sample`` (plain Python numbers, no processors, one draw).

It must be the general path with less bookkeeping: every test here runs the same call through
both (the general path is forced by passing ``step`` as a numpy integer, which the fast path does
not take) and compares tokens, return types and error messages.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tokenmill as tm


def _general(x: Any, **kw: Any) -> Any:
    kw["step"] = np.int64(kw.get("step", 0))
    return tm.sample(x, **kw)


SETTINGS = [
    {"temperature": 0.7, "top_k": 50},
    {"temperature": 0.7, "top_p": 0.9},
    {"temperature": 1.0, "min_p": 0.05},
    {"temperature": 1.3, "top_k": 5, "top_p": 0.5, "min_p": 0.01},
    {"temperature": 0.0},
    {"temperature": 1},
    {},
]


@pytest.mark.parametrize("vocab", [7, 1000, 32000, 128256])
@pytest.mark.parametrize("setting", SETTINGS)
def test_fast_path_gives_the_general_paths_tokens(vocab: int, setting: dict[str, Any]) -> None:
    rng = np.random.default_rng(vocab)
    for trial in range(6):
        x = (rng.standard_normal(vocab) * rng.choice([0.3, 3.0, 12.0])).astype(np.float32)
        for step in (0, 1, 2**40):
            kw = {**setting, "seed": trial * 1000 + 17, "step": step}
            fast = tm.sample(x, **kw)
            assert type(fast) is int
            assert fast == _general(x, **kw)
            two_d = tm.sample(x[None, :], **kw)
            assert isinstance(two_d, np.ndarray)
            assert two_d.dtype == np.int64 and two_d.shape == (1,)
            assert int(two_d[0]) == fast


def test_unseeded_fast_path_draws_inside_the_kept_set() -> None:
    x = (np.random.default_rng(3).standard_normal(5000) * 0.5).astype(np.float32)
    kept = np.asarray(tm.kept_mask(x, temperature=0.7, top_p=0.5)).reshape(-1)
    assert kept.sum() > 100
    draws = {tm.sample(x, temperature=0.7, top_p=0.5) for _ in range(300)}
    assert all(kept[t] for t in draws)
    assert len(draws) > 50  # fresh OS randomness per call


@pytest.mark.parametrize(
    "kw",
    [
        {"temperature": -1.0},
        {"top_p": 0.0},
        {"top_p": 1.5},
        {"top_k": -3},
        {"min_p": 2.0},
        {"temperature": float("nan")},
    ],
)
def test_fast_path_errors_match_the_general_paths(kw: dict[str, Any]) -> None:
    x = np.zeros(100, dtype=np.float32)
    with pytest.raises(ValueError) as fast:
        tm.sample(x, seed=1, **kw)
    with pytest.raises(ValueError) as general:
        _general(x, seed=1, **kw)
    assert str(fast.value) == str(general.value)


def test_fast_path_reports_bad_rows_like_the_general_path() -> None:
    for bad in (np.nan, np.inf):
        x = np.zeros(64, dtype=np.float32)
        x[37] = bad
        with pytest.raises(ValueError) as fast:
            tm.sample(x, seed=1)
        with pytest.raises(ValueError) as general:
            _general(x, seed=1)
        assert str(fast.value) == str(general.value)
        assert "37" in str(fast.value)
    masked = np.full(64, -np.inf, dtype=np.float32)
    with pytest.raises(ValueError) as fast:
        tm.sample(masked, seed=1)
    with pytest.raises(ValueError) as general:
        _general(masked, seed=1)
    assert str(fast.value) == str(general.value)
