"""torch tensors in and out, bfloat16 logits, and the allowed-mask layouts and width rule.

References: the same call on numpy float32 arrays (bfloat16 widened by torch itself), and masks
built bit by bit here.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import tokenmill as tm
from tokenmill.sampling import SamplingParams


def _rows(seed: int, batch: int, vocab: int) -> npt.NDArray[np.float32]:
    return (np.random.default_rng(seed).standard_normal((batch, vocab)) * 3).astype(np.float32)


def test_sampling_never_imports_torch() -> None:
    code = (
        "import sys, numpy as np, tokenmill as tm\n"
        "x = np.zeros((2, 50), np.float32)\n"
        "tm.sample(x, seed=1, top_p=0.9); tm.softmax(x); tm.kept_mask(x, top_k=3)\n"
        "tm.sample(x, seed=1, allowed_mask=np.ones((2, 50), bool))\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bool_and_packbits_masks_equal_packed_words() -> None:
    x = _rows(1, 3, 100)
    rng = np.random.default_rng(2)
    bits = rng.random((3, 100)) < 0.3
    words = np.zeros((3, 4), dtype=np.uint32)
    for r, i in zip(*np.nonzero(bits), strict=True):
        words[r, i // 32] |= np.uint32(1) << np.uint32(i % 32)
    want = tm.kept_mask(x, allowed_mask=words.view(np.int32))
    np.testing.assert_array_equal(want, bits)
    np.testing.assert_array_equal(tm.kept_mask(x, allowed_mask=bits), bits)
    np.testing.assert_array_equal(tm.kept_mask(x, allowed_mask=np.packbits(bits, axis=-1)), bits)
    got = tm.sample(x, seed=4, allowed_mask=bits)
    np.testing.assert_array_equal(got, tm.sample(x, seed=4, allowed_mask=words))


def test_mask_width_rule() -> None:
    # A tokenizer narrower than the model's logits (Qwen2.5: 151665 tokens, 151936 logits).
    vocab, width = 151_936, 151_665
    x = np.zeros((1, vocab), np.float32)
    x[0, width + 5] = 50.0  # a padding id the model likes: it must never be drawn
    narrow = np.ones((1, width), dtype=bool)
    kept = tm.kept_mask(x, allowed_mask=narrow)
    assert kept[0, :width].all() and not kept[0, width:].any()
    assert tm.sample(x, seed=1, temperature=0, allowed_mask=narrow)[0] < width
    wide = np.zeros((1, vocab + 40), dtype=bool)
    wide[0, :10] = True
    np.testing.assert_array_equal(np.nonzero(tm.kept_mask(x, allowed_mask=wide)[0])[0], range(10))
    wide[0, vocab + 3] = True
    with pytest.raises(ValueError, match=r"allows token 151939 \(row 0\), past the logits' vocab"):
        tm.sample(x, allowed_mask=wide)
    with pytest.raises(ValueError, match=r"pass a bool \[batch, width\] mask to pad"):
        tm.sample(x, allowed_mask=np.zeros((1, width // 32 + 1), np.int32))
    with pytest.raises(TypeError, match="bool or packbits uint8"):
        tm.sample(x, allowed_mask=np.zeros((1, vocab), np.float32))


def test_uint16_bits_are_bfloat16() -> None:
    x = _rows(3, 2, 500)
    bits = (x.view(np.uint32) >> 16).astype(np.uint16)  # truncated to bfloat16
    widened = (bits.astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(
        tm.sample(bits, seed=2, top_k=9), tm.sample(widened, seed=2, top_k=9)
    )
    np.testing.assert_array_equal(tm.softmax(bits), tm.softmax(widened))


def test_ml_dtypes_bfloat16() -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = _rows(4, 2, 300)
    b = x.astype(ml_dtypes.bfloat16)
    np.testing.assert_array_equal(
        tm.sample(b, seed=1, top_p=0.9), tm.sample(b.astype(np.float32), seed=1, top_p=0.9)
    )


torch = pytest.importorskip("torch")


def test_torch_in_torch_out() -> None:
    x = _rows(5, 3, 1000)
    t = torch.from_numpy(x.copy())
    got = tm.sample(t, seed=3, top_k=20)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.int64
    np.testing.assert_array_equal(got.numpy(), tm.sample(x, seed=3, top_k=20))
    r = tm.sample(t, seed=3, logprobs="raw", top_logprobs=2)
    assert isinstance(r.tokens, torch.Tensor) and isinstance(r.top_logprobs, torch.Tensor)
    sm = tm.softmax(t)
    assert isinstance(sm, torch.Tensor)
    np.testing.assert_array_equal(np.asarray(sm), tm.softmax(x))
    assert isinstance(tm.kept_mask(t, top_p=0.5), torch.Tensor)
    assert tm.sample(t[0], seed=1) == tm.sample(x[0], seed=1)  # one row: an int


def test_requires_grad_bfloat16_and_non_contiguous_tensors() -> None:
    x = _rows(6, 2, 800)
    g = torch.from_numpy(x.copy()).requires_grad_(True)
    np.testing.assert_array_equal(tm.sample(g, seed=1).numpy(), tm.sample(x, seed=1))
    b = torch.from_numpy(x.copy()).to(torch.bfloat16)
    want = tm.sample(b.float().numpy(), seed=2, top_p=0.8)
    np.testing.assert_array_equal(tm.sample(b, seed=2, top_p=0.8).numpy(), want)
    wide = torch.from_numpy(_rows(7, 2, 1600))
    view = wide[:, ::2]
    np.testing.assert_array_equal(
        tm.sample(view, seed=5).numpy(), tm.sample(np.ascontiguousarray(view.numpy()), seed=5)
    )


def test_torch_history_mask_and_out() -> None:
    x = _rows(8, 2, 300)
    t = torch.from_numpy(x.copy())
    hist = torch.tensor([[1, 2, 2], [5, -1, -1]])
    mask = torch.from_numpy(np.random.default_rng(1).random((2, 300)) < 0.5)
    kw: dict[str, Any] = {"seed": 9, "repetition_penalty": 1.5}
    want = tm.sample(x, token_history=hist.numpy(), allowed_mask=mask.numpy(), **kw)
    out = torch.empty(2, dtype=torch.int64)
    got = tm.sample(t, token_history=hist, allowed_mask=mask, out=out, **kw)
    assert got is out
    np.testing.assert_array_equal(out.numpy(), want)
    sm_out = torch.empty(2, 300)
    assert tm.softmax(t, out=sm_out) is sm_out
    np.testing.assert_array_equal(np.asarray(sm_out), tm.softmax(x))
    bs = tm.BatchSampler()
    bs.add(0, SamplingParams(seed=1))
    bs_out = torch.empty(1, dtype=torch.int64)
    assert bs.step(t[:1], [0], out=bs_out) is bs_out
    assert int(bs_out[0]) == tm.sample(x[0], seed=1)


def test_device_tensors_get_a_tokenmill_error() -> None:
    meta = torch.empty(2, 10, device="meta")
    with pytest.raises(
        ValueError, match=r"tokenmill samples on the CPU, and this tensor is on meta"
    ):
        tm.sample(meta)
    with pytest.raises(ValueError, match=r"on the CPU"):
        tm.softmax(meta)


def test_rejection_sample_with_torch() -> None:
    rng = np.random.default_rng(2)
    target = rng.standard_normal((3, 3, 40)).astype(np.float32)
    drafts = rng.integers(0, 40, size=(3, 2))
    tok, acc = tm.rejection_sample(torch.from_numpy(target), torch.from_numpy(drafts), None, seed=1)
    assert isinstance(tok, torch.Tensor) and isinstance(acc, torch.Tensor)
    want = tm.rejection_sample(target, drafts, None, seed=1)
    np.testing.assert_array_equal(tok.numpy(), want[0])


def _bf16_bits(x: npt.NDArray[np.float32]) -> npt.NDArray[np.uint16]:
    """Round-to-nearest-even bfloat16 bit patterns of ``x`` (finite values), computed here."""
    u = x.view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def test_bfloat16_rows_give_what_their_float32_values_give() -> None:
    """The kernels widen bfloat16 rows themselves: tokens, logprobs (raw and processed), top
    entries, kept sets, softmax and BatchSampler steps equal the float32 path on the widened
    values, with penalties, bias and masks, at the Llama-3 vocabulary size."""
    batch, vocab = 6, 128_256
    bits = _bf16_bits(_rows(11, batch, vocab))
    bits[1, 17] = 0xFF80  # -inf
    widened = (bits.astype(np.uint32) << 16).view(np.float32)
    assert np.isfinite(widened).sum() == batch * vocab - 1
    rng = np.random.default_rng(3)
    kw: dict[str, Any] = {
        "seed": np.arange(batch, dtype=np.uint64),
        "temperature": np.array([0.0, 0.7, 1.0, 1.2, 0.9, 0.8]),
        "top_k": np.array([0, 50, 0, 0, 0, 40]),
        "top_p": np.array([1.0, 1.0, 0.9, 1.0, 1.0, 0.95]),
        "min_p": np.array([0.0, 0.0, 0.0, 0.05, 0.0, 0.0]),
        "typical_p": np.array([1.0, 1.0, 1.0, 1.0, 0.9, 1.0]),
    }
    procs: dict[str, Any] = {
        "repetition_penalty": 1.3,
        "token_history": rng.integers(0, vocab, size=(batch, 20)),
        "logit_bias": {5: 2.0, 99: -1.0},
        "allowed_mask": rng.random((batch, vocab)) < 0.9,
    }
    sources = [bits, torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16)]
    for extra in ({}, procs):
        for mode in ("raw", "processed"):
            want = tm.sample(widened, n=3, logprobs=mode, top_logprobs=4, **kw, **extra)
            for src in sources:
                got = tm.sample(src, n=3, logprobs=mode, top_logprobs=4, **kw, **extra)
                for g, w in zip(got, want, strict=True):
                    np.testing.assert_array_equal(np.asarray(g), w)
        want_kept = tm.kept_mask(widened, **{k: v for k, v in kw.items() if k != "seed"}, **extra)
        np.testing.assert_array_equal(tm.kept_mask(bits, **kw, **extra), want_kept)
    for r in range(batch):  # one row: the single-row call, 1-D and [1, vocab]
        one: dict[str, Any] = {"seed": 7, "temperature": 0.9, "top_k": 30, "top_p": 0.95}
        assert tm.sample(bits[r], **one) == tm.sample(widened[r], **one)
        np.testing.assert_array_equal(
            np.asarray(tm.sample(bits[r : r + 1], **one)),
            np.asarray(tm.sample(widened[r : r + 1], **one)),
        )
    for t in (0.6, 1.0):
        np.testing.assert_array_equal(tm.softmax(bits, t), tm.softmax(widened, t))
        np.testing.assert_array_equal(tm.log_softmax(bits[2], t), tm.log_softmax(widened[2], t))
    a, b = tm.BatchSampler(), tm.BatchSampler()
    for r in range(batch):
        p = SamplingParams(seed=r, temperature=0.8, top_p=0.95, repetition_penalty=1.1)
        a.add(r, p, history=[1, 2, 3])
        b.add(r, p, history=[1, 2, 3])
    order = [4, 0, 5, 1, 3, 2]
    for _ in range(3):
        np.testing.assert_array_equal(a.step(bits, order), b.step(widened, order))
    with pytest.raises(ValueError, match=r"logits row 3 contains NaN at token 7"):
        nan = bits.copy()
        nan[3, 7] = 0x7FC0
        tm.sample(nan, seed=1)


def test_bfloat16_batch_is_not_widened_in_numpy() -> None:
    """Sampling a [32, 128256] bfloat16 batch (8 MB) allocates no float32 copy of it (16 MB):
    numpy's allocations, traced, stay far below the size of one."""
    import tracemalloc

    bits = _bf16_bits(_rows(12, 32, 128_256))
    t = torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16)
    tm.sample(bits, seed=1, top_p=0.9)  # warm-up (thread-local scratch rows are native memory)
    tracemalloc.start()
    try:
        for src in (bits, t):
            tm.sample(src, seed=1, top_p=0.9)
            tm.kept_mask(src, top_k=5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # kept_mask's own bool output is 4 MB; a float32 copy of the batch would add 16 MB.
    assert peak < 6 * 2**20, f"traced peak {peak / 2**20:.1f} MiB"
