"""Sampling rows: tokenmill's softmax and samplers against numpy, torch and one read pass.

Design notes
------------
* Input: float32 logits ``N(0, 1) * 3`` (fixed seed), C-contiguous, one array per shape.
* Operations: softmax (T = 1); temperature 0.7 + top-k 50 + sample; temperature 0.7 + top-p 0.9 +
  sample; min-p 0.05 + sample (T = 1); greedy (argmax); log_softmax (T = 1); temperature 0.7 +
  sample (no filter).
* The floor of every row is one read pass over the same array, ``np.max(x, axis=1)``: no
  sampler can beat reading the logits once, so ``ratio`` = row time / floor time is the figure
  that survives a change of machine. Anything that writes a full output (softmax, log_softmax)
  also has the copy floor, ``np.copyto`` into a preallocated array, as a second reference
  (``extra["× copy"]``). Each operation's calls (tokenmill, the peers and both floors) are timed
  in shared rounds (``measure_interleaved``), and the ratios use the floors of those same rounds,
  so drift of a shared machine cancels out of them. With one thread the clock is the calling
  thread's CPU time (``time.thread_time``: every library runs on that thread, and time spent
  waiting for a core of a shared machine is left out); with more, wall time.
* Every instruction set the CPU runs: tokenmill's rows come from this process (the widest set,
  or the one ``TOKENMILL_SIMD`` forces; library ``tokenmill``) and from one child process per
  other usable set, forced with ``TOKENMILL_SIMD`` (library ``tokenmill [avx2]`` etc.), each
  timed against its own floors in its own rounds.
* Peers: straightforward numpy implementations written here (softmax as max/exp/sum into new
  buffers, top-k by ``argpartition``, top-p by a full ``argsort``, min-p by the threshold
  ``logit >= max + ln(min_p)``, sampling by inverse CDF), and torch when importable (``softmax``,
  ``topk`` + ``multinomial``, top-p the Hugging Face way: sort, cumsum, mask). numpy is
  single-threaded, so its rows run only in the single-thread mode.
* Exactness, checked before timing against a float64 numpy reference computed here:
  softmax max relative error <= 1e-6 (a peer between 1e-6 and 1e-4 is shown as float32
  rounding, above as WRONG); log_softmax max error <= 1e-6 relative to ``max(|ref|, 1)``;
  tokenmill's ``kept_mask`` equal to the reference kept set; every sampled token (tokenmill's
  and the peers') inside the reference kept set; greedy equal to the reference argmax (ties to
  the lowest id). Reference semantics: top-k keeps exactly k, ties
  to the lower id; top-p keeps the smallest prefix of the descending order whose mass reaches p;
  min-p keeps ``p >= min_p * p_max``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from tokenmill.bench.harness import (
    BenchConfig,
    Row,
    Skip,
    Timing,
    measure_interleaved,
    thread_mode,
)

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

FULL_SHAPES = ((1, 32000), (64, 128256), (256, 151936), (16, 262144))
# Shapes of the per-instruction-set rows (child processes): the large ones, where the kernels
# and not the call overhead decide.
ISA_SHAPES = ((64, 128256), (256, 151936), (16, 262144))
QUICK_SHAPES = ((1, 32000), (16, 128256))
SOFTMAX_REL_TOL = 1e-6  # tokenmill's stated softmax bound
FLOAT32_REL_TOL = 1e-4  # beyond plain float32 rounding of exp: a wrong softmax
_CHUNK = 16  # rows per float64 reference chunk (bounds its memory)


@dataclass(frozen=True)
class Op:
    name: str
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0


OPS = (
    Op("softmax"),
    Op("temperature + top-k 50 + sample", temperature=0.7, top_k=50),
    Op("temperature + top-p 0.9 + sample", temperature=0.7, top_p=0.9),
    Op("min-p 0.05 + sample", min_p=0.05),
    Op("greedy", temperature=0.0),
    Op("log_softmax"),
    Op("temperature + sample", temperature=0.7),
)


def make_logits(shape: tuple[int, int], seed: int = 0) -> F32:
    rng = np.random.default_rng(seed)
    x: F32 = rng.standard_normal(shape, dtype=np.float32)
    x *= np.float32(3.0)
    return x


# --- float64 references ----------------------------------------------------------------------


def ref_softmax(x: F32, temperature: float = 1.0) -> F64:
    s = x.astype(np.float64) / temperature
    s -= s.max(axis=1, keepdims=True)
    e = np.exp(s)
    out: F64 = e / e.sum(axis=1, keepdims=True)
    return out


def ref_log_softmax(x: F32) -> F64:
    s = x.astype(np.float64)
    s -= s.max(axis=1, keepdims=True)
    out: F64 = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    return out


def ref_kept(x: F32, op: Op) -> Mask:
    """The reference kept set of ``op`` (float64, row chunks)."""
    out = np.zeros(x.shape, dtype=np.bool_)
    for lo in range(0, x.shape[0], _CHUNK):
        out[lo : lo + _CHUNK] = _ref_kept_chunk(x[lo : lo + _CHUNK], op)
    return out


def _ref_kept_chunk(x: F32, op: Op) -> Mask:
    s = x.astype(np.float64) / (op.temperature or 1.0)
    rows = np.arange(s.shape[0])[:, None]
    keep = np.ones(s.shape, dtype=np.bool_)
    # descending by value, ties by lower id: a stable sort of the negated values
    order = np.argsort(-s, axis=1, kind="stable")
    if op.top_k:
        keep = np.zeros(s.shape, dtype=np.bool_)
        keep[rows, order[:, : op.top_k]] = True
    if op.top_p < 1.0:
        masked = np.where(keep, s, -np.inf)
        p: F64 = np.exp(masked - masked.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        ps = np.take_along_axis(p, order, axis=1)
        before = np.cumsum(ps, axis=1) - ps
        in_prefix = (before < op.top_p) & (ps > 0)
        nucleus = np.zeros(s.shape, dtype=np.bool_)
        nucleus[np.broadcast_to(rows, order.shape), order] = in_prefix
        keep &= nucleus
    if op.min_p > 0.0:
        masked = np.where(keep, s, -np.inf)
        keep &= masked >= masked.max(axis=1, keepdims=True) + math.log(op.min_p)
    return keep


# --- numpy peers -----------------------------------------------------------------------------


def _inverse_cdf(weights: F64 | F32, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    c: F64 = np.cumsum(weights, axis=1, dtype=np.float64)
    u = rng.random((weights.shape[0], 1)) * c[:, -1:]
    j: npt.NDArray[np.int64] = np.minimum((c < u).sum(axis=1), weights.shape[1] - 1)
    return j


def numpy_softmax(x: F32) -> F32:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    out: F32 = e / e.sum(axis=1, keepdims=True)
    return out


def numpy_log_softmax(x: F32) -> F32:
    s = x - x.max(axis=1, keepdims=True)
    out: F32 = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    return out


def numpy_plain(x: F32, t: float, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    return _inverse_cdf(numpy_softmax(x / np.float32(t)), rng)


def numpy_top_k(x: F32, t: float, k: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    s = x / np.float32(t)
    idx = np.argpartition(s, -k, axis=1)[:, -k:]
    v = np.take_along_axis(s, idx, axis=1)
    w = np.exp(v - v.max(axis=1, keepdims=True))
    j = _inverse_cdf(w, rng)
    out: npt.NDArray[np.int64] = idx[np.arange(x.shape[0]), j]
    return out


def numpy_top_p(x: F32, t: float, p: float, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    probs = numpy_softmax(x / np.float32(t))
    order = np.argsort(-probs, axis=1)
    ps = np.take_along_axis(probs, order, axis=1)
    before = np.cumsum(ps, axis=1) - ps
    ps = np.where(before < p, ps, 0.0)
    j = _inverse_cdf(ps, rng)
    out: npt.NDArray[np.int64] = order[np.arange(x.shape[0]), j]
    return out


def numpy_min_p(x: F32, min_p: float, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    m = x.max(axis=1, keepdims=True)
    w = np.where(x >= m + np.float32(math.log(min_p)), np.exp(x - m), np.float32(0.0))
    return _inverse_cdf(w, rng)


def numpy_peer(op: Op, x: F32) -> Callable[[], Any]:
    rng = np.random.default_rng(0)
    if op.name == "softmax":
        return lambda: numpy_softmax(x)
    if op.name == "log_softmax":
        return lambda: numpy_log_softmax(x)
    if op.top_k:
        return lambda: numpy_top_k(x, op.temperature, op.top_k, rng)
    if op.top_p < 1.0:
        return lambda: numpy_top_p(x, op.temperature, op.top_p, rng)
    if op.min_p > 0.0:
        return lambda: numpy_min_p(x, op.min_p, rng)
    if op.temperature > 0.0:
        return lambda: numpy_plain(x, op.temperature, rng)
    return lambda: np.argmax(x, axis=1)


# --- torch peer (optional; never imported unless installed) ----------------------------------


def torch_peer(op: Op, x: F32, torch: Any) -> Callable[[], Any]:
    t = torch.from_numpy(x)
    gen = torch.Generator().manual_seed(0)

    def draw(probs: Any) -> Any:
        return torch.multinomial(probs, 1, generator=gen).squeeze(1)

    if op.name == "softmax":
        return lambda: torch.softmax(t, dim=-1)
    if op.name == "log_softmax":
        return lambda: torch.log_softmax(t, dim=-1)
    if op.top_k:

        def top_k() -> Any:
            v, i = torch.topk(t / op.temperature, op.top_k, dim=-1)
            return i.gather(1, draw(torch.softmax(v, dim=-1)).unsqueeze(1)).squeeze(1)

        return top_k
    if op.top_p < 1.0:

        def top_p() -> Any:  # the Hugging Face TopPLogitsWarper way: sort, cumsum, mask
            s = t / op.temperature
            v, i = torch.sort(s, descending=True, dim=-1)
            probs = torch.softmax(v, dim=-1)
            drop = (probs.cumsum(dim=-1) - probs) >= op.top_p
            v = v.masked_fill(drop, float("-inf"))
            return i.gather(1, draw(torch.softmax(v, dim=-1)).unsqueeze(1)).squeeze(1)

        return top_p
    if op.min_p > 0.0:

        def min_p() -> Any:
            probs = torch.softmax(t, dim=-1)
            cut = probs.max(dim=-1, keepdim=True).values * op.min_p
            return draw(probs.masked_fill(probs < cut, 0.0))

        return min_p
    if op.temperature > 0.0:
        return lambda: draw(torch.softmax(t / op.temperature, dim=-1))
    return lambda: torch.argmax(t, dim=-1)


def _to_numpy(result: Any) -> npt.NDArray[Any]:
    if hasattr(result, "detach"):
        result = result.detach().cpu().numpy()
    return np.asarray(result)


# --- tokenmill -------------------------------------------------------------------------------


def tokenmill_call(op: Op, x: F32, tm: Any) -> Callable[[], Any] | str:
    """tokenmill's call for ``op``, or the reason it cannot run in this build."""
    if op.name in ("softmax", "log_softmax"):
        fn = getattr(tm, op.name, None)
        if fn is None:
            return f"this build has no tokenmill.{op.name}"
        out = np.empty_like(x)
        try:
            fn(x, out=out)
        except TypeError:
            return lambda: fn(x)
        return lambda: fn(x, out=out)
    if not hasattr(tm, "sample"):
        return "this build has no tokenmill.sample"
    kwargs: dict[str, Any] = {"temperature": op.temperature, "seed": 0}
    if op.top_k:
        kwargs["top_k"] = op.top_k
    if op.top_p < 1.0:
        kwargs["top_p"] = op.top_p
    if op.min_p > 0.0:
        kwargs["min_p"] = op.min_p
    return lambda: tm.sample(x, **kwargs)


