"""The sampling parameters and results as the native module reads and writes them.

Shared by :mod:`tokenmill.sampling`, :mod:`tokenmill.batching` and :mod:`tokenmill.speculative`:
:class:`SamplingParams` (exported by ``tokenmill.sampling``), the checks that turn each
parameter into a number or a ``[batch]`` array (errors name the row and parameter), the output
buffers, and the shaping of those buffers into what the public calls return.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Literal, NamedTuple, TypeAlias, TypedDict, TypeVar

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
R = TypeVar("R")

#: A number for every row, or one value per row (a ``[batch]`` array or sequence).
PerRow: TypeAlias = npt.ArrayLike
#: ``None`` (fresh OS randomness), an int in ``[0, 2**64)``, or one per row.
Seed: TypeAlias = "int | npt.ArrayLike | None"

#: Which distribution logprobs describe: ``"raw"`` is ``log_softmax(processed_logits / T)`` over
#: the whole vocabulary, before top-k / top-p / min-p (what OpenAI and vLLM report); greedy rows
#: use ``T = 1``. ``"processed"`` is the distribution the token was drawn from (after the filters,
#: renormalised; a greedy token has logprob 0).
LogprobMode: TypeAlias = Literal["raw", "processed"]

U64_MAX = (1 << 64) - 1
I64_MAX = (1 << 63) - 1
#: The types taken as one number for every row (and, in ``sample``, for the fast path).
PLAIN = (int, float)


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


class FilterKwargs(TypedDict, total=False):
    """The filter and draw parameters of :class:`SamplingParams` as keyword arguments (for type
    checkers)."""

    temperature: PerRow
    top_k: PerRow
    top_p: PerRow
    min_p: PerRow
    typical_p: PerRow
    seed: Seed
    step: PerRow


class ParamKwargs(FilterKwargs, total=False):
    """Every :class:`SamplingParams` field as a keyword argument (for type checkers)."""

    repetition_penalty: PerRow
    presence_penalty: PerRow
    frequency_penalty: PerRow
    token_history: object
    token_counts: npt.ArrayLike | None
    logit_bias: object
    allowed_mask: npt.ArrayLike | None


DEFAULT = SamplingParams()
FIELDS = tuple(f.name for f in fields(SamplingParams))
FILTER_FIELDS = tuple(FilterKwargs.__annotations__)


def params_from(
    params: SamplingParams | None, given: dict[str, object], allowed: tuple[str, ...] = FIELDS
) -> SamplingParams:
    """``params``, or one built from the keyword arguments ``given`` (each named in
    ``allowed``); both at once is an error."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise TypeError(f"unexpected keyword argument {unknown[0]!r}")
    if params is None:
        return SamplingParams(**given)  # type: ignore[arg-type]
    if not isinstance(params, SamplingParams):
        raise TypeError(f"params must be a SamplingParams, got {type(params).__name__}")
    for name, value in given.items():
        default = getattr(DEFAULT, name)
        if value is not default and not (type(value) in PLAIN and value == default):
            raise TypeError(f"pass either params or keyword arguments, not both ({name}=...)")
    return params


def per_row(name: str, value: object, batch: int) -> float | npt.NDArray[np.float64]:
    if type(value) in PLAIN:
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


def top_k_arg(value: object, batch: int) -> int | I64:
    """``top_k`` as an int64 (an integral float is accepted; the core rejects negatives)."""
    if type(value) is int:
        if not -I64_MAX <= value <= I64_MAX:
            raise _bad_top_k(value, 0)
        return value
    a = np.asarray(value)
    if a.dtype.kind not in "iuf b":
        raise TypeError(f"top_k must be an integer or an array of integers, got dtype {a.dtype}")
    if a.ndim == 0:
        v = a.item()
        if isinstance(v, float) and not (v.is_integer() and abs(v) <= I64_MAX):
            raise _bad_top_k(v, 0)
        return top_k_arg(int(v), batch)
    if a.shape != (batch,):
        raise ValueError(f"top_k has shape {a.shape}, expected a scalar or shape ({batch},)")
    if a.dtype.kind == "f":
        ok = np.isfinite(a) & (a == np.round(a)) & (np.abs(a) <= I64_MAX)
        if not ok.all():
            row = int(np.argmin(ok))
            raise _bad_top_k(a[row].item(), row)
    elif a.dtype.kind == "u" and a.size and int(a.max()) > I64_MAX:
        row = int(np.argmax(a))
        raise _bad_top_k(int(a[row]), row)
    return a.astype(np.int64)


