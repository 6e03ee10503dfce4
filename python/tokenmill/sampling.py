"""Softmax and sampling over numpy logits: exact top-k / top-p / min-p, reproducible per request.

Every function takes logits of shape ``[vocab]`` or ``[batch, vocab]``. float32 C-contiguous arrays
are used without copying; float16 / float64 arrays and non-contiguous arrays are converted to
C-contiguous float32 once; objects exposing DLPack (a torch CPU tensor, for example) or
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
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from tokenmill import _native

__all__ = ["SampleResult", "Sampler", "kept_mask", "log_softmax", "sample", "softmax"]

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

_U64_MAX = (1 << 64) - 1


class SampleResult(NamedTuple):
    """Tokens with their log-probabilities under the final (filtered, renormalised) distribution.

    ``tokens`` and ``logprobs`` have shape ``[batch]`` (or ``[batch, n]`` when ``n > 1``);
    ``top_ids`` / ``top_logprobs`` have shape ``[batch, top_logprobs]``, most likely first, padded
    with id ``-1`` and logprob ``-inf`` when fewer tokens survive the filters. For 1-D logits the
    batch axis is dropped.
    """

    tokens: I64
    logprobs: F32 | None
    top_ids: I64 | None
    top_logprobs: F32 | None


def _as_array(x: Any) -> np.ndarray[Any, Any]:
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except (TypeError, BufferError, RuntimeError):
            pass  # e.g. a device tensor or a dtype numpy lacks: try __array__ below
    return np.asarray(x)


def _logits(x: Any) -> tuple[F32, bool]:
    """2-D C-contiguous float32 view of ``x`` (copied only if needed) and whether it was 1-D."""
    a = _as_array(x)
    kind = a.dtype.kind
    if kind in "iub":
        raise TypeError(f"logits must be floating point, got integer dtype {a.dtype}")
    if kind == "c":
        raise TypeError(f"logits must be real floating point, got complex dtype {a.dtype}")
    if kind != "f":
        raise TypeError(f"logits must be a floating-point array, got dtype {a.dtype}")
    if a.ndim not in (1, 2):
        raise ValueError(f"logits must be 1-D [vocab] or 2-D [batch, vocab], got ndim={a.ndim}")
    if a.shape[-1] == 0:
        raise ValueError("logits has vocab size 0")
    one_d = a.ndim == 1
    a2 = a.reshape(1, -1) if one_d else a
    return np.ascontiguousarray(a2, dtype=np.float32), one_d


def _per_row(name: str, value: Any, batch: int) -> npt.NDArray[np.float64]:
    a = np.asarray(value)
    if a.dtype.kind not in "iuf b":
        raise TypeError(f"{name} must be a number or an array of numbers, got dtype {a.dtype}")
    if a.ndim == 0:
        return np.full(batch, float(a), dtype=np.float64)
    if a.shape != (batch,):
        raise ValueError(f"{name} has shape {a.shape}, expected a scalar or shape ({batch},)")
    return a.astype(np.float64)


def _u64_per_row(name: str, value: Any, batch: int) -> npt.NDArray[np.uint64]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        v = int(value)
        if not 0 <= v <= _U64_MAX:
            raise ValueError(f"{name} must be in [0, 2**64), got {v}")
        return np.full(batch, v, dtype=np.uint64)
    a = np.asarray(value)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an int or an integer array, got {type(value).__name__}")
    if a.shape != (batch,):
        raise ValueError(f"{name} has shape {a.shape}, expected an int or shape ({batch},)")
    if a.dtype.kind == "i" and a.size and int(a.min()) < 0:
        row = int(np.argmin(a))
        raise ValueError(f"{name} must be >= 0, got {int(a[row])} (row {row})")
    return a.astype(np.uint64)


def _seeds(seed: Any, batch: int) -> npt.NDArray[np.uint64]:
    if seed is None:
        fresh = np.empty(batch, dtype=np.uint64)
        fresh[:] = np.frombuffer(os.urandom(8 * batch), dtype=np.uint64)
        return fresh
    return _u64_per_row("seed", seed, batch)


_PLAIN = (int, float)


def _pack(
    batch: int,
    temperature: Any,
    top_k: Any,
    top_p: Any,
    min_p: Any,
    repetition_penalty: Any,
    presence_penalty: Any,
    frequency_penalty: Any,
) -> npt.NDArray[np.float64]:
    params = np.empty((batch, 7), dtype=np.float64)
    values = (
        temperature,
        top_k,
        top_p,
        min_p,
        repetition_penalty,
        presence_penalty,
        frequency_penalty,
    )
    if all(type(v) in (int, float) for v in values):  # fast path: plain Python numbers
        params[:] = values
        return params
    for col, (name, value) in enumerate(
        [
            ("temperature", temperature),
            ("top_k", top_k),
            ("top_p", top_p),
            ("min_p", min_p),
            ("repetition_penalty", repetition_penalty),
            ("presence_penalty", presence_penalty),
            ("frequency_penalty", frequency_penalty),
        ]
    ):
        params[:, col] = _per_row(name, value, batch)
    return params


_EMPTY_I64 = np.zeros(0, dtype=np.int64)
_EMPTY_F32 = np.zeros(0, dtype=np.float32)


class _Procs(NamedTuple):
    history_offsets: I64
    history_ids: I64
    history_counts: I64
    bias_offsets: I64
    bias_ids: I64
    bias_values: F32
    mask: npt.NDArray[np.uint32] | None


_NO_PROCS = _Procs(_EMPTY_I64, _EMPTY_I64, _EMPTY_I64, _EMPTY_I64, _EMPTY_I64, _EMPTY_F32, None)


def _int_row(name: str, row: Any, r: int) -> I64:
    a = np.asarray(row)
    if a.size == 0:
        return _EMPTY_I64
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} row {r} must contain integers, got dtype {a.dtype}")
    return a.reshape(-1).astype(np.int64, copy=False)


def _history(
    token_history: Any, token_counts: Any, batch: int, vocab: int, one_d: bool
) -> tuple[I64, I64, I64]:
    if token_history is not None and token_counts is not None:
        raise TypeError("pass token_history or token_counts, not both")
    if token_counts is not None:
        c = np.asarray(token_counts)
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
        return _EMPTY_I64, _EMPTY_I64, _EMPTY_I64
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
    ids = np.concatenate(ids_parts) if ids_parts else _EMPTY_I64
    counts = np.concatenate(count_parts) if count_parts else _EMPTY_I64
    return offsets, ids, counts


def _bias(logit_bias: Any, batch: int, vocab: int, one_d: bool) -> tuple[I64, I64, F32]:
    if logit_bias is None:
        return _EMPTY_I64, _EMPTY_I64, _EMPTY_F32
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


def _mask(allowed_mask: Any, batch: int, vocab: int, one_d: bool) -> npt.NDArray[np.uint32] | None:
    if allowed_mask is None:
        return None
    m = _as_array(allowed_mask)
    words = (vocab + 31) // 32
    if m.dtype not in (np.int32, np.uint32):
        raise TypeError(f"allowed_mask must be packed int32 (or uint32), got dtype {m.dtype}")
    if one_d and m.ndim == 1:
        m = m.reshape(1, -1)
    if m.shape != (batch, words):
        raise ValueError(
            f"allowed_mask has shape {m.shape}, expected ({batch}, {words}) = "
            f"(batch, ceil(vocab / 32))"
        )
    return np.ascontiguousarray(m).view(np.uint32)


def _procs(
    batch: int,
    vocab: int,
    one_d: bool,
    token_history: Any,
    token_counts: Any,
    logit_bias: Any,
    allowed_mask: Any,
) -> _Procs:
    if (
        token_history is None
        and token_counts is None
        and logit_bias is None
        and allowed_mask is None
    ):
        return _NO_PROCS  # fast path: no processors at all
    ho, hi, hc = _history(token_history, token_counts, batch, vocab, one_d)
    bo, bi, bv = _bias(logit_bias, batch, vocab, one_d)
    return _Procs(ho, hi, hc, bo, bi, bv, _mask(allowed_mask, batch, vocab, one_d))


def _keys(seed: Any, step: Any, batch: int) -> npt.NDArray[np.uint64]:
    keys = np.empty((batch, 2), dtype=np.uint64)
    # Fast paths for plain Python ints (the common decode-loop call); everything else, and every
    # error message, goes through the general helpers.
    if type(step) is int and 0 <= step <= _U64_MAX:
        if type(seed) is int and 0 <= seed <= _U64_MAX:
            keys[:] = (seed, step)
            return keys
        if seed is None:
            keys[:, 0] = np.frombuffer(os.urandom(8 * batch), dtype=np.uint64)
            keys[:, 1] = step
            return keys
    keys[:, 0] = _seeds(seed, batch)
    keys[:, 1] = _u64_per_row("step", step, batch)
    return keys


def _check_out(out: Any, shape: tuple[int, ...], dtype: Any, name: str = "out") -> None:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(out).__name__}")
    if out.dtype != dtype or out.shape != shape or not out.flags.c_contiguous:
        raise ValueError(
            f"{name} must be a C-contiguous {np.dtype(dtype)} array of shape {shape}, "
            f"got {out.dtype} {out.shape}"
        )
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")


def _softmax(logits: Any, temperature: Any, out: F32 | None, log: bool) -> F32:
    x, one_d = _logits(logits)
    batch = x.shape[0]
    temps = _per_row("temperature", temperature, batch)
    shape = (x.shape[1],) if one_d else x.shape
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    else:
        _check_out(out, shape, np.float32)
    _native.softmax_into(x, temps, log, out.reshape(x.shape))
    return out


def softmax(logits: Any, temperature: Any = 1.0, *, out: F32 | None = None) -> F32:
    """``softmax(logits / temperature)`` along the last axis, as float32 of the input's shape.

    ``temperature`` (> 0) is a scalar or one value per row. Relative error against a float64
    reference is at most 1e-6 for every probability that is a normal float32 (vector exp with
    exact range reduction; sums in float64). Raises ``ValueError`` for NaN or ``+inf`` logits and
    for rows that are entirely ``-inf``. ``out`` (float32, C-contiguous, same shape) is filled and
    returned instead of a new array.
    """
    return _softmax(logits, temperature, out, log=False)


def log_softmax(logits: Any, temperature: Any = 1.0, *, out: F32 | None = None) -> F32:
    """``log(softmax(logits / temperature))`` along the last axis; see :func:`softmax`."""
    return _softmax(logits, temperature, out, log=True)


def kept_mask(
    logits: Any,
    *,
    temperature: Any = 1.0,
    top_k: Any = 0,
    top_p: Any = 1.0,
    min_p: Any = 0.0,
    repetition_penalty: Any = 1.0,
    presence_penalty: Any = 0.0,
    frequency_penalty: Any = 0.0,
    token_history: Any = None,
    token_counts: Any = None,
    logit_bias: Any = None,
    allowed_mask: Any = None,
) -> npt.NDArray[np.bool_]:
    """The tokens :func:`sample` can return with these settings: a boolean array shaped like
    ``logits``, ``True`` for every token of non-zero probability that survives the processors and
    filters (in the documented order and tie rule). With ``temperature == 0`` only the argmax is
    kept.
    """
    x, one_d = _logits(logits)
    batch, vocab = x.shape
    params = _pack(
        batch,
        temperature,
        top_k,
        top_p,
        min_p,
        repetition_penalty,
        presence_penalty,
        frequency_penalty,
    )
    procs = _procs(batch, vocab, one_d, token_history, token_counts, logit_bias, allowed_mask)
    out = np.empty((batch, vocab), dtype=np.bool_)
    keys = np.zeros((batch, 2), dtype=np.uint64)
    _native.kept_mask_into(x, params, keys, procs, out)
    return out[0] if one_d else out


def _check_counts(n: Any, top_logprobs: Any) -> tuple[int, int]:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if (
        not isinstance(top_logprobs, (int, np.integer))
        or isinstance(top_logprobs, bool)
        or top_logprobs < 0
    ):
        raise ValueError(f"top_logprobs must be an int >= 0, got {top_logprobs!r}")
    return int(n), int(top_logprobs)


def sample(
    logits: Any,
    *,
    temperature: Any = 1.0,
    top_k: Any = 0,
    top_p: Any = 1.0,
    min_p: Any = 0.0,
    seed: Any = None,
    step: Any = 0,
    repetition_penalty: Any = 1.0,
    presence_penalty: Any = 0.0,
    frequency_penalty: Any = 0.0,
    token_history: Any = None,
    token_counts: Any = None,
    logit_bias: Any = None,
    allowed_mask: Any = None,
    n: int = 1,
    return_logprobs: bool = False,
    top_logprobs: int = 0,
    out: I64 | None = None,
) -> Any:
    """Sample token ids from ``logits`` (``[vocab]`` or ``[batch, vocab]``).

    Every sampling parameter is a scalar or a per-row array of shape ``[batch]``:

    - ``temperature`` (>= 0; 0 = greedy argmax, ties to the lowest id), ``top_k`` (0 = off),
      ``top_p`` in (0, 1] (1 = off), ``min_p`` in [0, 1] (0 = off);
    - ``seed`` (int in [0, 2**64) or per-row; ``None`` = OS randomness) and ``step`` (the decode
      step, so one seed gives a fresh draw each step);
    - ``repetition_penalty`` (> 0, 1 = off), ``presence_penalty`` and ``frequency_penalty``
      (0 = off), applied to the tokens in ``token_history`` (per-row sequences of ids; negative
      ids are padding) or ``token_counts`` (``[batch, vocab]`` integer counts);
    - ``logit_bias``: ``{token_id: bias}`` for every row, a list of such dicts (one per row), or a
      dense ``[vocab]`` / ``[batch, vocab]`` array;
    - ``allowed_mask``: packed int32 ``[batch, ceil(vocab / 32)]``.

    See the module docstring for the processing order and the tie rule. Returns int64 ids of shape
    ``[batch]`` (``[batch, n]`` for ``n > 1`` independent draws per row; a plain ``int`` for 1-D
    logits and ``n == 1``). With ``return_logprobs`` or ``top_logprobs > 0`` a
    :class:`SampleResult` is returned instead. ``out`` (int64, C-contiguous, the shape of the ids)
    receives the ids without allocating.
    """
    if (
        type(logits) is np.ndarray
        and type(n) is int
        and n == 1
        and out is None
        and return_logprobs is False
        and type(top_logprobs) is int
        and top_logprobs == 0
        and type(temperature) in _PLAIN
        and type(top_k) is int
        and type(top_p) in _PLAIN
        and type(min_p) in _PLAIN
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
        and logits.size > 0
        and (logits.ndim == 1 or (logits.ndim == 2 and logits.shape[0] == 1))
    ):
        # Fast path: one row, plain Python numbers, no processors (the single-sequence decode
        # call). Same core call and checks as below, without building per-row arrays.
        if seed is None:
            seed = int.from_bytes(os.urandom(8), "little")
        tok = _native.sample_one(logits.reshape(-1), temperature, top_k, top_p, min_p, seed, step)
        return tok if logits.ndim == 1 else np.array([tok], dtype=np.int64)
    x, one_d = _logits(logits)
    batch, vocab = x.shape
    n, n_top = _check_counts(n, top_logprobs)
    params = _pack(
        batch,
        temperature,
        top_k,
        top_p,
        min_p,
        repetition_penalty,
        presence_penalty,
        frequency_penalty,
    )
    keys = _keys(seed, step, batch)
    procs = _procs(batch, vocab, one_d, token_history, token_counts, logit_bias, allowed_mask)
    res_shape: tuple[int, ...] = (batch,) if n == 1 else (batch, n)
    if one_d:
        res_shape = res_shape[1:] if n > 1 else (1,)
    if out is None:
        tokens = np.empty((batch, n), dtype=np.int64)
    else:
        _check_out(out, res_shape, np.int64)
        tokens = out.reshape(batch, n)
    want_lp = bool(return_logprobs) or n_top > 0
    lp = np.empty((batch, n), dtype=np.float32) if want_lp else None
    tids = np.empty((batch, n_top), dtype=np.int64) if n_top > 0 else None
    tlp = np.empty((batch, n_top), dtype=np.float32) if n_top > 0 else None
    _native.sample_into(x, params, keys, procs, tokens, lp, tids, tlp)
    if out is not None and not want_lp:
        return int(out.reshape(-1)[0]) if one_d and n == 1 else out
    return _result(tokens, lp, tids, tlp, one_d, n, want_lp)


def _result(
    tokens: I64,
    lp: F32 | None,
    tids: I64 | None,
    tlp: F32 | None,
    one_d: bool,
    n: int,
    want_lp: bool,
) -> Any:
    """Shape the ``[batch, n]`` / ``[batch, n_top]`` buffers into what :func:`sample` returns."""

    def main(a: Any) -> Any:
        if one_d:
            return a.reshape(()) if n == 1 else a.reshape(n)
        return a.reshape(a.shape[0]) if n == 1 else a

    def top(a: Any) -> Any:
        return None if a is None else (a.reshape(-1) if one_d else a)

    if not want_lp:
        return int(tokens.reshape(-1)[0]) if one_d and n == 1 else main(tokens)
    return SampleResult(main(tokens), None if lp is None else main(lp), top(tids), top(tlp))


class Sampler:
    """Per-row sampling settings plus reusable buffers, for decode loops.

    Construct once per batch layout; every parameter is a scalar or a per-row array of length
    ``batch_size``. Each :meth:`sample` call writes into buffers owned by the sampler (the returned
    arrays are overwritten by the next call: copy them to keep them) and, unless ``step`` is given,
    advances an internal step counter, so a seeded sampler gives a reproducible stream of tokens.
    With ``seed=None`` the per-row seeds are drawn once from ``os.urandom``.
    """

    def __init__(
        self,
        batch_size: int,
        *,
        temperature: Any = 1.0,
        top_k: Any = 0,
        top_p: Any = 1.0,
        min_p: Any = 0.0,
        repetition_penalty: Any = 1.0,
        presence_penalty: Any = 0.0,
        frequency_penalty: Any = 0.0,
        logit_bias: Any = None,
        seed: Any = None,
        n: int = 1,
        return_logprobs: bool = False,
        top_logprobs: int = 0,
    ) -> None:
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.n, self.top_logprobs = _check_counts(n, top_logprobs)
        b = self.batch_size
        self._params = _pack(
            b,
            temperature,
            top_k,
            top_p,
            min_p,
            repetition_penalty,
            presence_penalty,
            frequency_penalty,
        )
        self._keys = _keys(seed, 0, b)
        self._logit_bias = logit_bias
        self._bias_cache: dict[int, tuple[I64, I64, F32]] = {}
        self.step = 0
        self._want_lp = bool(return_logprobs) or self.top_logprobs > 0
        self._tokens = np.empty((b, self.n), dtype=np.int64)
        self._lp = np.empty((b, self.n), dtype=np.float32) if self._want_lp else None
        nt = self.top_logprobs
        self._tids = np.empty((b, nt), dtype=np.int64) if nt > 0 else None
        self._tlp = np.empty((b, nt), dtype=np.float32) if nt > 0 else None

    def sample(
        self,
        logits: Any,
        *,
        step: int | None = None,
        token_history: Any = None,
        token_counts: Any = None,
        allowed_mask: Any = None,
    ) -> Any:
        """Sample one step for ``logits`` of shape ``[batch_size, vocab]``; see :func:`sample`
        for the result types. ``step`` overrides the internal counter (which then continues from
        ``step + 1``)."""
        x, one_d = _logits(logits)
        batch, vocab = x.shape
        if batch != self.batch_size:
            raise ValueError(
                f"logits has batch {batch}, this Sampler was built for {self.batch_size}"
            )
        cur = self.step if step is None else step
        if not isinstance(cur, (int, np.integer)) or cur < 0:
            raise ValueError(f"step must be an int >= 0, got {cur!r}")
        self._keys[:, 1] = cur
        bias = self._bias_cache.get(vocab)
        if bias is None:
            bias = _bias(self._logit_bias, batch, vocab, one_d)
            self._bias_cache[vocab] = bias
        ho, hi, hc = _history(token_history, token_counts, batch, vocab, one_d)
        procs = _Procs(ho, hi, hc, *bias, _mask(allowed_mask, batch, vocab, one_d))
        _native.sample_into(
            x, self._params, self._keys, procs, self._tokens, self._lp, self._tids, self._tlp
        )
        self.step = int(cur) + 1
        return _result(self._tokens, self._lp, self._tids, self._tlp, one_d, self.n, self._want_lp)