def _sample_verdict(tokens: npt.NDArray[Any], kept: Mask) -> tuple[bool, str]:
    tokens = tokens.reshape(-1)
    rows = np.arange(kept.shape[0])
    inside = kept[rows, tokens.astype(np.int64)]
    bad = int((~inside).sum())
    return bad == 0, "" if bad == 0 else f"{bad} sampled tokens outside the kept set"


def check(op: Op, x: F32, result: Any, library: str, tm: Any, ref: dict[str, Any]) -> str:
    """Exactness verdict of one call's result (see the module notes)."""
    try:
        arr = _to_numpy(result)
        if op.name == "softmax":
            exact = ref["softmax"]
            err = float(np.max(np.abs(arr.astype(np.float64) - exact) / exact))
            if err <= SOFTMAX_REL_TOL:
                return f"exact (max rel err {err:.1e})"
            if err <= FLOAT32_REL_TOL:
                return f"float32 rounding (max rel err {err:.1e} > {SOFTMAX_REL_TOL:.0e})"
            return f"WRONG (max rel err {err:.1e})"
        if op.name == "log_softmax":
            exact = ref["log_softmax"]
            err = float(np.max(np.abs(arr.astype(np.float64) - exact) / np.maximum(abs(exact), 1)))
            if err <= SOFTMAX_REL_TOL:
                return f"exact (max err {err:.1e})"
            if err <= FLOAT32_REL_TOL:
                return f"float32 rounding (max err {err:.1e} > {SOFTMAX_REL_TOL:.0e})"
            return f"WRONG (max err {err:.1e})"
        if op.temperature == 0.0:
            bad = int((arr.reshape(-1) != ref["argmax"]).sum())
            return "exact" if bad == 0 else f"WRONG ({bad} rows differ)"
        kept: Mask = ref["kept"]
        ok, why = _sample_verdict(arr, kept)
        if library == "tokenmill" and hasattr(tm, "kept_mask"):
            mask = np.asarray(
                tm.kept_mask(
                    x, temperature=op.temperature, top_k=op.top_k, top_p=op.top_p, min_p=op.min_p
                ),
                dtype=np.bool_,
            ).reshape(kept.shape)
            rows_bad = int((mask != kept).any(axis=1).sum())
            if rows_bad:
                ok = False
                why = f"kept set differs in {rows_bad}/{kept.shape[0]} rows"
            elif ok:
                return "exact (kept set)"
        return "exact (membership)" if ok else f"WRONG ({why})"
    except Exception as exc:  # a malformed result is a wrong result
        return f"WRONG ({type(exc).__name__}: {exc})"[:120]


