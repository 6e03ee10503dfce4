"""Units and training FLOPs: names carry their units (``flop`` is a count, ``flop_per_s`` a rate).

See docs/scaling.md for the derivations and sources.
"""

from __future__ import annotations

from typing import Literal

from tokenmill.scaling.checks import number, positive, positive_int

__all__ = [
    "BYTES_PER_PARAM",
    "FLOP_PER_FLOP_S_DAY",
    "FLOP_PER_PF_S_DAY",
    "PRECISIONS",
    "SECONDS_PER_DAY",
    "Precision",
    "flop_to_gpu_hours",
    "flop_to_pf_s_days",
    "gpu_hours_to_flop",
    "pf_s_days_to_flop",
    "training_flop",
    "training_flop_per_token",
]

SECONDS_PER_DAY = 86_400.0
#: FLOP in one FLOP/s-day: 1 FLOP/s sustained for a day. A count of operations, not a rate.
FLOP_PER_FLOP_S_DAY = SECONDS_PER_DAY
#: FLOP in one PF/s-day (petaflop/s-day): 1e15 FLOP/s for 86,400 s = 8.64e19 FLOP.
#: The unit of Brown et al. 2020 (GPT-3), Table D.1 and Amodei & Hernandez 2018 ("AI and Compute").
FLOP_PER_PF_S_DAY = 1e15 * SECONDS_PER_DAY

Precision = Literal["fp64", "tf32", "bf16", "fp8"]
PRECISIONS: tuple[str, ...] = ("fp64", "tf32", "bf16", "fp8")

#: Bytes per stored weight. int4 ignores the per-group scales real quantisers add
#: (e.g. one fp16 scale per 128 weights adds 0.125 bits per weight, about 3%).
BYTES_PER_PARAM: dict[str, float] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
}


def flop_to_pf_s_days(flop: float) -> float:
    """FLOP (a count) -> PF/s-days (a count; 1 PF/s-day = 8.64e19 FLOP)."""
    return number("flop", flop) / FLOP_PER_PF_S_DAY


def pf_s_days_to_flop(pf_s_days: float) -> float:
    """PF/s-days -> FLOP."""
    return number("pf_s_days", pf_s_days) * FLOP_PER_PF_S_DAY


def flop_to_gpu_hours(flop: float, flop_per_s_per_gpu: float) -> float:
    """GPU-hours to execute ``flop`` at an achieved ``flop_per_s_per_gpu`` (FLOP/s, after MFU)."""
    return number("flop", flop) / positive("flop_per_s_per_gpu", flop_per_s_per_gpu) / 3600.0


def gpu_hours_to_flop(gpu_hours: float, flop_per_s_per_gpu: float) -> float:
    """FLOP executed in ``gpu_hours`` at an achieved ``flop_per_s_per_gpu`` (FLOP/s)."""
    rate = positive("flop_per_s_per_gpu", flop_per_s_per_gpu)
    return number("gpu_hours", gpu_hours) * 3600.0 * rate


def training_flop(n_params: float, n_tokens: float) -> float:
    """Training compute C = 6·N·D in FLOP (Kaplan et al. 2020, section 2.1)."""
    return 6.0 * positive("n_params", n_params) * positive("n_tokens", n_tokens)


def training_flop_per_token(n_params: float, *, n_layers: int, d_model: int, seq_len: int) -> float:
    """Training FLOP per token including attention: 6·N + 12·n_layers·d_model·seq_len.

    The second term is the QKᵀ and attention-times-V matmuls (2·seq·d each forward, ×3 for
    forward + backward) per layer, counted over the full (non-causal) context as in Hoffmann et
    al. 2022, appendix F. Multiply by the token count for the run total.
    """
    n = positive("n_params", n_params)
    layers = positive_int("n_layers", n_layers)
    d = positive_int("d_model", d_model)
    seq = positive_int("seq_len", seq_len)
    return 6.0 * n + 12.0 * layers * d * seq