def u64_per_row(name: str, value: object, batch: int) -> int | npt.NDArray[np.uint64]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        v = int(value)
        if not 0 <= v <= U64_MAX:
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


def seeds(seed: object, batch: int) -> int | npt.NDArray[np.uint64]:
    if seed is None:
        fresh = np.empty(batch, dtype=np.uint64)
        fresh[:] = np.frombuffer(os.urandom(8 * batch), dtype=np.uint64)
        return fresh
    return u64_per_row("seed", seed, batch)


class RowArgs(NamedTuple):
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


class Outs(NamedTuple):
    """The output arrays as the native module reads them."""

    tokens: I64
    logprobs: F32 | None
    top_ids: I64 | None
    top_logprobs: F32 | None
    raw: bool


def out_buffers(
    batch: int, n: int, n_top: int, logprobs: LogprobMode | None, tokens: I64 | None = None
) -> Outs:
    """Fresh output arrays (``tokens`` may be the caller's ``[batch, n]`` view)."""
    want = logprobs is not None or n_top > 0
    return Outs(
        np.empty((batch, n), dtype=np.int64) if tokens is None else tokens,
        np.empty((batch, n), dtype=np.float32) if want else None,
        np.empty((batch, n_top), dtype=np.int64) if n_top > 0 else None,
        np.empty((batch, n_top), dtype=np.float32) if n_top > 0 else None,
        logprobs == "raw",
    )


def logprob_mode(logprobs: object, return_logprobs: object, n_top: int) -> LogprobMode | None:
    """The logprob mode asked for: ``logprobs`` if given; ``return_logprobs=True`` (and
    ``top_logprobs > 0`` alone) mean ``"processed"``."""
    if logprobs is None:
        return "processed" if bool(return_logprobs) or n_top > 0 else None
    if logprobs not in ("raw", "processed"):
        raise ValueError(f"logprobs must be 'raw', 'processed' or None, got {logprobs!r}")
    return logprobs


def row_args(p: SamplingParams, batch: int, *, seed: object = None, step: object = 0) -> RowArgs:
    return RowArgs(
        per_row("temperature", p.temperature, batch),
        top_k_arg(p.top_k, batch),
        per_row("top_p", p.top_p, batch),
        per_row("min_p", p.min_p, batch),
        per_row("typical_p", p.typical_p, batch),
        per_row("repetition_penalty", p.repetition_penalty, batch),
        per_row("presence_penalty", p.presence_penalty, batch),
        per_row("frequency_penalty", p.frequency_penalty, batch),
        seeds(seed, batch),
        u64_per_row("step", step, batch),
    )


def check_out(out: object, shape: tuple[int, ...], dtype: type, name: str = "out") -> None:
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


def check_counts(n: object, top_logprobs: object) -> tuple[int, int]:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if (
        not isinstance(top_logprobs, (int, np.integer))
        or isinstance(top_logprobs, bool)
        or top_logprobs < 0
    ):
        raise ValueError(f"top_logprobs must be an int >= 0, got {top_logprobs!r}")
    return int(n), int(top_logprobs)


def shape_result(
    outs: Outs, one_d: bool, n: int, result: Callable[[I64, F32, I64 | None, F32 | None], R]
) -> int | I64 | R:
    """Shape the ``[batch, n]`` / ``[batch, n_top]`` buffers into what :func:`tokenmill.sample`
    returns: the ids, or ``result(tokens, logprobs, top_ids, top_logprobs)`` when logprobs were
    asked for."""

    def main(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if one_d:
            return a.reshape(()) if n == 1 else a.reshape(n)
        return a.reshape(a.shape[0]) if n == 1 else a

    def top(a: np.ndarray[Any, Any] | None) -> np.ndarray[Any, Any] | None:
        return None if a is None else (a.reshape(-1) if one_d else a)

    tokens, lp, tids, tlp, _ = outs
    if lp is None:
        return int(tokens.reshape(-1)[0]) if one_d and n == 1 else main(tokens)
    return result(main(tokens), main(lp), top(tids), top(tlp))
