"""Speculative decoding: exact rejection sampling of draft tokens against the target model.

For each batch row with ``k`` draft tokens, position ``i`` accepts draft token ``d_i`` with
probability ``min(1, p_i(d_i) / q_i(d_i))``; at the first rejection it draws from the
normalised residual ``max(0, p_i - q_i)`` and stops; when all ``k`` are accepted it draws a bonus
token from ``p_k`` (Leviathan et al. 2023; Chen et al. 2023). ``p_i`` is the target distribution
after tokenmill's filters, exactly what :func:`tokenmill.sample` draws from for that logits row
and those parameters (greedy: the argmax). So every emitted token is distributed as the target
model says, whatever the draft. Draws use the same counter-based generator as
:func:`tokenmill.sample`, keyed by ``(seed, step)`` per row: reproducible whatever the batch.

Rows may carry different numbers of draft tokens (one request drafted 4, another 2, a third none
this step). The arrays are then as wide as the longest row, ``K``, and each row says how many of
its entries are drafts, either by padding its ``draft_token_ids`` with ``-1`` after its last draft
token or by ``num_draft_tokens`` (the padding is then not read). A row with ``k`` drafts reads its
first ``k + 1`` target rows and first ``k`` draft distributions only, emits at most ``k + 1``
tokens (its bonus token at position ``k``) and gives exactly what it gives alone in a batch of
width ``k``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from tokenmill import _native
from tokenmill._arrays import as_numpy, bf16_to_f32, is_bf16, like
from tokenmill._sampling_args import FILTER_FIELDS, I64, FilterKwargs, params_from, row_args

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["rejection_sample"]


def _float3(name: str, x: object) -> npt.NDArray[np.float32]:
    a = as_numpy(x)
    if is_bf16(a.dtype):
        a = bf16_to_f32(a.view(np.uint16))
    if a.dtype.kind != "f":
        raise TypeError(f"{name} must be a floating-point array, got dtype {a.dtype}")
    if a.ndim != 3:
        raise ValueError(f"{name} must be 3-D, got shape {a.shape}")
    return np.require(a, np.float32, ("C", "A"))


def _target3(x: object) -> npt.NDArray[np.float32] | npt.NDArray[np.uint16]:
    """The target logits as 3-D C-contiguous float32, or bfloat16 (torch, ``ml_dtypes``, uint16
    bits) as its bits: the kernels widen one target row at a time."""
    a = as_numpy(x)
    if not is_bf16(a.dtype):
        return _float3("target_logits", a)
    if a.ndim != 3:
        raise ValueError(f"target_logits must be 3-D, got shape {a.shape}")
    return np.require(a.view(np.uint16), np.uint16, ("C", "A"))


def rejection_sample(
    target_logits: npt.ArrayLike,
    draft_token_ids: npt.ArrayLike,
    draft_probs: npt.ArrayLike | None,
    *,
    num_draft_tokens: npt.ArrayLike | None = None,
    **kwargs: Unpack[FilterKwargs],
) -> tuple[I64, I64]:
    """Verify ``draft_token_ids`` (``[batch, K]`` ints) against ``target_logits``
    (``[batch, K + 1, vocab]``: the ``K`` draft positions and the bonus position).

    ``draft_probs`` is the draft model's ``[batch, K, vocab]`` distributions (float, each row
    summing to 1), or ``None`` for a deterministic draft (n-gram lookup, prompt lookup) where the
    draft is one-hot. The keyword arguments are the filter and draw parameters of
    :func:`tokenmill.sample` (``temperature``, ``top_k``, ``top_p``, ``min_p``, ``typical_p``,
    ``seed``, ``step``), each a scalar or one per batch row.

    Rows with fewer drafts than ``K`` (see the module notes): pad their ``draft_token_ids`` with
    ``-1`` (a row's drafts are the ids before its first ``-1``; an id after it is an error), or
    pass ``num_draft_tokens`` (``[batch]`` ints in ``[0, K]``; the ids, target rows and draft
    distributions past a row's count are not read, and a ``-1`` inside it is an error).

    Returns ``(token_ids, num_accepted)``: ``token_ids`` is ``[batch, K + 1]`` int64, the accepted
    draft tokens followed by the resampled or bonus token, then ``-1``; ``num_accepted`` is
    ``[batch]`` int64, the number of accepted draft tokens (``num_accepted + 1`` tokens are
    emitted, at most the row's draft count + 1). The layout of vLLM's rejection sampler.
    Bad input raises ``ValueError`` naming the row and position.
    """
    x = _target3(target_logits)
    batch, k1, vocab = x.shape
    ids = as_numpy(draft_token_ids)
    if ids.ndim != 2 or (ids.size and ids.dtype.kind not in "iu"):
        raise TypeError(f"draft_token_ids must be a 2-D integer array, got {ids.dtype} {ids.shape}")
    if ids.shape != (batch, k1 - 1):
        raise ValueError(
            f"draft_token_ids has shape {ids.shape}, expected ({batch}, {k1 - 1}) for "
            f"target_logits of shape {x.shape}"
        )
    q = None
    if draft_probs is not None:
        q = _float3("draft_probs", draft_probs)
        if q.shape != (batch, k1 - 1, vocab):
            raise ValueError(
                f"draft_probs has shape {q.shape}, expected ({batch}, {k1 - 1}, {vocab})"
            )
    counts = None
    if num_draft_tokens is not None:
        counts = as_numpy(num_draft_tokens)
        if counts.shape != (batch,) or (counts.size and counts.dtype.kind not in "iu"):
            raise ValueError(
                f"num_draft_tokens must be {batch} ints (one per row), got "
                f"{counts.dtype} {counts.shape}"
            )
        counts = np.ascontiguousarray(counts, dtype=np.int64)
    p = params_from(None, dict(kwargs), FILTER_FIELDS)
    args = row_args(p, batch, seed=p.seed, step=p.step)
    tokens = np.empty((batch, k1), dtype=np.int64)
    accepted = np.empty(batch, dtype=np.int64)
    _native.rejection_sample_into(
        x, args, np.ascontiguousarray(ids, dtype=np.int64), q, counts, tokens, accepted
    )
    return like(target_logits, (tokens, accepted))
