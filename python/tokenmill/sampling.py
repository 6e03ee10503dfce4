"""Softmax and sampling over numpy logits: exact top-k / top-p / min-p, reproducible per request.

Every function takes logits of shape ``[vocab]`` or ``[batch, vocab]`` and the sampling
parameters either as keyword arguments or as one :class:`SamplingParams`. float32 C-contiguous
arrays are used without copying; float16 / float64 arrays and non-contiguous arrays are converted
to C-contiguous float32 once; objects exposing DLPack (a torch CPU tensor, for example) or
``__array__`` are read through ``np.from_dlpack`` / ``np.asarray`` (torch is never imported).

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
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeAlias, TypedDict, overload

import numpy as np
import numpy.typing as npt

from tokenmill import _native, _processors
from tokenmill._arrays import like, logits_2d, out_numpy

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

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

#: A number for every row, or one value per row (a ``[batch]`` array or sequence).
PerRow: TypeAlias = npt.ArrayLike
#: ``None`` (fresh OS randomness), an int in ``[0, 2**64)``, or one per row.
Seed: TypeAlias = "int | npt.ArrayLike | None"
#: Logits: a ``[vocab]`` row. The typing of the return value follows the shape.
Row: TypeAlias = "np.ndarray[tuple[int], np.dtype[np.generic]]"
#: Logits: ``[batch, vocab]`` rows.
Rows: TypeAlias = "np.ndarray[tuple[int, int], np.dtype[np.generic]]"
#: An array whose shape a type checker does not know (``npt.NDArray``: ``tuple[Any, ...]``)
#: matches this shape type and neither :data:`Row` nor :data:`Rows`' lengths exclude it, so it
#: selects the first overload of :func:`sample`, typed ``int | I64``. Arrays of 3 or more
#: dimensions (the only ones whose shape type is precisely this) are rejected at run time.
UnknownShape: TypeAlias = "np.ndarray[tuple[int, int, int, *tuple[int, ...]], np.dtype[np.generic]]"

#: Which distribution logprobs describe: ``"raw"`` is ``log_softmax(processed_logits / T)`` over
#: the whole vocabulary, before top-k / top-p / min-p (what OpenAI and vLLM report); greedy rows
#: use ``T = 1``. ``"processed"`` is the distribution the token was drawn from (after the filters,
#: renormalised; a greedy token has logprob 0).
LogprobMode: TypeAlias = Literal["raw", "processed"]

_U64_MAX = (1 << 64) - 1
_I64_MAX = (1 << 63) - 1
_PLAIN = (int, float)


@dataclass(frozen=True, kw_only=True)
class SamplingParams:
    """Every sampling parameter in one value; each field is a number or one value per row.

    - ``temperature`` (>= 0; 0 = greedy argmax, ties to the lowest id; below ``1e-30`` also
      greedy, where ``1 / T`` leaves the float range), ``top_k`` (0 = off), ``top_p`` in (0, 1]
      (1 = off), ``min_p`` in [0, 1] (0 = off), ``typical_p`` in (0, 1] (1 = off; locally
      typical sampling with Hugging Face's ``TypicalLogitsWarper`` rule, applied after the
      other three);
    - ``seed`` (int in [0, 2**64) or per-row; ``None`` = OS randomness) and ``step`` (the decode
      step, so one seed gives a fresh draw each step);
    - ``repetition_penalty`` (> 0, 1 = off), ``presence_penalty`` and ``frequency_penalty``
      (0 = off), applied to the tokens in ``token_history`` (per-row sequences of ids; negative
      ids are padding) or ``token_counts`` (``[batch, vocab]`` integer counts);
    - ``logit_bias``: ``{token_id: bias}`` for every row, a list of such dicts (one per row), or a
      dense ``[vocab]`` / ``[batch, vocab]`` array;
    - ``allowed_mask``: packed int32 ``[batch, ceil(vocab / 32)]``.

    Values are checked when the parameters are used (the error names the row and parameter).
    """

    temperature: PerRow = 1.0
    top_k: PerRow = 0
    top_p: PerRow = 1.0
    min_p: PerRow = 0.0
    typical_p: PerRow = 1.0
    seed: Seed = None
    step: PerRow = 0
    repetition_penalty: PerRow = 1.0
    presence_penalty: PerRow = 0.0
    frequency_penalty: PerRow = 0.0
    token_history: object = None
    token_counts: npt.ArrayLike | None = None
    logit_bias: object = None
    allowed_mask: npt.ArrayLike | None = None


_DEFAULT = SamplingParams()
_FIELDS = tuple(f.name for f in fields(SamplingParams))


def _params(params: SamplingParams | None, given: dict[str, object]) -> SamplingParams:
    """``params``, or one built from the keyword arguments; both at once is an error."""
    if params is None:
        unknown = sorted(set(given) - set(_FIELDS))
        if unknown:
            raise TypeError(f"unexpected keyword argument {unknown[0]!r}")
        return SamplingParams(**given)  # type: ignore[arg-type]
    if not isinstance(params, SamplingParams):
        raise TypeError(f"params must be a SamplingParams, got {type(params).__name__}")
    for name, value in given.items():
        if name not in _FIELDS:
            raise TypeError(f"unexpected keyword argument {name!r}")
        default = getattr(_DEFAULT, name)
        if value is not default and not (type(value) in _PLAIN and value == default):
            raise TypeError(f"pass either params or keyword arguments, not both ({name}=...)")
    return params


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


def _per_row(name: str, value: object, batch: int) -> float | npt.NDArray[np.float64]:
    if type(value) in _PLAIN:
        return float(value)  # type: ignore[arg-type]
    a = np.asarray(value)
    if a.dtype.kind not in "iuf b":
        raise TypeError(f"{name} must be a number or an array of numbers, got dtype {a.dtype}")
    if a.ndim == 0:
        return float(a)
    if a.shape != (batch,):
        raise ValueError(f"{name} has shape {a.shape}, expected a scalar or shape ({batch},)")
    return a.astype(np.float64)


def _bad_top_k(value: object, row: int) -> ValueError:
    return ValueError(f"top_k must be an integer >= 0, got {value} (row {row})")


def _top_k(value: object, batch: int) -> int | I64:
    """``top_k`` as an int64 (an integral float is accepted; the core rejects negatives)."""
    if type(value) is int:
        if not -_I64_MAX <= value <= _I64_MAX:
            raise _bad_top_k(value, 0)
        return value
    a = np.asarray(value)
    if a.dtype.kind not in "iuf b":
        raise TypeError(f"top_k must be an integer or an array of integers, got dtype {a.dtype}")
    if a.ndim == 0:
        v = a.item()
        if isinstance(v, float) and not (v.is_integer() and abs(v) <= _I64_MAX):
            raise _bad_top_k(v, 0)
        return _top_k(int(v), batch)
    if a.shape != (batch,):
        raise ValueError(f"top_k has shape {a.shape}, expected a scalar or shape ({batch},)")
    if a.dtype.kind == "f":
        ok = np.isfinite(a) & (a == np.round(a)) & (np.abs(a) <= _I64_MAX)
        if not ok.all():
            row = int(np.argmin(ok))
            raise _bad_top_k(a[row].item(), row)
    elif a.dtype.kind == "u" and a.size and int(a.max()) > _I64_MAX:
        row = int(np.argmax(a))
        raise _bad_top_k(int(a[row]), row)
    return a.astype(np.int64)


def _u64_per_row(name: str, value: object, batch: int) -> int | npt.NDArray[np.uint64]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        v = int(value)
        if not 0 <= v <= _U64_MAX:
            raise ValueError(f"{name} must be in [0, 2**64), got {v}")
        return v
    a = np.asarray(value)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an int or an integer array, got {type(value).__name__}")
    if a.shape != (batch,):
        raise ValueError(f"{name} has shape {a.shape}, expected an int or shape ({batch},)")
    if a.dtype.kind == "i" and a.size and int(a.min()) < 0:
        row = int(np.argmin(a))
        raise ValueError(f"{name} must be >= 0, got {int(a[row])} (row {row})")
    return a.astype(np.uint64)


def _seeds(seed: object, batch: int) -> int | npt.NDArray[np.uint64]:
    if seed is None:
        fresh = np.empty(batch, dtype=np.uint64)
        fresh[:] = np.frombuffer(os.urandom(8 * batch), dtype=np.uint64)
        return fresh
    return _u64_per_row("seed", seed, batch)


class _RowArgs(NamedTuple):
    """The parameters as the native module reads them: each a number or a ``[batch]`` array."""

    temperature: float | npt.NDArray[np.float64]
    top_k: int | I64
    top_p: float | npt.NDArray[np.float64]
    min_p: float | npt.NDArray[np.float64]
    typical_p: float | npt.NDArray[np.float64]
    repetition_penalty: float | npt.NDArray[np.float64]
    presence_penalty: float | npt.NDArray[np.float64]
    frequency_penalty: float | npt.NDArray[np.float64]
    seed: int | npt.NDArray[np.uint64]
    step: int | npt.NDArray[np.uint64]


class _Outs(NamedTuple):
    """The output arrays as the native module reads them."""

    tokens: I64
    logprobs: F32 | None
    top_ids: I64 | None
    top_logprobs: F32 | None
    raw: bool


def _outs(
    batch: int, n: int, n_top: int, logprobs: LogprobMode | None, tokens: I64 | None = None
) -> _Outs:
    """Fresh output arrays (``tokens`` may be the caller's ``[batch, n]`` view)."""
    want = logprobs is not None or n_top > 0
    return _Outs(
        np.empty((batch, n), dtype=np.int64) if tokens is None else tokens,
        np.empty((batch, n), dtype=np.float32) if want else None,
        np.empty((batch, n_top), dtype=np.int64) if n_top > 0 else None,
        np.empty((batch, n_top), dtype=np.float32) if n_top > 0 else None,
        logprobs == "raw",
    )


def _logprob_mode(logprobs: object, return_logprobs: object, n_top: int) -> LogprobMode | None:
    """The logprob mode asked for: ``logprobs`` if given; ``return_logprobs=True`` (and
    ``top_logprobs > 0`` alone) mean ``"processed"``."""
    if logprobs is None:
        return "processed" if bool(return_logprobs) or n_top > 0 else None
    if logprobs not in ("raw", "processed"):
        raise ValueError(f"logprobs must be 'raw', 'processed' or None, got {logprobs!r}")
    return logprobs


def _row_args(p: SamplingParams, batch: int, *, seed: object = None, step: object = 0) -> _RowArgs:
    return _RowArgs(
        _per_row("temperature", p.temperature, batch),
        _top_k(p.top_k, batch),
        _per_row("top_p", p.top_p, batch),
        _per_row("min_p", p.min_p, batch),
        _per_row("typical_p", p.typical_p, batch),
        _per_row("repetition_penalty", p.repetition_penalty, batch),
        _per_row("presence_penalty", p.presence_penalty, batch),
        _per_row("frequency_penalty", p.frequency_penalty, batch),
        _seeds(seed, batch),
        _u64_per_row("step", step, batch),
    )


def _procs(p: SamplingParams, batch: int, vocab: int, one_d: bool) -> _processors.Procs:
    return _processors.procs(
        batch, vocab, one_d, p.token_history, p.token_counts, p.logit_bias, p.allowed_mask
    )


def _check_out(out: object, shape: tuple[int, ...], dtype: type, name: str = "out") -> None:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(out).__name__}")
    if not out.flags.aligned:
        raise ValueError(f"{name} is not aligned to its dtype's size (pass an aligned array)")
    if out.dtype != dtype or out.shape != shape or not out.flags.c_contiguous:
        raise ValueError(
            f"{name} must be a C-contiguous {np.dtype(dtype)} array of shape {shape}, "
            f"got {out.dtype} {out.shape}"
        )
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")