def run(config: BenchConfig) -> tuple[list[Row], list[Skip]]:
    """Every sampling row of this mode: the peers and tokenmill on every usable instruction set."""
    import importlib
    import importlib.util

    import tokenmill.sampling as ours

    torch: Any = None
    skips: list[Skip] = []
    if importlib.util.find_spec("torch") is not None:
        torch = importlib.import_module("torch")
    else:
        skips.append(Skip("sampling", "torch", "not installed (optional peer)"))
    if config.threads > 1:
        skips.append(
            Skip("sampling", "numpy", "single-threaded: its rows are in the 1-thread table")
        )
    shapes = config.sampling_shapes or (QUICK_SHAPES if config.quick else FULL_SHAPES)
    rows, r_skips, missing = _shape_rows(config, shapes, ours, torch, "tokenmill", floors=True)
    skips += r_skips
    skips += [Skip("sampling", "tokenmill", why) for why in sorted(missing)]
    if not missing:
        isa_shapes = tuple(s for s in shapes if s in ISA_SHAPES) or shapes
        for isa in _other_isas():
            r, s = _isa_rows(config, isa, isa_shapes)
            rows += r
            skips += s
    return rows, skips


def _shape_rows(
    config: BenchConfig,
    shapes: tuple[tuple[int, int], ...],
    tm: Any,
    torch: Any,
    label: str,
    *,
    floors: bool,
) -> tuple[list[Row], list[Skip], set[str]]:
    """The rows of ``shapes``: the floors (if ``floors``), then per operation tokenmill (as
    ``label``) and, in the process that runs the widest set, the peers."""
    rows: list[Row] = []
    skips: list[Skip] = []
    missing: set[str] = set()
    for shape in shapes:
        x = make_logits(shape)
        dst = np.empty_like(x)
        shape_label = f"[{shape[0]}, {shape[1]}]"
        read_pass = partial(np.max, x, axis=1)
        copy = partial(np.copyto, dst, x)
        if floors:
            read_pass()
            copy()
            read, copied = measure_interleaved(
                [read_pass, copy],
                min_reps=config.min_reps,
                max_reps=config.max_reps,
                budget_s=config.row_budget_s,
                clock=_clock(config),
            )
            rows.append(
                _row(
                    "one read pass",
                    shape_label,
                    "np.max (floor)",
                    config,
                    read,
                    x,
                    read,
                    copied,
                    "",
                )
            )
            rows.append(
                _row(
                    "copy floor",
                    shape_label,
                    "np.copyto (floor)",
                    config,
                    copied,
                    x,
                    read,
                    copied,
                    "",
                )
            )
        for op in OPS:
            ref: dict[str, Any] = {}
            if op.name == "softmax":
                ref["softmax"] = ref_softmax(x)
            elif op.name == "log_softmax":
                ref["log_softmax"] = ref_log_softmax(x)
            elif op.temperature == 0.0:
                ref["argmax"] = np.argmax(x, axis=1)
            else:
                ref["kept"] = ref_kept(x, op)
            peers: list[tuple[str, Callable[[], Any] | str]] = [(label, tokenmill_call(op, x, tm))]
            if floors and config.threads == 1:
                peers.append(("numpy", numpy_peer(op, x)))
            if floors and torch is not None:
                peers.append(("torch", torch_peer(op, x, torch)))
            checked: list[tuple[str, Callable[[], Any], str]] = []
            for library, call in peers:
                if isinstance(call, str):
                    missing.add(call)
                    continue
                try:
                    lib = "tokenmill" if library == label else library
                    checked.append((library, call, check(op, x, call(), lib, tm, ref)))
                except Exception as exc:  # a peer failing is reported, not fatal
                    skips.append(
                        Skip("sampling", f"{library} / {op.name} / {shape_label}", str(exc))
                    )
            timings = measure_interleaved(
                [read_pass, copy] + [call for _, call, _ in checked],
                min_reps=config.min_reps,
                max_reps=config.max_reps,
                budget_s=config.row_budget_s,
                clock=_clock(config),
            )
            for (library, _, verdict), timing in zip(checked, timings[2:], strict=True):
                rows.append(
                    _row(
                        op.name,
                        shape_label,
                        library,
                        config,
                        timing,
                        x,
                        timings[0],
                        timings[1],
                        verdict,
                    )
                )
            del ref
    return rows, skips, missing


