"""Compute and scaling calculator: training FLOPs, compute-optimal sizes, time and cost on real
accelerators, parameters from an architecture, and inference memory.

Everything is a pure function over numbers and frozen dataclasses; nothing reads the network, and
the two data files (``data/gpus.json``, ``data/architectures.json``) are read once and cached.
Every function is O(1) except the isoFLOP curves (O(points)). Rooms:

* :mod:`~tokenmill.scaling.units` — unit conversions and training FLOPs (C = 6·N·D);
* :mod:`~tokenmill.scaling.fits` — Chinchilla loss fits and the compute-optimal allocation;
* :mod:`~tokenmill.scaling.hardware` — the accelerator catalogue, training time and cost;
* :mod:`~tokenmill.scaling.architecture` — parameter counts and inference memory;
* :mod:`~tokenmill.scaling.plot` — isoFLOP plots (matplotlib, imported on use).

The formulas, their sources and the choice of default fit are derived in ``docs/scaling.md``.
"""

from __future__ import annotations

from tokenmill.scaling.architecture import (
    Architecture,
    InferenceMemory,
    ParamCount,
    Preset,
    get_preset,
    inference_memory,
    param_count,
    presets,
)
from tokenmill.scaling.fits import (
    DEFAULT_FIT,
    FITS,
    Allocation,
    IsoFlopCurve,
    ScalingFit,
    chinchilla_rule,
    compute_optimal,
    isoflop_curve,
    predicted_loss,
)
from tokenmill.scaling.hardware import (
    FP64_CLASS_MARGIN,
    LOW_THROUGHPUT_FRACTION,
    Gpu,
    TrainingEstimate,
    get_gpu,
    gpus,
    gpus_for_deadline,
    training_estimate,
)
from tokenmill.scaling.plot import plot_isoflops
from tokenmill.scaling.units import (
    BYTES_PER_PARAM,
    FLOP_PER_FLOP_S_DAY,
    FLOP_PER_PF_S_DAY,
    PRECISIONS,
    SECONDS_PER_DAY,
    flop_to_gpu_hours,
    flop_to_pf_s_days,
    gpu_hours_to_flop,
    pf_s_days_to_flop,
    training_flop,
    training_flop_per_token,
)

__all__ = [
    "BYTES_PER_PARAM",
    "DEFAULT_FIT",
    "FITS",
    "FLOP_PER_FLOP_S_DAY",
    "FLOP_PER_PF_S_DAY",
    "FP64_CLASS_MARGIN",
    "LOW_THROUGHPUT_FRACTION",
    "PRECISIONS",
    "SECONDS_PER_DAY",
    "Allocation",
    "Architecture",
    "Gpu",
    "InferenceMemory",
    "IsoFlopCurve",
    "ParamCount",
    "Preset",
    "ScalingFit",
    "TrainingEstimate",
    "chinchilla_rule",
    "compute_optimal",
    "flop_to_gpu_hours",
    "flop_to_pf_s_days",
    "get_gpu",
    "get_preset",
    "gpu_hours_to_flop",
    "gpus",
    "gpus_for_deadline",
    "inference_memory",
    "isoflop_curve",
    "param_count",
    "pf_s_days_to_flop",
    "plot_isoflops",
    "predicted_loss",
    "presets",
    "training_estimate",
    "training_flop",
    "training_flop_per_token",
]
