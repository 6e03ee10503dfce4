"""IsoFLOP plots (needs matplotlib, the ``report`` extra; imported only when called)."""

from __future__ import annotations

from pathlib import Path

from tokenmill.scaling.fits import DEFAULT_FIT, ScalingFit, isoflop_curve

__all__ = ["plot_isoflops"]


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