def _clock(config: BenchConfig) -> Callable[[], float]:
    """Thread CPU time with one thread (every library then runs on the calling thread, and on a
    shared machine this leaves out waiting for a core); wall time with more."""
    return time.thread_time if config.threads == 1 else time.perf_counter


def _other_isas() -> list[str]:
    """The usable instruction sets other than the one this process runs."""
    from tokenmill._native import build_info

    info = build_info()
    usable = info["simd_usable"]
    if not isinstance(usable, list):
        return []
    return [str(isa) for isa in usable if isa != info["simd_chosen"]]


def _isa_rows(
    config: BenchConfig, isa: str, shapes: tuple[tuple[int, int], ...]
) -> tuple[list[Row], list[Skip]]:
    """tokenmill's rows with ``TOKENMILL_SIMD=isa``, from a child process (the kernel table is
    chosen once per process)."""
    spec = {
        "isa": isa,
        "shapes": shapes,
        "quick": config.quick,
        "threads": config.threads,
        "budget_s": config.budget_s,
    }
    env = {**os.environ, "TOKENMILL_SIMD": isa}
    cmd = [sys.executable, "-m", "tokenmill.bench.sampling", json.dumps(spec)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    what = f"tokenmill [{isa}]"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return [], [Skip("sampling", what, f"child process failed: {last}")]
    doc = json.loads(proc.stdout)
    if doc["simd"] != isa:
        return [], [Skip("sampling", what, f"the child ran {doc['simd']}")]
    rows = [
        Row(**{**d, "timing": Timing(**d["timing"]) if d["timing"] else None}) for d in doc["rows"]
    ]
    return rows, []


def _child(spec_json: str) -> int:
    """Entry of ``_isa_rows``' child: tokenmill's rows only, as JSON on stdout."""
    from tokenmill import _native

    spec = json.loads(spec_json)
    shapes = tuple((int(b), int(v)) for b, v in spec["shapes"])
    config = BenchConfig(
        quick=spec["quick"],
        threads=spec["threads"],
        budget_s=spec["budget_s"],
        sampling_shapes=shapes,
    )
    import tokenmill.sampling as ours

    label = f"tokenmill [{spec['isa']}]"
    with thread_mode(config.threads):
        rows, _, _ = _shape_rows(config, shapes, ours, None, label, floors=False)
    simd = _native.build_info()["simd_chosen"]
    print(json.dumps({"simd": simd, "rows": [dataclasses.asdict(r) for r in rows]}))
    return 0


def _row(
    op: str,
    label: str,
    library: str,
    config: BenchConfig,
    timing: Any,
    x: F32,
    floor: Any,
    copy: Any,
    verdict: str,
) -> Row:
    return Row(
        "sampling",
        op,
        label,
        library,
        config.threads,
        timing,
        throughput=x.shape[0] / timing.median_s,
        throughput_unit="rows/s",
        ratio=timing.median_s / floor.median_s,
        ratio_to="np.max (floor)",
        exact=verdict,
        extra={"GB/s": x.nbytes / timing.median_s / 1e9, "× copy": timing.median_s / copy.median_s},
    )


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1]))
