"""The accelerator catalogue (``data/gpus.json``) and training time, GPU-hours and cost.

Wall-clock seconds = C / (n_gpus · peak FLOP/s · MFU); see docs/scaling.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from functools import cache
from typing import Any

from tokenmill._data import read_text
from tokenmill.scaling.checks import choice, fraction_of_peak, number, positive, positive_int
from tokenmill.scaling.units import (
    FLOP_PER_PF_S_DAY,
    PRECISIONS,
    SECONDS_PER_DAY,
    training_flop,
)

__all__ = [
    "FP64_CLASS_MARGIN",
    "LOW_THROUGHPUT_FRACTION",
    "Gpu",
    "TrainingEstimate",
    "get_gpu",
    "gpus",
    "gpus_for_deadline",
    "load_data",
    "training_estimate",
]


@dataclass(frozen=True)
class Gpu:
    """One accelerator: dense peak TFLOP/s per precision (None where the chip has no such mode)."""

    key: str
    name: str
    fp64: float | None
    tf32: float | None
    bf16: float | None
    fp8: float | None
    memory_gb: float
    bandwidth_tb_s: float
    source: str
    url: str
    notes: str

    def peak_tflop_per_s(self, precision: str) -> float:
        if precision not in PRECISIONS:
            raise ValueError(
                f"unknown precision {precision!r}; valid choices: {', '.join(PRECISIONS)}"
            )
        value: float | None = {
            "fp64": self.fp64,
            "tf32": self.tf32,
            "bf16": self.bf16,
            "fp8": self.fp8,
        }[precision]
        if value is None:
            have = [p for p in PRECISIONS if getattr(self, p) is not None]
            raise ValueError(
                f"{self.name} has no dense {precision} peak; it has: {', '.join(have)}"
            )
        return value


def load_data(name: str) -> Any:
    """A bundled JSON data file of the scaling calculator, parsed."""
    return json.loads(read_text(name))


@cache
def _gpus() -> dict[str, Gpu]:
    raw: dict[str, dict[str, Any]] = load_data("gpus.json")["gpus"]
    return {key: Gpu(key=key, **entry) for key, entry in raw.items()}


def gpus() -> dict[str, Gpu]:
    """The sourced accelerator catalogue, keyed by short name (``"h100-sxm"``, ``"mi300x"``...)."""
    return dict(_gpus())


def get_gpu(key: str | Gpu) -> Gpu:
    """Look up a catalogue entry; an unknown key raises ValueError listing the valid ones."""
    if isinstance(key, Gpu):
        return key
    gpu: Gpu = choice("gpu", key, _gpus())
    return gpu


@dataclass(frozen=True)
class TrainingEstimate:
    """Wall-clock time and cost of a training run.

    ``peak_flop_per_s`` is per device (dense); the cluster sustains
    ``n_gpus · peak_flop_per_s · mfu`` FLOP/s. ``notes`` flags suspicious inputs;
    ``at_bf16_peak`` repeats the estimate at the device's dense BF16 peak when a given
    per-device throughput looks like an FP64-class or otherwise far-too-low figure.
    """

    compute_flop: float
    pf_s_days: float
    gpu: str | None
    precision: str | None
    peak_flop_per_s: float
    n_gpus: int
    mfu: float
    cluster_flop_per_s: float
    wall_clock_seconds: float
    wall_clock_days: float
    gpu_hours: float
    price_per_gpu_hour: float | None
    cost_usd: float | None
    notes: tuple[str, ...] = ()
    at_bf16_peak: TrainingEstimate | None = None


#: A per-device throughput under this fraction of the device's dense BF16 peak is flagged.
LOW_THROUGHPUT_FRACTION = 0.25
#: A throughput at or below this multiple of the FP64 peak is flagged as an FP64-class figure.
FP64_CLASS_MARGIN = 1.1


def _estimate(
    compute: float,
    gpu: Gpu | None,
    precision: str | None,
    peak_tflop_per_s: float,
    n_gpus: int,
    mfu: float,
    price: float | None,
) -> TrainingEstimate:
    peak = peak_tflop_per_s * 1e12
    cluster = n_gpus * peak * mfu
    seconds = compute / cluster
    gpu_hours = n_gpus * seconds / 3600.0
    return TrainingEstimate(
        compute_flop=compute,
        pf_s_days=compute / FLOP_PER_PF_S_DAY,
        gpu=None if gpu is None else gpu.key,
        precision=precision,
        peak_flop_per_s=peak,
        n_gpus=n_gpus,
        mfu=mfu,
        cluster_flop_per_s=cluster,
        wall_clock_seconds=seconds,
        wall_clock_days=seconds / SECONDS_PER_DAY,
        gpu_hours=gpu_hours,
        price_per_gpu_hour=price,
        cost_usd=None if price is None else gpu_hours * price,
    )


def _resolve_compute(
    compute_flop: float | None, n_params: float | None, n_tokens: float | None
) -> float:
    if compute_flop is not None:
        if n_params is not None or n_tokens is not None:
            raise ValueError("give either compute_flop or n_params and n_tokens, not both")
        return positive("compute_flop", compute_flop)
    if n_params is None or n_tokens is None:
        raise ValueError("give compute_flop, or both n_params and n_tokens")
    return training_flop(n_params, n_tokens)


def _throughput_notes(gpu: Gpu, tflop_per_s: float) -> list[str]:
    notes: list[str] = []
    bf16 = gpu.bf16
    if gpu.fp64 is not None and tflop_per_s <= FP64_CLASS_MARGIN * gpu.fp64:
        notes.append(
            f"{tflop_per_s:g} TFLOP/s is an FP64-class figure for the {gpu.name} (its dense FP64 "
            f"peak is {gpu.fp64:g} TFLOP/s); LLM training runs in BF16, whose dense peak is "
            f"{bf16:g} TFLOP/s"
        )
    elif bf16 is not None and tflop_per_s < LOW_THROUGHPUT_FRACTION * bf16:
        notes.append(
            f"{tflop_per_s:g} TFLOP/s is under {LOW_THROUGHPUT_FRACTION:.0%} of the "
            f"{gpu.name}'s dense BF16 peak ({bf16:g} TFLOP/s)"
        )
    if tflop_per_s > max(getattr(gpu, p) or 0.0 for p in PRECISIONS):
        notes.append(
            f"{tflop_per_s:g} TFLOP/s exceeds every dense peak of the {gpu.name}; "
            "was a sparsity figure used?"
        )
    return notes


def training_estimate(
    compute_flop: float | None = None,
    *,
    n_params: float | None = None,
    n_tokens: float | None = None,
    gpu: str | Gpu | None = None,
    precision: str = "bf16",
    peak_tflop_per_s: float | None = None,
    n_gpus: int,
    mfu: float,
    price_per_gpu_hour: float | None = None,
) -> TrainingEstimate:
    """Wall-clock days, GPU-hours and cost of training with C FLOP (or C = 6·N·D).

    The per-device peak is the catalogue's dense ``precision`` figure for ``gpu``, or
    ``peak_tflop_per_s`` when given (TFLOP/s, 10^12 FLOP/s). ``mfu`` in (0, 1] is the fraction of
    peak the run sustains (1.0 = "100% utilisation"). When both a ``gpu`` and an explicit peak
    are given, the peak is checked against the catalogue: a figure in the device's FP64 class or
    under a quarter of its BF16 peak produces a note and a second estimate at the BF16 peak
    (same MFU) in ``at_bf16_peak``.
    """
    compute = _resolve_compute(compute_flop, n_params, n_tokens)
    count = positive_int("n_gpus", n_gpus)
    utilisation = fraction_of_peak(mfu)
    price = None
    if price_per_gpu_hour is not None:
        price = number("price_per_gpu_hour", price_per_gpu_hour)
    if price is not None and price < 0:
        raise ValueError(f"price_per_gpu_hour must not be negative, got {price_per_gpu_hour!r}")
    device = None if gpu is None else get_gpu(gpu)
    if peak_tflop_per_s is None:
        if device is None:
            raise ValueError("give a gpu from the catalogue or an explicit peak_tflop_per_s")
        peak = device.peak_tflop_per_s(precision)
        used_precision: str | None = precision
    else:
        peak = positive("peak_tflop_per_s", peak_tflop_per_s)
        used_precision = None
    base = _estimate(compute, device, used_precision, peak, count, utilisation, price)
    if device is None or peak_tflop_per_s is None:
        return base
    notes = _throughput_notes(device, peak)
    alternative = None
    if notes and device.bf16 is not None and device.bf16 != peak:
        alternative = _estimate(compute, device, "bf16", device.bf16, count, utilisation, price)
    return dataclasses.replace(base, notes=tuple(notes), at_bf16_peak=alternative)


#: The most GPUs a deadline may ask for (about a thousand times the largest cluster built).
MAX_GPUS = 1e9


def gpus_for_deadline(
    compute_flop: float | None = None,
    *,
    days: float,
    n_params: float | None = None,
    n_tokens: float | None = None,
    gpu: str | Gpu | None = None,
    precision: str = "bf16",
    peak_tflop_per_s: float | None = None,
    mfu: float,
    price_per_gpu_hour: float | None = None,
) -> TrainingEstimate:
    """The smallest GPU count that finishes within ``days``, as a full estimate at that count."""
    compute = _resolve_compute(compute_flop, n_params, n_tokens)
    deadline = positive("days", days)
    utilisation = fraction_of_peak(mfu)
    if peak_tflop_per_s is None:
        if gpu is None:
            raise ValueError("give a gpu from the catalogue or an explicit peak_tflop_per_s")
        peak = get_gpu(gpu).peak_tflop_per_s(precision)
    else:
        peak = positive("peak_tflop_per_s", peak_tflop_per_s)
    needed = compute / (peak * 1e12 * utilisation * deadline * SECONDS_PER_DAY)
    if not math.isfinite(needed) or needed > MAX_GPUS:
        raise ValueError(
            f"a deadline of {days:g} days needs {needed:.3g} GPUs (more than {MAX_GPUS:.0e}):"
            " not a plausible deadline"
        )
    count = max(1, math.ceil(needed))
    # ceil of a float quotient can land one too high when `needed` is an integer up to rounding.
    fewer = count - 1
    if fewer >= 1 and compute / (fewer * peak * 1e12 * utilisation) <= deadline * SECONDS_PER_DAY:
        count = fewer
    return training_estimate(
        compute,
        gpu=gpu,
        precision=precision,
        peak_tflop_per_s=peak_tflop_per_s,
        n_gpus=count,
        mfu=utilisation,
        price_per_gpu_hour=price_per_gpu_hour,
    )
