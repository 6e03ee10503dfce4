"""A sampler for continuous batching: requests join and leave the batch at any step.

A server adds a request when it is admitted (its :class:`~tokenmill.sampling.SamplingParams`,
seed and the tokens its penalties start from) and removes it when it finishes. Each step passes
the logits rows with the request id of each row, in any order and any subset::

    bs = tokenmill.BatchSampler()
    bs.add(7, SamplingParams(temperature=0.8, top_p=0.95, seed=1234), history=prompt_ids)
    bs.add(9, SamplingParams(temperature=0.0))
    tokens = bs.step(logits, [9, 7])         # row 0 is request 9, row 1 is request 7
    bs.remove(9)

Each request's step counter advances by itself and its sampled tokens join its history (kept as
counts, updated per token: penalties never re-scan the history), so request ``r``'s token at its
``k``-th step is what :func:`tokenmill.sample` gives for that row with the request's seed,
``step=k`` and its history, whatever else shares the batch. Results are new arrays the caller
owns, unless ``out=`` is given. The state lives in Rust behind a lock: threads may share a
sampler (their calls run one at a time).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, TypedDict, overload

import numpy as np
import numpy.typing as npt

from tokenmill import _native, _processors
from tokenmill._arrays import like, logits_2d, out_numpy
from tokenmill._sampling_args import (
    I64,
    LogprobMode,
    Outs,
    SamplingParams,
    check_counts,
    check_out,
    logprob_mode,
    out_buffers,
    row_args,
    shape_result,
)
from tokenmill.sampling import SampleResult

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["BatchSampler", "StepOptions"]


class StepOptions(TypedDict, total=False):
    """Keyword options of :meth:`BatchSampler.step` (for type checkers)."""

    allowed_mask: npt.ArrayLike | None
    out: I64 | None


_PER_STEP = ("token_history", "token_counts", "allowed_mask")


def _scalar_params(p: SamplingParams) -> None:
    for name in _PER_STEP:
        if getattr(p, name) is not None:
            raise ValueError(
                f"{name} is not a request setting: pass the history as add(history=...) and "
                f"masks to step(allowed_mask=...)"
            )
    for name in ("temperature", "top_k", "top_p", "min_p", "seed", "step"):
        v = getattr(p, name)
        if v is not None and np.ndim(v) != 0:
            raise ValueError(
                f"{name} of one request must be a single value, got shape {np.shape(v)}"
            )


_U64 = np.dtype(np.uint64)


def _ids(request_ids: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    a = request_ids
    if type(a) is np.ndarray and a.dtype == _U64 and a.ndim == 1 and a.flags.c_contiguous:
        return a  # the layout the core reads (a decode loop passes the same array every step)
    a = np.asarray(request_ids)
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        raise TypeError(f"request_ids must be a 1-D sequence of ints, got {a.dtype} {a.shape}")
    if a.dtype.kind == "i" and a.size and int(a.min()) < 0:
        raise ValueError(f"request ids must be >= 0, got {int(a.min())}")
    return np.ascontiguousarray(a, dtype=np.uint64)


class BatchSampler:
    """Per-request sampling state for a continuous-batching decode loop (see the module notes)."""

    def __init__(self) -> None:
        self._core = _native.Requests()

    def add(
        self,
        request_id: int,
        params: SamplingParams | None = None,
        *,
        history: Sequence[int] | npt.ArrayLike | None = None,
    ) -> None:
        """Add request ``request_id`` (an int in ``[0, 2**64)``) with its parameters (each a
        single value; ``seed=None`` draws one from the OS; ``step`` is its first step) and the
        tokens its penalties start from (``history``: the prompt for Hugging Face's repetition
        penalty, or nothing to penalise generated tokens only). ``logit_bias`` is a
        ``{token_id: bias}`` dict. Raises ``ValueError`` if the id is already present."""
        p = params if params is not None else SamplingParams()
        _scalar_params(p)
        args = row_args(p, 1, seed=p.seed, step=p.step)
        args = args._replace(seed=int(np.asarray(args.seed).reshape(-1)[0]))
        h = np.zeros(0, dtype=np.int64) if history is None else np.asarray(history)
        if h.size and (h.dtype.kind not in "iu" or h.ndim != 1):
            raise TypeError(f"history must be a 1-D sequence of token ids, got {h.dtype} {h.shape}")
        if h.size and int(h.min()) < 0:
            raise ValueError(f"history contains a negative token id {int(h.min())}")
        bias = p.logit_bias
        if bias is not None and not isinstance(bias, dict):
            raise TypeError("logit_bias of one request must be a {token_id: bias} dict")
        _, bias_ids, bias_values = _processors.bias(bias, 1, 0, False)
        if bias_ids.size and int(bias_ids.min()) < 0:
            raise ValueError(f"logit_bias: token id {int(bias_ids.min())} is negative")
        self._core.add(
            int(request_id),
            args,
            np.ascontiguousarray(h, dtype=np.int64),
            bias_ids,
            bias_values,
        )

    def remove(self, request_id: int) -> None:
        """Forget request ``request_id``; ``ValueError`` if it is not present."""
        self._core.remove(int(request_id))

    def extend(self, request_id: int, tokens: Sequence[int] | npt.ArrayLike) -> None:
        """Count ``tokens`` decided outside :meth:`step` (forced or accepted draft tokens) into
        the request's history; its step counter does not move."""
        t = np.ascontiguousarray(np.asarray(tokens, dtype=np.int64).reshape(-1))
        self._core.extend(int(request_id), t)

    def step_of(self, request_id: int) -> int:
        """The step the request's next token is drawn at."""
        return self._core.step_of(int(request_id))

    def __contains__(self, request_id: object) -> bool:
        return isinstance(request_id, (int, np.integer)) and self._core.contains(int(request_id))

    def __len__(self) -> int:
        return len(self._core)

    @property
    def request_ids(self) -> list[int]:
        """The ids of the requests present, in increasing order."""
        return sorted(self._core.ids())

    @overload
    def step(
        self,
        logits: npt.ArrayLike,
        request_ids: Sequence[int] | npt.ArrayLike,
        *,
        logprobs: None = ...,
        top_logprobs: Literal[0] = ...,
        **options: Unpack[StepOptions],
    ) -> I64: ...
    @overload
    def step(
        self,
        logits: npt.ArrayLike,
        request_ids: Sequence[int] | npt.ArrayLike,
        *,
        logprobs: LogprobMode,
        top_logprobs: int = ...,
        **options: Unpack[StepOptions],
    ) -> SampleResult: ...
    def step(
        self,
        logits: npt.ArrayLike,
        request_ids: Sequence[int] | npt.ArrayLike,
        *,
        allowed_mask: npt.ArrayLike | None = None,
        logprobs: LogprobMode | None = None,
        top_logprobs: int = 0,
        out: I64 | None = None,
    ) -> I64 | SampleResult:
        """Sample one token for each row of ``logits`` (``[batch, vocab]``); row ``r`` belongs to
        ``request_ids[r]``. ``allowed_mask`` is per row, as in :func:`tokenmill.sample`. Returns
        the ``[batch]`` int64 tokens (in ``out`` if given), or a :class:`SampleResult` with
        ``logprobs`` / ``top_logprobs``. Raises ``ValueError`` for an unknown id or an id given
        twice; then no request's state changes."""
        if out is not None and not isinstance(out, np.ndarray):  # a torch tensor
            self.step(logits, request_ids, allowed_mask=allowed_mask, out=out_numpy(out))
            return out
        x, one_d = logits_2d(logits)
        if one_d:
            raise ValueError("BatchSampler.step takes 2-D logits [batch, vocab]")
        batch, vocab = x.shape
        ids = _ids(request_ids)
        if ids.shape[0] != batch:
            raise ValueError(f"{ids.shape[0]} request ids for {batch} logits rows")
        if out is not None:
            check_out(out, (batch,), np.int64)
        mask = None if allowed_mask is None else _processors.mask(allowed_mask, batch, vocab, False)
        if logprobs is None and type(top_logprobs) is int and top_logprobs == 0:
            # Tokens only (the decode-loop call): one output array, no result shaping.
            tokens = np.empty((batch, 1), dtype=np.int64) if out is None else out.reshape(batch, 1)
            self._core.sample(x, ids, mask, Outs(tokens, None, None, None, False), True)
            return out if out is not None else like(logits, tokens.reshape(batch))
        _, n_top = check_counts(1, top_logprobs)
        mode = logprob_mode(logprobs, False, n_top)
        outs = out_buffers(batch, 1, n_top, mode, None if out is None else out.reshape(batch, 1))
        self._core.sample(x, ids, mask, outs, True)
        if out is not None and mode is None:
            return out
        res = shape_result(outs, False, 1, SampleResult)
        assert not isinstance(res, int)
        return like(logits, res)