def _softmax(logits: npt.ArrayLike, temperature: PerRow, out: F32 | None, log: bool) -> F32:
    if out is not None and not isinstance(out, np.ndarray):
        _softmax(logits, temperature, out_numpy(out), log)
        return out
    x, one_d = logits_2d(logits)
    batch = x.shape[0]
    temps = np.broadcast_to(_per_row("temperature", temperature, batch), (batch,))
    shape = (x.shape[1],) if one_d else x.shape
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    else:
        _check_out(out, shape, np.float32)
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
    p = _params(params, dict(kwargs))
    x, one_d = logits_2d(logits)
    batch, vocab = x.shape
    args = _row_args(p, batch, seed=0, step=0)
    procs = _procs(p, batch, vocab, one_d)
    out = np.empty((batch, vocab), dtype=np.bool_)
    _native.kept_mask_into(x, args, procs, out)
    return like(logits, out[0] if one_d else out)


def _check_counts(n: object, top_logprobs: object) -> tuple[int, int]:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if (
        not isinstance(top_logprobs, (int, np.integer))
        or isinstance(top_logprobs, bool)
        or top_logprobs < 0
    ):
        raise ValueError(f"top_logprobs must be an int >= 0, got {top_logprobs!r}")
    return int(n), int(top_logprobs)


