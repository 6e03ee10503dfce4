"""``--plot FILE.png``: grouped horizontal bars of the premium against the pivot per language.

Design notes
------------
One row per language (labelled with its English name so that no script needs a font the machine
may lack), sorted so the highest premium of the first tokenizer is at the top; one bar per tokenizer
in each row, with its value printed at the end of the bar and a dashed line at 1× (parity with the
pivot). matplotlib is optional (the ``report`` extra), imported here only, with the Agg backend so
that no display is needed. The figure height grows with the number of languages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tokenmill.report.model import Report

__all__ = ["plot_premium"]

# Colour-blind-safe (Okabe–Ito) colours, one per tokenizer.
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "--plot needs matplotlib: pip install 'tokenmill[report]' (or pip install matplotlib)"
        ) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_premium(report: Report, path: str | Path, *, dpi: int = 150) -> Path:
    """Write the premium chart to ``path`` (PNG, or the format matplotlib infers from it)."""
    plt = _pyplot()
    out = Path(path)
    by_key = {(r.language, r.tokenizer): r for r in report.entries}
    # Highest premium at the top: barh draws index 0 at the bottom, so reverse.
    order = list(reversed(report.languages_by_premium()))
    n_lang, n_tok = len(order), len(report.tokenizers)
    group = 0.8
    height = group / max(n_tok, 1)
    fig_h = max(3.0, 0.22 * n_lang * max(n_tok, 1) + 1.6)
    fig, ax = plt.subplots(figsize=(10, fig_h))
    top = 0.0
    for k, tok in enumerate(report.tokenizers):
        values = []
        for lang in order:
            row = by_key.get((lang, tok))
            values.append(0.0 if row is None or row.premium is None else row.premium)
        top = max(top, *values) if values else top
        # first tokenizer on top within each group
        ys = [i + group / 2 - height * (k + 0.5) for i in range(n_lang)]
        bars = ax.barh(
            ys, values, height=height * 0.92, color=_COLOURS[k % len(_COLOURS)], label=tok
        )
        for bar, v in zip(bars, values, strict=True):
            if v > 0:
                ax.text(
                    v,
                    bar.get_y() + bar.get_height() / 2,
                    f" {v:.2f}×",
                    va="center",
                    ha="left",
                    fontsize=7,
                    color="#333333",
                )
    labels = []
    for lang in order:
        row = by_key.get((lang, report.tokenizers[0]))
        labels.append(row.name if row is not None else lang)
    ax.set_yticks(range(n_lang))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_ylim(-0.6, n_lang - 0.4)
    ax.axvline(1.0, color="#555555", linestyle="--", linewidth=1)
    ax.set_xlim(0, top * 1.12 if top > 0 else 1.5)
    ax.xaxis.set_major_formatter(lambda x, _pos: f"{x:g}×")
    ax.tick_params(axis="x", labeltop=n_lang > 25)
    ax.set_xlabel(f"premium: tokens for the same sentences relative to {report.pivot} (×)")
    kind = "built-in sample corpus" if report.corpus_is_sample else report.corpus_name
    ax.set_title(
        f"Tokenization premium vs {report.pivot} — {kind}, {report.n_ids} sentences",
        fontsize=11,
        pad=24 if n_lang > 25 else 6,
    )
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(loc="lower right", frameon=False, fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
