"""Compute and scaling calculator: training FLOPs, compute-optimal sizes, time and cost on real
accelerators, parameters from an architecture, and inference memory.

Design notes
------------
Everything here is a pure function over numbers and frozen dataclasses; nothing reads the network,
and the two data files (``data/gpus.json``, ``data/architectures.json``) are read once and cached.
Every function is O(1) except the isoFLOP curves (O(points)).

Units are part of the names, because the field mixes them up:

* ``flop`` is a *count* of floating-point operations; ``flop_per_s`` (FLOP/s) is a *rate*.
* A PF/s-day is a count: 10^15 FLOP/s sustained for 86,400 s = 8.64e19 FLOP. Likewise a
  FLOP/s-day is 86,400 FLOP - a unit of compute, not of speed (``FLOP_PER_FLOP_S_DAY``).
* Catalogue throughputs are dense peak TFLOP/s (10^12 FLOP/s) per device; memory is decimal GB
  (10^9 bytes) and bandwidth TB/s (10^12 bytes/s), as vendors print them.

Training compute (Kaplan et al. 2020, "Scaling Laws for Neural Language Models", section 2.1,
Table 1; Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", appendix F):
a forward pass costs about 2 FLOP per parameter per token and the backward pass twice that, so
C = 6·N·D. Attention adds, per layer and token, 2·seq·d for the QKᵀ logits and 2·seq·d for the
weighted sum of values in the forward pass (Chinchilla appendix F counts both; Kaplan's Table 1
counts the logits only), i.e. 12·n_layers·d_model·seq_len per token for forward + backward. That
is the non-causal count; a causal kernel that skips masked blocks does about half.

Compute-optimal allocation: minimise L(N, D) = E + A/N^α + B/D^β subject to C = 6·N·D. Setting
dL/dN = 0 along D = C/(6N) gives αA/N^α = βB/D^β, whose solution is (Hoffmann et al. 2022, eq. 4)
G = (αA / (βB))^(1/(α+β)), N_opt = G·(C/6)^(β/(α+β)), D_opt = G⁻¹·(C/6)^(α/(α+β)).
The tokens-per-parameter ratio D_opt/N_opt = G⁻²·(C/6)^((α-β)/(α+β)) therefore drifts with C
unless α = β.

Which fit is the default, and why the rounded Hoffmann constants disagree with "20 tokens per
parameter" (numbers computed with this module):

* Hoffmann et al. 2022 report (section 3.3, approach 3) E = 1.69, A = 406.4, B = 410.7, α = 0.34,
  β = 0.28. At Chinchilla's own budget, C = 5.76e23 FLOP, those give N_opt = 32.2B and
  D_opt = 2.98T: 92.6 tokens per parameter, and 97.7 at 1e24. Chinchilla itself was 70B
  parameters on 1.4T tokens (20 per parameter), chosen from approaches 1 and 2 of the same paper,
  whose exponents N_opt ∝ C^a are a = 0.50 and 0.49 (Table 2); approach 3, the parametric fit,
  gives a = 0.46 there (β/(α+β) = 0.45 from the rounded constants) - already a different,
  more data-hungry frontier than approaches 1-2.
* The ratio is also hypersensitive to rounding: (C/6)^((α-β)/(α+β)) with C/6 ~ 1e23 turns a
  ±0.005 change in α or β into a large factor. Over the rounding box α ∈ [0.335, 0.345],
  β ∈ [0.275, 0.285], the ratio at 5.76e23 ranges from 44 to 196 tokens per parameter.
* Besiroglu et al. 2024 (Epoch AI, "Chinchilla Scaling: A replication attempt",
  arXiv:2404.10102) refit approach 3 on data reconstructed from Hoffmann's figures and report
  E = 1.8172, A = 482.01, B = 2085.43, α = 0.3478, β = 0.3658. They attribute the discrepancy to
  Hoffmann's optimiser stopping before convergence and to the rounding of the published values.
  Their fit gives 72.2B parameters and 1.33T tokens at 5.76e23 (18.4 per parameter), consistent
  with Chinchilla and with approaches 1-2, so it is the default here (``DEFAULT_FIT = "epoch"``).

Training time: wall-clock seconds = C / (n_gpus · peak FLOP/s · MFU); GPU-hours =
n_gpus · seconds / 3600; cost = GPU-hours · $/GPU-hour. The inverse (GPUs for a deadline) is the
smallest integer count whose time is at or under the deadline.

Inference memory: weights = total parameters · bytes per parameter (every expert of a MoE must
be resident); KV cache = 2 (K and V) · n_layers · n_kv_heads · head_dim · bytes · batch · context
(grouped-query attention stores n_kv_heads, not n_heads). Decoding one token per sequence must
stream at least the active weights and every sequence's KV cache from memory, so
tokens/s ≤ batch · bandwidth / (active weight bytes + KV bytes) - an upper bound that ignores
activations, compute and communication.

Invariants the tests check: round trips of every unit conversion; the closed-form optimum equals
a numeric minimisation of L along the isoFLOP line; C = 6·N_opt·D_opt; presets land within 1% of
their published counts; bad input raises ValueError naming the field.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "BYTES_PER_PARAM",
    "DEFAULT_FIT",
    "FITS",
    "FLOP_PER_FLOP_S_DAY",
    "FLOP_PER_PF_S_DAY",
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

# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------

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


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def _positive(name: str, value: object) -> float:
    out = _number(name, value)
    if out <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return out


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _mfu(value: object) -> float:
    out = _number("mfu", value)
    if not 0 < out <= 1:
        raise ValueError(f"mfu (model FLOP utilisation) must be in (0, 1], got {value!r}")
    return out


def _choice(kind: str, key: str, valid: dict[str, Any]) -> Any:
    try:
        return valid[key]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown {kind} {key!r}; valid choices: {', '.join(sorted(valid))}"
        ) from None


def flop_to_pf_s_days(flop: float) -> float:
    """FLOP (a count) -> PF/s-days (a count; 1 PF/s-day = 8.64e19 FLOP)."""
    return _number("flop", flop) / FLOP_PER_PF_S_DAY


def pf_s_days_to_flop(pf_s_days: float) -> float:
    """PF/s-days -> FLOP."""
    return _number("pf_s_days", pf_s_days) * FLOP_PER_PF_S_DAY


def flop_to_gpu_hours(flop: float, flop_per_s_per_gpu: float) -> float:
    """GPU-hours to execute ``flop`` at an achieved ``flop_per_s_per_gpu`` (FLOP/s, after MFU)."""
    return _number("flop", flop) / _positive("flop_per_s_per_gpu", flop_per_s_per_gpu) / 3600.0


def gpu_hours_to_flop(gpu_hours: float, flop_per_s_per_gpu: float) -> float:
    """FLOP executed in ``gpu_hours`` at an achieved ``flop_per_s_per_gpu`` (FLOP/s)."""
    rate = _positive("flop_per_s_per_gpu", flop_per_s_per_gpu)
    return _number("gpu_hours", gpu_hours) * 3600.0 * rate


# --------------------------------------------------------------------------------------------
# Training compute
# --------------------------------------------------------------------------------------------


def training_flop(n_params: float, n_tokens: float) -> float:
    """Training compute C = 6·N·D in FLOP (Kaplan et al. 2020, section 2.1)."""
    return 6.0 * _positive("n_params", n_params) * _positive("n_tokens", n_tokens)


def training_flop_per_token(n_params: float, *, n_layers: int, d_model: int, seq_len: int) -> float:
    """Training FLOP per token including attention: 6·N + 12·n_layers·d_model·seq_len.

    The second term is the QKᵀ and attention-times-V matmuls (2·seq·d each forward, ×3 for
    forward + backward) per layer, counted over the full (non-causal) context as in Hoffmann et
    al. 2022, appendix F. Multiply by the token count for the run total.
    """
    n = _positive("n_params", n_params)
    layers = _positive_int("n_layers", n_layers)
    d = _positive_int("d_model", d_model)
    seq = _positive_int("seq_len", seq_len)
    return 6.0 * n + 12.0 * layers * d * seq


# --------------------------------------------------------------------------------------------
# Chinchilla loss and compute-optimal allocation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScalingFit:
    """Parameters of L(N, D) = E + A/N^α + B/D^β (loss in nats per token)."""

    name: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str

    def loss(self, n_params: float, n_tokens: float) -> float:
        n = _positive("n_params", n_params)
        d = _positive("n_tokens", n_tokens)
        return self.E + self.A / math.pow(n, self.alpha) + self.B / math.pow(d, self.beta)


FITS: dict[str, ScalingFit] = {
    "hoffmann": ScalingFit(
        name="hoffmann",
        E=1.69,
        A=406.4,
        B=410.7,
        alpha=0.34,
        beta=0.28,
        source="Hoffmann et al. 2022, 'Training Compute-Optimal Large Language Models', "
        "section 3.3 (approach 3: parametric fit); arXiv:2203.15556",
    ),
    "epoch": ScalingFit(
        name="epoch",
        E=1.8172,
        A=482.01,
        B=2085.43,
        alpha=0.3478,
        beta=0.3658,
        source="Besiroglu, Erdil, Barnett & You 2024 (Epoch AI), 'Chinchilla Scaling: "
        "A replication attempt', arXiv:2404.10102",
    ),
}
DEFAULT_FIT = "epoch"


def _fit(fit: str | ScalingFit) -> ScalingFit:
    if isinstance(fit, ScalingFit):
        return fit
    result: ScalingFit = _choice("fit", fit, FITS)
    return result


@dataclass(frozen=True)
class Allocation:
    """A (parameters, tokens) split of a compute budget and its predicted loss."""

    compute_flop: float
    n_params: float
    n_tokens: float
    tokens_per_param: float
    loss: float
    method: str
    fit: str


def predicted_loss(n_params: float, n_tokens: float, fit: str | ScalingFit = DEFAULT_FIT) -> float:
    """L(N, D) under ``fit`` ("epoch" by default, or "hoffmann")."""
    return _fit(fit).loss(n_params, n_tokens)


def compute_optimal(compute_flop: float, fit: str | ScalingFit = DEFAULT_FIT) -> Allocation:
    """N_opt, D_opt minimising L(N, D) subject to 6·N·D = ``compute_flop`` (closed form)."""
    c = _positive("compute_flop", compute_flop)
    f = _fit(fit)
    s = f.alpha + f.beta
    g = (f.alpha * f.A / (f.beta * f.B)) ** (1.0 / s)
    n = g * (c / 6.0) ** (f.beta / s)
    d = (c / 6.0) ** (f.alpha / s) / g
    return Allocation(c, n, d, d / n, f.loss(n, d), f"closed form ({f.name} fit)", f.name)


def chinchilla_rule(
    compute_flop: float,
    tokens_per_param: float = 20.0,
    fit: str | ScalingFit = DEFAULT_FIT,
) -> Allocation:
    """The rule of thumb D = 20·N (Hoffmann et al. 2022: Chinchilla, 70B params on 1.4T tokens).

    With C = 6·N·D and D = r·N: N = sqrt(C / (6·r)), D = r·N. The loss is evaluated under ``fit``.
    """
    c = _positive("compute_flop", compute_flop)
    r = _positive("tokens_per_param", tokens_per_param)
    f = _fit(fit)
    n = math.sqrt(c / (6.0 * r))
    d = r * n
    return Allocation(c, n, d, r, f.loss(n, d), f"{r:g} tokens per parameter", f.name)


@dataclass(frozen=True)
class IsoFlopCurve:
    """Loss along one isoFLOP line: N varies, D = C/(6N)."""

    compute_flop: float
    fit: str
    n_params: tuple[float, ...]
    n_tokens: tuple[float, ...]
    loss: tuple[float, ...]
    optimum: Allocation


def isoflop_curve(
    compute_flop: float,
    fit: str | ScalingFit = DEFAULT_FIT,
    *,
    points: int = 41,
    span: float = 30.0,
) -> IsoFlopCurve:
    """Loss at ``points`` model sizes log-spaced over [N_opt/span, N_opt·span] at fixed C."""
    c = _positive("compute_flop", compute_flop)
    count = _positive_int("points", points)
    if count < 2:
        raise ValueError(f"points must be at least 2, got {points}")
    width = _positive("span", span)
    if width <= 1:
        raise ValueError(f"span must be greater than 1, got {span!r}")
    f = _fit(fit)
    best = compute_optimal(c, f)
    lo, hi = math.log(best.n_params / width), math.log(best.n_params * width)
    ns = tuple(math.exp(lo + (hi - lo) * i / (count - 1)) for i in range(count))
    ds = tuple(c / (6.0 * n) for n in ns)
    losses = tuple(f.loss(n, d) for n, d in zip(ns, ds, strict=True))
    return IsoFlopCurve(c, f.name, ns, ds, losses, best)


def plot_isoflops(
    computes: list[float] | tuple[float, ...],
    path: str | Path,
    fit: str | ScalingFit = DEFAULT_FIT,
    *,
    points: int = 121,
    span: float = 30.0,
) -> Path:
    """Write a PNG (or any format matplotlib infers from the suffix) of isoFLOP curves.

    Needs matplotlib (the ``report`` extra). Uses the Agg canvas directly, so no pyplot global
    state or display backend is touched.
    """
    if not computes:
        raise ValueError("computes must name at least one compute budget")
    curves = [isoflop_curve(c, fit, points=points, span=span) for c in computes]
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'tokenmill[report]'") from exc
    fig = Figure(figsize=(7.5, 5.0), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for curve in curves:
        (line,) = ax.plot(curve.n_params, curve.loss, label=f"C = {curve.compute_flop:.0e} FLOP")
        ax.plot(
            [curve.optimum.n_params],
            [curve.optimum.loss],
            marker="o",
            color=line.get_color(),
        )
    frontier = sorted(curves, key=lambda cv: cv.compute_flop)
    ax.plot(
        [cv.optimum.n_params for cv in frontier],
        [cv.optimum.loss for cv in frontier],
        linestyle="--",
        color="grey",
        label="compute-optimal N",
    )
    ax.set_xscale("log")
    ax.set_xlabel("parameters N (D = C / 6N)")
    ax.set_ylabel("predicted loss L(N, D) [nats/token]")
    ax.set_title(f"IsoFLOP curves, {curves[0].fit} fit")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    return out


# --------------------------------------------------------------------------------------------
# Accelerator catalogue and training time / cost
# --------------------------------------------------------------------------------------------


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


def _data(name: str) -> Any:
    text = (resources.files("tokenmill") / "data" / name).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _gpus() -> dict[str, Gpu]:
    raw: dict[str, dict[str, Any]] = _data("gpus.json")["gpus"]
    return {key: Gpu(key=key, **entry) for key, entry in raw.items()}


def gpus() -> dict[str, Gpu]:
    """The sourced accelerator catalogue, keyed by short name (``"h100-sxm"``, ``"mi300x"``...)."""
    return dict(_gpus())


def get_gpu(key: str | Gpu) -> Gpu:
    """Look up a catalogue entry; an unknown key raises ValueError listing the valid ones."""
    if isinstance(key, Gpu):
        return key
    gpu: Gpu = _choice("gpu", key, _gpus())
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
        return _positive("compute_flop", compute_flop)
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
    count = _positive_int("n_gpus", n_gpus)
    utilisation = _mfu(mfu)
    price = None
    if price_per_gpu_hour is not None:
        price = _number("price_per_gpu_hour", price_per_gpu_hour)
    if price is not None and price < 0:
        raise ValueError(f"price_per_gpu_hour must not be negative, got {price_per_gpu_hour!r}")
    device = None if gpu is None else get_gpu(gpu)
    if peak_tflop_per_s is None:
        if device is None:
            raise ValueError("give a gpu from the catalogue or an explicit peak_tflop_per_s")
        peak = device.peak_tflop_per_s(precision)
        used_precision: str | None = precision
    else:
        peak = _positive("peak_tflop_per_s", peak_tflop_per_s)
        used_precision = None
    base = _estimate(compute, device, used_precision, peak, count, utilisation, price)
    if device is None or peak_tflop_per_s is None:
        return base
    notes = _throughput_notes(device, peak)
    alternative = None
    if notes and device.bf16 is not None and device.bf16 != peak:
        alternative = _estimate(compute, device, "bf16", device.bf16, count, utilisation, price)
    return dataclasses.replace(base, notes=tuple(notes), at_bf16_peak=alternative)


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
    deadline = _positive("days", days)
    utilisation = _mfu(mfu)
    if peak_tflop_per_s is None:
        if gpu is None:
            raise ValueError("give a gpu from the catalogue or an explicit peak_tflop_per_s")
        peak = get_gpu(gpu).peak_tflop_per_s(precision)
    else:
        peak = _positive("peak_tflop_per_s", peak_tflop_per_s)
    needed = compute / (peak * 1e12 * utilisation * deadline * SECONDS_PER_DAY)
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


# --------------------------------------------------------------------------------------------
# Parameters from architecture
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Architecture:
    """A decoder-only transformer. See ``data/architectures.json`` for field meanings."""

    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    vocab_size: int
    n_kv_heads: int | None = None
    tied_embeddings: bool = False
    mlp: Literal["gated", "plain"] = "gated"
    norm: Literal["rmsnorm", "layernorm"] = "rmsnorm"
    bias: bool = False
    positional: Literal["rope", "learned"] = "rope"
    max_seq_len: int | None = None
    n_experts: int = 1
    top_k: int = 1

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "d_ff", "vocab_size", "n_experts", "top_k"):
            _positive_int(name, getattr(self, name))
        if self.n_kv_heads is not None:
            _positive_int("n_kv_heads", self.n_kv_heads)
        if self.d_model % self.n_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must divide d_model ({self.d_model})")
        if self.n_heads % self.kv_heads:
            raise ValueError(f"n_kv_heads ({self.kv_heads}) must divide n_heads ({self.n_heads})")
        if self.top_k > self.n_experts:
            raise ValueError(f"top_k ({self.top_k}) must not exceed n_experts ({self.n_experts})")
        if self.mlp not in ("gated", "plain"):
            raise ValueError(f"mlp must be 'gated' or 'plain', got {self.mlp!r}")
        if self.norm not in ("rmsnorm", "layernorm"):
            raise ValueError(f"norm must be 'rmsnorm' or 'layernorm', got {self.norm!r}")
        if self.positional not in ("rope", "learned"):
            raise ValueError(f"positional must be 'rope' or 'learned', got {self.positional!r}")
        if self.positional == "learned":
            if self.max_seq_len is None:
                raise ValueError("max_seq_len is required with learned positional embeddings")
            _positive_int("max_seq_len", self.max_seq_len)
        elif self.max_seq_len is not None:
            _positive_int("max_seq_len", self.max_seq_len)

    @property
    def kv_heads(self) -> int:
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


@dataclass(frozen=True)
class ParamCount:
    """Parameter totals. ``active`` counts one token's path (top_k experts); equal to ``total``
    for dense models."""

    total: int
    active: int
    embedding: int
    attention_per_layer: int
    mlp_per_expert: int
    router_per_layer: int
    norms: int


def param_count(arch: Architecture | str) -> ParamCount:
    """Total and active parameters of ``arch`` (an Architecture or a preset name).

    Per layer: Q and O are d·(h·hd), K and V are d·(kv·hd) each; a gated MLP (SwiGLU) has three
    d×d_ff matrices, a plain one two; a MoE layer has n_experts MLPs and a d×n_experts router;
    two norms per layer and one final (LayerNorm: weight and bias, RMSNorm: weight). Embedding
    vocab·d, plus the same again for an untied output head and max_seq_len·d for learned
    positions. Exact for the presets' released checkpoints (Llama, Mixtral).
    """
    a = get_preset(arch).architecture if isinstance(arch, str) else arch
    d, hd = a.d_model, a.head_dim
    q_width, kv_width = a.n_heads * hd, a.kv_heads * hd
    attention = d * q_width + 2 * d * kv_width + q_width * d
    if a.bias:
        attention += q_width + 2 * kv_width + d
    matrices = 3 if a.mlp == "gated" else 2
    mlp = matrices * d * a.d_ff
    if a.bias:
        mlp += (matrices - 1) * a.d_ff + d
    router = d * a.n_experts if a.n_experts > 1 else 0
    norm_size = 2 * d if a.norm == "layernorm" else d
    norms = (2 * a.n_layers + 1) * norm_size
    embedding = a.vocab_size * d * (1 if a.tied_embeddings else 2)
    if a.positional == "learned" and a.max_seq_len is not None:
        embedding += a.max_seq_len * d
    shared = embedding + norms + a.n_layers * (attention + router)
    total = shared + a.n_layers * a.n_experts * mlp
    active = shared + a.n_layers * a.top_k * mlp
    return ParamCount(total, active, embedding, attention, mlp, router, norms)


@dataclass(frozen=True)
class Preset:
    key: str
    name: str
    architecture: Architecture
    published_params: float
    published_active_params: float | None
    source: str
    url: str


@cache
def _presets() -> dict[str, Preset]:
    raw: dict[str, dict[str, Any]] = _data("architectures.json")["presets"]
    out: dict[str, Preset] = {}
    arch_fields = {f.name for f in fields(Architecture)}
    for key, entry in raw.items():
        arch = Architecture(**{k: v for k, v in entry.items() if k in arch_fields})
        out[key] = Preset(
            key=key,
            name=entry["name"],
            architecture=arch,
            published_params=float(entry["published_params"]),
            published_active_params=(
                None
                if entry["published_active_params"] is None
                else float(entry["published_active_params"])
            ),
            source=entry["source"],
            url=entry["url"],
        )
    return out


def presets() -> dict[str, Preset]:
    """Architecture presets keyed by name (``"llama-3-70b"``, ``"mixtral-8x7b"``...)."""
    return dict(_presets())


def get_preset(key: str) -> Preset:
    """Look up a preset; an unknown name raises ValueError listing the valid ones."""
    preset: Preset = _choice("preset", key, _presets())
    return preset


# --------------------------------------------------------------------------------------------
# Inference memory
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InferenceMemory:
    """Bytes to serve a model, and a bandwidth bound on decode speed when a GPU is given.

    Sizes are bytes; ``*_gb`` are decimal GB (10^9 bytes). ``n_gpus`` is the fewest devices whose
    memory holds weights + KV cache (activations and runtime overhead are not counted, so real
    deployments need more); the decode bound uses their combined bandwidth.
    """

    precision: str
    kv_precision: str
    batch: int
    context: int
    weight_bytes: float
    active_weight_bytes: float
    kv_bytes_per_token: float
    kv_cache_bytes: float
    total_bytes: float
    weights_gb: float
    kv_cache_gb: float
    total_gb: float
    gpu: str | None = None
    n_gpus: int | None = None
    decode_tokens_per_s_upper_bound: float | None = None


def inference_memory(
    arch: Architecture | str,
    *,
    precision: str = "bf16",
    kv_precision: str = "bf16",
    context: int,
    batch: int = 1,
    gpu: str | Gpu | None = None,
    n_gpus: int | None = None,
) -> InferenceMemory:
    """Weights, GQA-aware KV cache and (with ``gpu``) a decode tokens/s upper bound.

    KV cache = 2 · n_layers · n_kv_heads · head_dim · bytes(kv_precision) · batch · context.
    Decode bound = batch · bandwidth · n_gpus / (active weight bytes + KV cache bytes): each step
    emits one token per sequence and must read at least that much memory.
    """
    a = get_preset(arch).architecture if isinstance(arch, str) else arch
    w_bytes = _choice("precision", precision, BYTES_PER_PARAM)
    kv_b = _choice("kv_precision", kv_precision, BYTES_PER_PARAM)
    ctx = _positive_int("context", context)
    bsz = _positive_int("batch", batch)
    counts = param_count(a)
    weights = counts.total * w_bytes
    active = counts.active * w_bytes
    per_token = 2.0 * a.n_layers * a.kv_heads * a.head_dim * kv_b
    kv = per_token * ctx * bsz
    total = weights + kv
    result = InferenceMemory(
        precision=precision,
        kv_precision=kv_precision,
        batch=bsz,
        context=ctx,
        weight_bytes=weights,
        active_weight_bytes=active,
        kv_bytes_per_token=per_token,
        kv_cache_bytes=kv,
        total_bytes=total,
        weights_gb=weights / 1e9,
        kv_cache_gb=kv / 1e9,
        total_gb=total / 1e9,
    )
    if gpu is None:
        if n_gpus is not None:
            raise ValueError("n_gpus needs a gpu")
        return result
    device = get_gpu(gpu)
    fewest = max(1, math.ceil(total / (device.memory_gb * 1e9)))
    count = fewest if n_gpus is None else _positive_int("n_gpus", n_gpus)
    if count < fewest:
        raise ValueError(
            f"n_gpus ({count}) cannot hold {total / 1e9:.1f} GB on {device.name} "
            f"({device.memory_gb:g} GB each); at least {fewest} needed"
        )
    bound = bsz * device.bandwidth_tb_s * 1e12 * count / (active + kv)
    return dataclasses.replace(
        result, gpu=device.key, n_gpus=count, decode_tokens_per_s_upper_bound=bound
    )