class ParamKwargs(TypedDict, total=False):
    """The :class:`SamplingParams` fields as keyword arguments (for type checkers)."""

    temperature: PerRow
    top_k: PerRow
    top_p: PerRow
    min_p: PerRow
    typical_p: PerRow
    seed: Seed
    step: PerRow
    repetition_penalty: PerRow
    presence_penalty: PerRow
    frequency_penalty: PerRow
    token_history: object
    token_counts: npt.ArrayLike | None
    logit_bias: object
    allowed_mask: npt.ArrayLike | None


# Type checkers: an array of unknown shape gives ``int | I64`` (the first overload, see
# UnknownShape), 2-D rows an int64 array, a 1-D row an int.
@overload
def sample(
    logits: UnknownShape,
    params: SamplingParams | None = None,
    *,
    n: int = ...,
    return_logprobs: Literal[False] = ...,
    top_logprobs: Literal[0] = ...,
    logprobs: None = ...,
    out: I64 | None = ...,
    **kwargs: Unpack[ParamKwargs],
) -> int | I64: ...
@overload
def sample(
    logits: Rows,
    params: SamplingParams | None = None,
    *,
    n: int = ...,
    return_logprobs: Literal[False] = ...,
    top_logprobs: Literal[0] = ...,
    logprobs: None = ...,
    out: I64 | None = ...,
    **kwargs: Unpack[ParamKwargs],
) -> I64: ...
@overload
def sample(
    logits: Row,
    params: SamplingParams | None = None,
    *,
    n: Literal[1] = ...,
    return_logprobs: Literal[False] = ...,
    top_logprobs: Literal[0] = ...,
    logprobs: None = ...,
    out: I64 | None = ...,
    **kwargs: Unpack[ParamKwargs],
) -> int: ...
@overload
def sample(
    logits: npt.ArrayLike,
    params: SamplingParams | None = None,
    *,
    n: int = ...,
    return_logprobs: Literal[True],
    top_logprobs: int = ...,
    logprobs: LogprobMode | None = ...,
    out: I64 | None = ...,
    **kwargs: Unpack[ParamKwargs],
) -> SampleResult: ...
@overload
def sample(
    logits: npt.ArrayLike,
    params: SamplingParams | None = None,
    *,
    n: int = ...,
    return_logprobs: bool = ...,
    top_logprobs: int = ...,
    logprobs: LogprobMode,
    out: I64 | None = ...,
    **kwargs: Unpack[ParamKwargs],
) -> SampleResult: ...
@overload
def sample(
    logits: npt.ArrayLike,
    params: SamplingParams | None = None,
    *,
    n: int = ...,
    return_logprobs: bool = ...,
    top_logprobs: int = ...,
    logprobs: LogprobMode | None = ...,
    out: I64 | None = ...,
    **kwargs: Unpack[ParamKwargs],
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
        and type(temperature) in _PLAIN
        and type(top_k) is int
        and -_I64_MAX <= top_k <= _I64_MAX
        and type(top_p) in _PLAIN
        and type(min_p) in _PLAIN
        and type(typical_p) in _PLAIN
        and typical_p == 1.0
        and type(step) is int
        and 0 <= step <= _U64_MAX
        and (seed is None or (type(seed) is int and 0 <= seed <= _U64_MAX))
        and type(repetition_penalty) in _PLAIN
        and repetition_penalty == 1.0
        and type(presence_penalty) in _PLAIN
        and presence_penalty == 0.0
        and type(frequency_penalty) in _PLAIN
        and frequency_penalty == 0.0
        and token_history is None
        and token_counts is None
        and logit_bias is None
        and allowed_mask is None
        and logits.dtype == np.float32
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
    p = _params(
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
    n, n_top = _check_counts(n, top_logprobs)
    mode = _logprob_mode(logprobs, return_logprobs, n_top)
    args = _row_args(p, batch, seed=p.seed, step=p.step)
    procs = _procs(p, batch, vocab, one_d)
    res_shape: tuple[int, ...] = (batch,) if n == 1 else (batch, n)
    if one_d:
        res_shape = res_shape[1:] if n > 1 else (1,)
    if out is not None:
        _check_out(out, res_shape, np.int64)
    outs = _outs(batch, n, n_top, mode, None if out is None else out.reshape(batch, n))
    _native.sample_into(x, args, procs, outs)
    if out is not None and mode is None:
        return int(out.reshape(-1)[0]) if one_d and n == 1 else out
    return like(logits, _result(outs, one_d, n))


def _result(outs: _Outs, one_d: bool, n: int) -> int | I64 | SampleResult:
    """Shape the ``[batch, n]`` / ``[batch, n_top]`` buffers into what :func:`sample` returns."""

    def main(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if one_d:
            return a.reshape(()) if n == 1 else a.reshape(n)
        return a.reshape(a.shape[0]) if n == 1 else a

    def top(a: np.ndarray[Any, Any] | None) -> np.ndarray[Any, Any] | None:
        return None if a is None else (a.reshape(-1) if one_d else a)

    tokens, lp, tids, tlp, _ = outs
    if lp is None:
        return int(tokens.reshape(-1)[0]) if one_d and n == 1 else main(tokens)
    return SampleResult(main(tokens), main(lp), top(tids), top(tlp))


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
        self.n, self.top_logprobs = _check_counts(n, top_logprobs)
        self.params = _params(params, dict(kwargs))
        for name in ("step", "token_history", "token_counts", "allowed_mask"):
            if getattr(self.params, name) is not getattr(_DEFAULT, name):
                raise TypeError(f"{name} is per step: pass it to Sampler.sample")
        b = self.batch_size
        seeds = _seeds(self.params.seed, b)
        self._args = _row_args(self.params, b, seed=seeds)
        self._bias_cache: dict[int, tuple[I64, I64, F32]] = {}
        self.step = 0
        self._mode = _logprob_mode(logprobs, return_logprobs, self.top_logprobs)
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
        outs = _outs(batch, self.n, self.top_logprobs, self._mode)
        _native.sample_into(x, self._args._replace(step=cur), procs, outs)
        return like(logits, _result(outs, one_d, self.n))
