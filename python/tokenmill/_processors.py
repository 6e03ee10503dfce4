"""The logits processors' inputs (token histories, logit bias, allowed-token masks) in the CSR
layout the native core reads: row ``r`` owns ``ids[offsets[r]:offsets[r + 1]]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from tokenmill._arrays import as_numpy, torch_of

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

EMPTY_I64 = np.zeros(0, dtype=np.int64)
EMPTY_F32 = np.zeros(0, dtype=np.float32)


class Procs(NamedTuple):
    history_offsets: I64
    history_ids: I64
    history_counts: I64
    bias_offsets: I64
    bias_ids: I64
    bias_values: F32
    mask: npt.NDArray[np.uint32] | None


NO_PROCS = Procs(EMPTY_I64, EMPTY_I64, EMPTY_I64, EMPTY_I64, EMPTY_I64, EMPTY_F32, None)


def _int_row(name: str, row: Any, r: int) -> I64:
    a = np.asarray(row)
    if a.size == 0:
        return EMPTY_I64
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} row {r} must contain integers, got dtype {a.dtype}")
    return a.reshape(-1).astype(np.int64, copy=False)


def history(
    token_history: Any, token_counts: Any, batch: int, vocab: int, one_d: bool
) -> tuple[I64, I64, I64]:
    if token_history is not None and token_counts is not None:
        raise TypeError("pass token_history or token_counts, not both")
    if token_counts is not None:
        c = as_numpy(token_counts)
        if c.dtype.kind not in "iu":
            raise TypeError(f"token_counts must be an integer array, got dtype {c.dtype}")
        if one_d and c.ndim == 1:
            c = c.reshape(1, -1)
        if c.shape != (batch, vocab):
            raise ValueError(f"token_counts has shape {c.shape}, expected ({batch}, {vocab})")
        rows, ids = np.nonzero(c > 0)
        counts = c[rows, ids].astype(np.int64)
        offsets = np.zeros(batch + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=batch), out=offsets[1:])
        return offsets, ids.astype(np.int64), counts
    if token_history is None:
        return EMPTY_I64, EMPTY_I64, EMPTY_I64
    if torch_of(token_history) is not None:  # a torch tensor of ids
        token_history = as_numpy(token_history)
    if one_d:
        token_history = [token_history]
    if isinstance(token_history, np.ndarray) and token_history.ndim == 2:
        per_row: Sequence[Any] = list(token_history)
    elif isinstance(token_history, (Sequence, np.ndarray)):
        per_row = list(token_history)
    else:
        raise TypeError("token_history must be a sequence of per-row token sequences")
    if len(per_row) != batch:
        raise ValueError(f"token_history has {len(per_row)} rows, expected batch size {batch}")
    ids_parts: list[I64] = []
    count_parts: list[I64] = []
    offsets = np.zeros(batch + 1, dtype=np.int64)
    for r, row in enumerate(per_row):
        a = _int_row("token_history", row, r)
        a = a[a >= 0]  # negative ids are padding
        u, c = np.unique(a, return_counts=True)
        ids_parts.append(u.astype(np.int64))
        count_parts.append(c.astype(np.int64))
        offsets[r + 1] = offsets[r] + len(u)
    ids = np.concatenate(ids_parts) if ids_parts else EMPTY_I64
    counts = np.concatenate(count_parts) if count_parts else EMPTY_I64
    return offsets, ids, counts


def bias(logit_bias: Any, batch: int, vocab: int, one_d: bool) -> tuple[I64, I64, F32]:
    if logit_bias is None:
        return EMPTY_I64, EMPTY_I64, EMPTY_F32
    if isinstance(logit_bias, Mapping):
        maps: Sequence[Any] = [logit_bias] * batch
    elif (
        isinstance(logit_bias, Sequence)
        and len(logit_bias) > 0
        and all(isinstance(m, Mapping) for m in logit_bias)
    ):
        maps = logit_bias
        if len(maps) != batch:
            raise ValueError(f"logit_bias has {len(maps)} rows, expected batch size {batch}")
    else:
        dense = np.asarray(logit_bias)
        if dense.dtype.kind not in "iuf":
            raise TypeError(f"logit_bias must be a dict or a numeric array, got {dense.dtype}")
        if dense.ndim == 1:
            dense = np.broadcast_to(dense, (batch, dense.shape[0]))
        if dense.shape != (batch, vocab):
            raise ValueError(
                f"logit_bias has shape {np.shape(logit_bias)}, expected ({vocab},) or "
                f"({batch}, {vocab})"
            )
        rows, ids = np.nonzero(dense)
        offsets = np.zeros(batch + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=batch), out=offsets[1:])
        return offsets, ids.astype(np.int64), dense[rows, ids].astype(np.float32)
    offsets = np.zeros(batch + 1, dtype=np.int64)
    ids_l: list[int] = []
    vals_l: list[float] = []
    for r, m in enumerate(maps):
        for k, v in m.items():
            if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
                raise TypeError(f"logit_bias keys must be token ids (int), got {k!r} (row {r})")
            ids_l.append(int(k))
            vals_l.append(float(v))
        offsets[r + 1] = len(ids_l)
    return (
        offsets,
        np.array(ids_l, dtype=np.int64),
        np.array(vals_l, dtype=np.float32),
    )


def mask(allowed_mask: Any, batch: int, vocab: int, one_d: bool) -> npt.NDArray[np.uint32] | None:
    """The allowed-token mask as packed uint32 words, ``ceil(vocab / 32)`` per row.

    Layouts: packed int32 / uint32 ``[batch, ceil(vocab / 32)]`` (token ``i`` allowed iff bit
    ``i % 32`` of word ``i // 32``; xgrammar's bitmask), exactly that width; bool
    ``[batch, width]``; uint8 ``[batch, ceil(width / 8)]`` as ``np.packbits(mask, axis=-1)``
    (numpy's default bit order). Width rule for bool and uint8 masks: a mask narrower than the
    logits (a tokenizer of 151665 tokens for a model with 151936 logits, as Qwen2.5) disallows
    the ids past its width; a wider one may only disallow the ids past the logits.
    """
    if allowed_mask is None:
        return None
    m = as_numpy(allowed_mask)
    words = (vocab + 31) // 32
    if one_d and m.ndim == 1:
        m = m.reshape(1, -1)
    if m.dtype in (np.int32, np.uint32):
        if m.shape != (batch, words):
            raise ValueError(
                f"allowed_mask has shape {m.shape}, expected ({batch}, {words}) = "
                f"(batch, ceil(vocab / 32)); pass a bool [batch, width] mask to pad a narrower one"
            )
        return np.require(m, None, ("C", "A")).view(np.uint32)
    if m.dtype == np.uint8 and m.ndim == 2:
        m = np.unpackbits(m, axis=-1).astype(np.bool_)
    elif m.dtype != np.bool_:
        raise TypeError(
            f"allowed_mask must be packed int32 (or uint32), bool or packbits uint8, got dtype "
            f"{m.dtype}"
        )
    if m.ndim != 2 or m.shape[0] != batch:
        raise ValueError(f"allowed_mask has shape {m.shape}, expected ({batch}, width)")
    width = m.shape[1]
    if width > vocab:
        extra = np.argwhere(m[:, vocab:])
        if extra.size:
            r, i = (int(v) for v in extra[0])
            raise ValueError(
                f"allowed_mask allows token {vocab + i} (row {r}), past the logits' vocab {vocab}"
            )
        m = m[:, :vocab]
    bits = np.zeros((batch, words * 32), dtype=np.bool_)
    bits[:, : m.shape[1]] = m
    packed = np.packbits(bits, axis=-1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u4").astype(np.uint32, copy=False)


def procs(
    batch: int,
    vocab: int,
    one_d: bool,
    token_history: Any,
    token_counts: Any,
    logit_bias: Any,
    allowed_mask: Any,
) -> Procs:
    if (
        token_history is None
        and token_counts is None
        and logit_bias is None
        and allowed_mask is None
    ):
        return NO_PROCS  # fast path: no processors at all
    ho, hi, hc = history(token_history, token_counts, batch, vocab, one_d)
    bo, bi, bv = bias(logit_bias, batch, vocab, one_d)
    return Procs(ho, hi, hc, bo, bi, bv, mask(allowed_mask, batch, vocab, one_d))
