"""Softmax and sampling over numpy logits: exact top-k / top-p / min-p, reproducible per request.

Every function takes logits of shape ``[vocab]`` or ``[batch, vocab]`` and the sampling
parameters either as keyword arguments or as one :class:`SamplingParams`. float32 C-contiguous
arrays are used without copying; float16 / float64 arrays and non-contiguous arrays are converted
to C-contiguous float32 once; bfloat16 logits (torch, ``ml_dtypes``, or ``uint16`` bit patterns)
are passed as their bits and widened by the kernels one row at a time; objects exposing DLPack (a
torch CPU tensor, for example) or ``__array__`` are read through ``np.from_dlpack`` /
``np.asarray`` (torch is never imported).

Processing order of :func:`sample` (the order Hugging Face and vLLM use):

1. repetition penalty (Hugging Face): for every token already in the row's history, a positive
   logit is divided by the penalty and a negative one multiplied by it;
2. presence and frequency penalties (OpenAI): ``logit -= presence * (count > 0) + frequency *
   count``;
3. ``logit_bias`` is added;
4. ``allowed_mask`` (packed int32 ``[batch, ceil(vocab / 32)]``, token ``i`` allowed iff bit
   ``i % 32`` of word ``i // 32`` is set) sets disallowed tokens to ``-inf``;
5. temperature (``0`` means greedy argmax);
6. top-k, then 7. top-p (on the distribution renormalised after top-k), then 8. min-p.

Tie rule: tokens are ranked by logit, ties broken by the lower token id. top-k keeps exactly
``k`` tokens; top-p keeps the shortest prefix of that ranking whose probability reaches ``top_p``;
min-p keeps every token with ``p >= min_p * p_max`` (all ties at the threshold). Greedy picks the
lowest id among the maxima. The rule does not depend on the batch.

Reproducibility: with a seed, token ``j`` of a row is drawn with a counter-based generator keyed by
``(seed, step, j)``, so the same ``(seed, step, logits row, parameters)`` gives the same token
whatever the row's position, the rest of the batch, the batch size or the thread count. Without a
seed, seeds come from ``os.urandom``.

Bad input raises ``ValueError`` or ``TypeError`` naming the row or parameter: NaN logits; a row that
is entirely ``-inf`` after masks and biases; ``+inf`` logits (rejected: use ``allowed_mask`` to
force a token); parameters outside their domain; per-row arrays of the wrong length; masks of the
wrong shape; ``ndim`` not 1 or 2; an empty vocabulary; integer or complex logits.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Literal, NamedTuple, Required, TypeAlias, overload

import numpy as np
import numpy.typing as npt

from tokenmill import _native, _processors
from tokenmill._arrays import like, logits_2d, out_numpy
from tokenmill._sampling_args import (
    DEFAULT,
    F32,
    I64,
    I64_MAX,
    PLAIN,
    U64_MAX,
    LogprobMode,
    ParamKwargs,
    PerRow,
    SamplingParams,
    Seed,
    check_counts,
    check_out,
    logprob_mode,
    out_buffers,
    params_from,
    per_row,
    row_args,
    seeds,
    shape_result,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "SampleResult",
    "Sampler",
    "SamplingParams",
    "kept_mask",
    "log_softmax",
    "sample",
    "softmax",
]

#: Logits: a ``[vocab]`` row. The typing of the return value follows the shape.
Row: TypeAlias = "np.ndarray[tuple[int], np.dtype[np.generic]]"
#: Logits: ``[batch, vocab]`` rows.
Rows: TypeAlias = "np.ndarray[tuple[int, int], np.dtype[np.generic]]"
#: An array whose shape a type checker does not know (``npt.NDArray``: ``tuple[Any, ...]``)
#: matches this shape type and neither :data:`Row` nor :data:`Rows`' lengths exclude it, so it
#: selects the first overload of :func:`sample`, typed ``int | I64``. Arrays of 3 or more
#: dimensions (the only ones whose shape type is precisely this) are rejected at run time.
UnknownShape: TypeAlias = "np.ndarray[tuple[int, int, int, *tuple[int, ...]], np.dtype[np.generic]]"


class SampleResult(NamedTuple):
    """Tokens with their log-probabilities (``"raw"`` or ``"processed"``, see
    :data:`LogprobMode`).

    ``tokens`` and ``logprobs`` have shape ``[batch]`` (or ``[batch, n]`` when ``n > 1``);
    ``top_ids`` / ``top_logprobs`` have shape ``[batch, top_logprobs]``, most likely first. When a
    row has fewer tokens of non-zero probability than ``top_logprobs`` (``"processed"``: fewer
    survive the filters; ``"raw"``: fewer finite logits), the rest of that row is id ``-1`` with
    logprob ``-inf``: check ``top_ids >= 0``. For 1-D logits the batch axis is dropped.
    """

    tokens: I64
    logprobs: F32 | None
    top_ids: I64 | None
    top_logprobs: F32 | None


def _procs(p: SamplingParams, batch: int, vocab: int, one_d: bool) -> _processors.Procs:
    return _processors.procs(
        batch, vocab, one_d, p.token_history, p.token_counts, p.logit_bias, p.allowed_mask
    )


def _softmax(logits: npt.ArrayLike, temperature: PerRow, out: F32 | None, log: bool) -> F32:
    if out is not None and not isinstance(out, np.ndarray):
        _softmax(logits, temperature, out_numpy(out), log)
        return out
    x, one_d = logits_2d(logits)
    batch = x.shape[0]
    temps = np.broadcast_to(per_row("temperature", temperature, batch), (batch,))
    shape = (x.shape[1],) if one_d else x.shape
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    else:
        check_out(out, shape, np.float32)
        if np.may_share_memory(x, out):
            x = x.copy()  # in place (out=logits) or overlapping: read from a copy
    _native.softmax_into(x, np.ascontiguousarray(temps), log, out.reshape(x.shape))
    return like(logits, out)


def softmax(logits: npt.ArrayLike, temperature: PerRow = 1.0, *, out: F32 | None = None) -> F32:
    """``softmax(logits / temperature)`` along the last axis, as float32 of the input's shape.

    ``temperature`` (> 0) is a scalar or one value per row. Relative error against a float64
    reference is at most 1e-6 for every probability that is a normal float32 (vector exp with
    exact range reduction; sums in float64). Raises ``ValueError`` for NaN or ``+inf`` logits and
    for rows that are entirely ``-inf``. ``out`` (float32, C-contiguous, same shape) is filled and
    returned instead of a new array.
    """
    return _softmax(logits, temperature, out, log=False)


def log_softmax(logits: npt.ArrayLike, temperature: PerRow = 1.0, *, out: F32 | None = None) -> F32:
    """``log(softmax(logits / temperature))`` along the last axis; see :func:`softmax`."""
    return _softmax(logits, temperature, out, log=True)


def kept_mask(
    logits: npt.ArrayLike,
    params: SamplingParams | None = None,
    **kwargs: Unpack[ParamKwargs],
) -> npt.NDArray[np.bool_]:
    """The tokens :func:`sample` can return with these settings: a boolean array shaped like
    ``logits``, ``True`` for every token of non-zero probability that survives the processors and
    filters (in the documented order and tie rule). With ``temperature == 0`` only the argmax is
    kept. Parameters as for :func:`sample` (``seed`` and ``step`` play no part).
    """
    p = params_from(params, dict(kwargs))
    x, one_d = logits_2d(logits)
    batch, vocab = x.shape
    args = row_args(p, batch, seed=0, step=0)
    procs = _procs(p, batch, vocab, one_d)
    out = np.empty((batch, vocab), dtype=np.bool_)
    _native.kept_mask_into(x, args, procs, out)
    return like(logits, out[0] if one_d else out)


class _Ids(ParamKwargs, total=False):
    return_logprobs: Literal[False]
    top_logprobs: Literal[0]
    logprobs: None
    out: I64 | None


class _RowsIds(_Ids, total=False):
    n: int


class _RowId(_Ids, total=False):
    n: Literal[1]


class _Counts(ParamKwargs, total=False):
    n: int
    top_logprobs: int
    out: I64 | None


class _Flagged(_Counts, total=False):
    return_logprobs: Required[Literal[True]]
    logprobs: LogprobMode | None


class _Moded(_Counts, total=False):
    return_logprobs: bool
    logprobs: Required[LogprobMode]


class _Options(_Counts, total=False):
    return_logprobs: bool
    logprobs: LogprobMode | None


# Type checkers: an array of unknown shape gives ``int | I64`` (the first overload, see
# UnknownShape), 2-D rows an int64 array, a 1-D row an int, ``return_logprobs=True`` or a
# ``logprobs`` mode a SampleResult (the keyword options of each case are the TypedDicts above).
@overload
def sample(
    logits: UnknownShape, params: SamplingParams | None = None, **kw: Unpack[_RowsIds]
) -> int | I64: ...
@overload
def sample(logits: Rows, params: SamplingParams | None = None, **kw: Unpack[_RowsIds]) -> I64: ...
@overload
def sample(logits: Row, params: SamplingParams | None = None, **kw: Unpack[_RowId]) -> int: ...
@overload
def sample(
    logits: npt.ArrayLike, params: SamplingParams | None = None, **kw: Unpack[_Flagged]
) -> SampleResult: ...
@overload
def sample(
    logits: npt.ArrayLike, params: SamplingParams | None = None, **kw: Unpack[_Moded]
) -> SampleResult: ...
@overload
def sample(
    logits: npt.ArrayLike, params: SamplingParams | None = None, **kw: Unpack[_Options]
) -> int | I64 | SampleResult: ...
def sample(
    logits: npt.ArrayLike,
    params: SamplingParams | None = None,
    *,
    temperature: PerRow = 1.0,
    top_k: PerRow = 0,
    top_p: PerRow = 1.0,
    min_p: PerRow = 0.0,
    typical_p: PerRow = 1.0,
    seed: Seed = None,
    step: PerRow = 0,
    repetition_penalty: PerRow = 1.0,
    presence_penalty: PerRow = 0.0,
    frequency_penalty: PerRow = 0.0,
    token_history: object = None,
    token_counts: npt.ArrayLike | None = None,
    logit_bias: object = None,
    allowed_mask: npt.ArrayLike | None = None,
    n: int = 1,
    return_logprobs: bool = False,
    top_logprobs: int = 0,
    logprobs: LogprobMode | None = None,
    out: I64 | None = None,
) -> int | I64 | SampleResult:
    """Sample token ids from ``logits`` (``[vocab]`` or ``[batch, vocab]``).

    The sampling parameters come as keyword arguments or as one :class:`SamplingParams`
    (``params``; not both); see :class:`SamplingParams` for each one's meaning and domain, and
    the module docstring for the processing order and the tie rule.

    Returns int64 ids of shape ``[batch]`` (``[batch, n]`` for ``n > 1`` independent draws per
    row; a plain ``int`` for 1-D logits and ``n == 1``). With ``logprobs`` (``"raw"`` or
    ``"processed"``, see :data:`LogprobMode`), ``return_logprobs=True`` (``"processed"``) or
    ``top_logprobs > 0`` a :class:`SampleResult` is returned instead. ``out`` (int64,
    C-contiguous, the shape of the ids) receives the ids without allocating.
    """
    if (
        params is None
        and type(logits) is np.ndarray
        and type(n) is int
        and n == 1
        and out is None
        and return_logprobs is False
        and type(top_logprobs) is int
        and top_logprobs == 0
        and logprobs is None
        and type(temperature) in PLAIN
        and type(top_k) is int
        and -I64_MAX <= top_k <= I64_MAX
        and type(top_p) in PLAIN
        and type(min_p) in PLAIN
        and type(typical_p) in PLAIN
        and typical_p == 1.0
        and type(step) is int
        and 0 <= step <= U64_MAX
        and (seed is None or (type(seed) is int and 0 <= seed <= U64_MAX))
        and type(repetition_penalty) in PLAIN
        and repetition_penalty == 1.0
        and type(presence_penalty) in PLAIN
        and presence_penalty == 0.0
        and type(frequency_penalty) in PLAIN
        and frequency_penalty == 0.0
        and token_history is None
        and token_counts is None
        and logit_bias is None
        and allowed_mask is None
        and (logits.dtype == np.float32 or logits.dtype == np.uint16)  # uint16: bfloat16 bits
        and logits.flags.c_contiguous
        and logits.flags.aligned
        and logits.size > 0
        and (logits.ndim == 1 or (logits.ndim == 2 and logits.shape[0] == 1))
    ):
        # Fast path: one row, plain Python numbers, no processors (the single-sequence decode
        # call). Same core call and checks as below, without building per-row arrays.
        if seed is None:
            seed = int.from_bytes(os.urandom(8), "little")
        tok = _native.sample_one(
            logits.reshape(-1),
            temperature,
            top_k,
            top_p,
            min_p,
            seed,
            step,
        )
        return tok if logits.ndim == 1 else np.array([tok], dtype=np.int64)
    p = params_from(
        params,
        {
            "temperature": temperature,
            "top_k": top_k,
            "top_p": top_p,
            "min_p": min_p,
            "typical_p": typical_p,
            "seed": seed,
            "step": step,
            "repetition_penalty": repetition_penalty,
            "presence_penalty": presence_penalty,
            "frequency_penalty": frequency_penalty,
            "token_history": token_history,
            "token_counts": token_counts,
            "logit_bias": logit_bias,
            "allowed_mask": allowed_mask,
        },
    )
    if out is not None and not isinstance(out, np.ndarray):  # a torch tensor: fill its memory
        sample(
            logits,
            p,
            n=n,
            return_logprobs=return_logprobs,
            top_logprobs=top_logprobs,
            logprobs=logprobs,
            out=out_numpy(out),
        )
        return out
    x, one_d = logits_2d(logits)
    batch, vocab = x.shape
    n, n_top = check_counts(n, top_logprobs)
    mode = logprob_mode(logprobs, return_logprobs, n_top)
    args = row_args(p, batch, seed=p.seed, step=p.step)
    procs = _procs(p, batch, vocab, one_d)
    res_shape: tuple[int, ...] = (batch,) if n == 1 else (batch, n)
    if one_d:
        res_shape = res_shape[1:] if n > 1 else (1,)
    if out is not None:
        check_out(out, res_shape, np.int64)
    outs = out_buffers(batch, n, n_top, mode, None if out is None else out.reshape(batch, n))
    _native.sample_into(x, args, procs, outs)
    if out is not None and mode is None:
        return int(out.reshape(-1)[0]) if one_d and n == 1 else out
    return like(logits, shape_result(outs, one_d, n, SampleResult))


class Sampler:
    """Per-row sampling settings for a fixed batch, for decode loops.

    Construct once per batch layout with a :class:`SamplingParams` or keyword arguments (every
    parameter a scalar or a per-row array of length ``batch_size``). Each :meth:`sample` call
    returns new arrays (the caller owns them) and, unless ``step`` is given, advances an internal
    step counter, so a seeded sampler gives a reproducible stream of tokens. With ``seed=None``
    the per-row seeds are drawn once from ``os.urandom``. A sampler may be shared by threads:
    each call takes the next step under a lock. For requests that join and leave the
    batch, see :class:`tokenmill.BatchSampler`.
    """

    def __init__(
        self,
        batch_size: int,
        params: SamplingParams | None = None,
        *,
        n: int = 1,
        return_logprobs: bool = False,
        top_logprobs: int = 0,
        logprobs: LogprobMode | None = None,
        **kwargs: Unpack[ParamKwargs],
    ) -> None:
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.n, self.top_logprobs = check_counts(n, top_logprobs)
        self.params = params_from(params, dict(kwargs))
        for name in ("step", "token_history", "token_counts", "allowed_mask"):
            if getattr(self.params, name) is not getattr(DEFAULT, name):
                raise TypeError(f"{name} is per step: pass it to Sampler.sample")
        b = self.batch_size
        self._args = row_args(self.params, b, seed=seeds(self.params.seed, b))
        self._bias_cache: dict[int, tuple[I64, I64, F32]] = {}
        self.step = 0
        self._mode = logprob_mode(logprobs, return_logprobs, self.top_logprobs)
        self._lock = threading.Lock()

    def sample(
        self,
        logits: npt.ArrayLike,
        *,
        step: int | None = None,
        token_history: object = None,
        token_counts: npt.ArrayLike | None = None,
        allowed_mask: npt.ArrayLike | None = None,
    ) -> int | I64 | SampleResult:
        """Sample one step for ``logits`` of shape ``[batch_size, vocab]``; see :func:`sample`
        for the result types. ``step`` overrides the internal counter (which then continues from
        ``step + 1``)."""
        x, one_d = logits_2d(logits)
        batch, vocab = x.shape
        if batch != self.batch_size:
            raise ValueError(
                f"logits has batch {batch}, this Sampler was built for {self.batch_size}"
            )
        if step is not None and (not isinstance(step, (int, np.integer)) or step < 0):
            raise ValueError(f"step must be an int >= 0, got {step!r}")
        with self._lock:  # threads sharing a Sampler each get their own step
            cur = self.step if step is None else int(step)
            self.step = cur + 1
        bias = self._bias_cache.get(vocab)
        if bias is None:
            bias = _processors.bias(self.params.logit_bias, batch, vocab, one_d)
            self._bias_cache[vocab] = bias
        ho, hi, hc = _processors.history(token_history, token_counts, batch, vocab, one_d)
        procs = _processors.Procs(
            ho, hi, hc, *bias, _processors.mask(allowed_mask, batch, vocab, one_d)
        )
        outs = out_buffers(batch, self.n, self.top_logprobs, self._mode)
        _native.sample_into(x, self._args._replace(step=cur), procs, outs)
        return like(logits, shape_result(outs, one_d, self.n, SampleResult))
