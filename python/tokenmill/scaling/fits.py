"""Chinchilla loss fits L(N, D) = E + A/N^α + B/D^β and the compute-optimal allocation.

The closed form and the choice of default fit are derived in docs/scaling.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tokenmill.scaling.checks import choice, positive, positive_int

__all__ = [
    "DEFAULT_FIT",
    "FITS",
    "Allocation",
    "IsoFlopCurve",
    "ScalingFit",
    "chinchilla_rule",
    "compute_optimal",
    "isoflop_curve",
    "predicted_loss",
    "resolve_fit",
]


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
        n = positive("n_params", n_params)
        d = positive("n_tokens", n_tokens)
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


def resolve_fit(fit: str | ScalingFit) -> ScalingFit:
    if isinstance(fit, ScalingFit):
        return fit
    result: ScalingFit = choice("fit", fit, FITS)
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
    return resolve_fit(fit).loss(n_params, n_tokens)


def compute_optimal(compute_flop: float, fit: str | ScalingFit = DEFAULT_FIT) -> Allocation:
    """N_opt, D_opt minimising L(N, D) subject to 6·N·D = ``compute_flop`` (closed form)."""
    c = positive("compute_flop", compute_flop)
    f = resolve_fit(fit)
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
    c = positive("compute_flop", compute_flop)
    r = positive("tokens_per_param", tokens_per_param)
    f = resolve_fit(fit)
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
    c = positive("compute_flop", compute_flop)
    count = positive_int("points", points)
    if count < 2:
        raise ValueError(f"points must be at least 2, got {points}")
    width = positive("span", span)
    if width <= 1:
        raise ValueError(f"span must be greater than 1, got {span!r}")
    f = resolve_fit(fit)
    best = compute_optimal(c, f)
    lo, hi = math.log(best.n_params / width), math.log(best.n_params * width)
    ns = tuple(math.exp(lo + (hi - lo) * i / (count - 1)) for i in range(count))
    ds = tuple(c / (6.0 * n) for n in ns)
    losses = tuple(f.loss(n, d) for n, d in zip(ns, ds, strict=True))
    return IsoFlopCurve(c, f.name, ns, ds, losses, best)
