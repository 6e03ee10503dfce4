"""Plots of the token-length report: a dot plot per language, a scatter of two tokenizers, and a
per-script summary. PNG, SVG or PDF, by the file's suffix.

Design notes
------------
*Dot plot* (:func:`plot_premium`): one row per language, one marker per tokenizer (shape and
colour per tokenizer, Okabe–Ito colours), premium on a log axis (2× and ½× are the same distance
from parity), a line at 1× (the pivot). Rows are grouped by script (ISO 15924): a shaded header row
per script, scripts ordered by the median premium of their languages under the first tokenizer,
languages within a script by their premium, highest first. Labels are English names (so no label
needs a font for the language's own script). The layout is chosen by size (:func:`dot_layout`): up
to 50 rows (languages plus script headers) one column of 0.22-inch rows; beyond, the rows wrap
into 2 or 3 side-by-side columns on an A4 portrait page (8.27 × 11.69 in), the row height and font
shrinking with the row count. **Bound:** the figure never exceeds A4 portrait; up to 300 rows (all
204 FLORES-200 languages with their 29 script headers is 233) the labels stay at 5.5 pt or more.

*Scatter* (:func:`plot_scatter`): each language's premium under one tokenizer against another's,
log–log, with the diagonal (points below it: the second tokenizer needs fewer tokens relative to the
pivot). Colour by script (the 7 most frequent scripts, the rest grey); at most 14 languages are
labelled, those farthest from the diagonal and with the highest premiums.

*Per-script summary* (:func:`plot_scripts`): one row per script, per tokenizer the range
(min–max) of its languages' premiums and a marker at the median; the label counts the languages.

matplotlib is optional (the ``report`` extra), imported here only, with the Agg backend so that
no display is needed. SVG keeps text as text (``svg.fonttype = none``: smaller, searchable, and the
labels are Latin-script names); ids are salted with a constant so the same report gives the same
file.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenmill.report.model import Report, ReportRow

__all__ = [
    "A4_PORTRAIT_IN",
    "DotLayout",
    "dot_layout",
    "drawn",
    "figure_svg",
    "plot_premium",
    "plot_scatter",
    "plot_scripts",
    "svg_figures",
    "write_plots",
]

# Colour-blind-safe (Okabe–Ito) colours and distinct marker shapes, one per tokenizer.
_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
# Script colours for the scatter: the most frequent scripts, then grey.
_SCRIPT_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_OTHER = "#AAAAAA"

A4_PORTRAIT_IN = (8.27, 11.69)
_SINGLE_MAX_ROWS = 50
_TOP_IN, _BOTTOM_IN = 0.95, 0.55  # title + legend; x-axis label


@dataclass(frozen=True)
class DotLayout:
    """Where the dot plot's rows go: ``columns`` side by side, ``rows_per_column`` each."""

    columns: int
    rows_per_column: int
    width_in: float
    height_in: float
    row_in: float
    font_pt: float
    label_chars: int  # longer names are cut with an ellipsis


def dot_layout(rows: int) -> DotLayout:
    """The dot plot's size for ``rows`` rows (languages plus script headers); see the notes."""
    rows = max(rows, 1)
    usable = A4_PORTRAIT_IN[1] - _TOP_IN - _BOTTOM_IN
    if rows <= _SINGLE_MAX_ROWS:
        row_in = min(0.22, usable / (rows + 0.6))
        return DotLayout(
            1, rows, 7.5, _TOP_IN + _BOTTOM_IN + row_in * (rows + 0.6), row_in, 8.5, 34
        )
    columns = 2 if rows <= 150 else 3
    per = math.ceil(rows / columns)
    row_in = min(0.2, usable / (per + 0.6))
    font = max(4.0, min(7.5, row_in * 72 * 0.72))
    height = _TOP_IN + _BOTTOM_IN + row_in * (per + 0.6)
    return DotLayout(
        columns, per, A4_PORTRAIT_IN[0], height, row_in, font, 26 if columns == 2 else 23
    )


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


@contextmanager
def _style() -> Iterator[Any]:
    plt = _pyplot()
    with plt.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "tokenmill-report",
            "font.family": "sans-serif",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "pdf.fonttype": 42,
        }
    ):
        yield plt


def _cut(name: str, limit: int) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


def _by_key(report: Report) -> dict[tuple[str, str], ReportRow]:
    return {(r.language, r.tokenizer): r for r in report.entries}


def _kind(report: Report) -> str:
    return "built-in sample corpus" if report.corpus_is_sample else report.corpus_name


_TICK_SETS = (
    (0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 10, 15, 20, 30, 50, 100),
    (0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 20, 30, 50, 100),
    (0.25, 0.5, 1, 2, 4, 8, 16, 32, 64),
    (0.1, 1, 10, 100),
)


def premium_ticks(lo: float, hi: float, length_in: float, min_gap_in: float = 0.32) -> list[float]:
    """The finest tick set whose neighbouring ticks are at least ``min_gap_in`` apart on a log
    axis of ``length_in`` inches spanning ``lo``..``hi``."""
    span = math.log(hi / lo)
    for steps in _TICK_SETS:
        ticks = [t for t in steps if lo <= t <= hi]
        gaps = [math.log(b / a) / span * length_in for a, b in itertools.pairwise(ticks)]
        if not gaps or min(gaps) >= min_gap_in:
            return ticks
    return [t for t in _TICK_SETS[-1] if lo <= t <= hi]


def _log_axis(
    ax: Any, lo: float, hi: float, length_in: float, axis: str = "x", min_gap_in: float = 0.32
) -> None:
    ticks = premium_ticks(lo, hi, length_in, min_gap_in)
    labels = [f"{t:g}×" for t in ticks]
    if axis == "x":
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.set_xticks(ticks, labels)
        ax.xaxis.set_minor_locator(_null_locator())
    else:
        ax.set_yscale("log")
        ax.set_ylim(lo, hi)
        ax.set_yticks(ticks, labels)
        ax.yaxis.set_minor_locator(_null_locator())


def _null_locator() -> Any:
    from matplotlib.ticker import NullLocator

    return NullLocator()


def _range(values: Sequence[float | None]) -> tuple[float, float]:
    """Log-axis limits covering every value and 1×, with a margin."""
    got = [v for v in values if v is not None and v > 0]
    lo = min([1.0, *got])
    hi = max([1.0, *got])
    return lo / 1.15, hi * 1.15


@dataclass(frozen=True)
class _Line:
    label: str
    language: str | None  # None: a script header row (multi-column layout)
    group: int  # index of the script group, in plot order
    group_label: str | None  # set on the first row of a group: "Script (n)"


def _short_script(name: str) -> str:
    return name if name.startswith("Han (") else name.split(" (")[0]


def dot_rows(report: Report, headers: bool = False) -> list[_Line]:
    """The dot plot's rows, top to bottom, grouped by script (see the notes); ``headers`` adds
    a row naming the script above each group."""
    by_key = _by_key(report)
    first = report.tokenizers[0]
    names = report.script_names()
    groups: dict[str, list[ReportRow]] = {}
    for lang in report.languages_by_premium():  # highest premium first
        row = by_key[(lang, first)]
        groups.setdefault(row.script or "?", []).append(row)

    def median(rows: list[ReportRow]) -> float:
        values = sorted(r.premium for r in rows if r.premium is not None)
        if not values:
            return -math.inf
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2

    ordered = sorted(groups.items(), key=lambda kv: (-median(kv[1]), kv[0]))
    lines: list[_Line] = []
    for k, (script, rows) in enumerate(ordered):
        group_label = f"{_short_script(names.get(script, script))} ({len(rows)})"
        if headers:
            lines.append(_Line(group_label, None, k, group_label))
        for i, r in enumerate(rows):
            label = group_label if i == 0 and not headers else None
            lines.append(_Line(r.name, r.language, k, label))
    return lines


def _columns(lines: list[_Line], columns: int) -> list[list[_Line]]:
    """Split rows into columns of equal height; a column that starts inside a script group
    repeats the group's header."""
    if columns == 1:
        return [lines]
    per = math.ceil((len(lines) + columns - 1) / columns)
    out: list[list[_Line]] = []
    rest = list(lines)
    while rest:
        if out and rest[0].language is not None:
            head = next(x for x in lines if x.group == rest[0].group and x.language is None)
            rest.insert(0, _Line(f"{head.label}, continued", None, head.group, head.label))
        take = per
        while take > 1 and rest[take - 1 : take] and rest[take - 1].language is None:
            take -= 1  # never end a column with a header
        out.append(rest[:take])
        rest = rest[take:]
    return out


def _dot_figure(report: Report) -> Any:
    plt = _pyplot()
    from matplotlib.transforms import blended_transform_factory

    by_key = _by_key(report)
    lines = dot_rows(report)
    multi = len(lines) > _SINGLE_MAX_ROWS
    if multi:
        lines = dot_rows(report, headers=True)
    lay = dot_layout(len(lines) + (2 if multi else 0))  # room for repeated headers
    chunks = _columns(lines, lay.columns)
    lo, hi = _range([r.premium for r in report.entries])
    fig = plt.figure(figsize=(lay.width_in, lay.height_in))
    longest = max((len(ln.label) for ln in lines if ln.language is not None), default=4)
    label_in = min(lay.label_chars, longest) * lay.font_pt * 0.56 / 72 + 0.08
    col_w = lay.width_in / lay.columns
    gap_in = 0.2
    n_tok = len(report.tokenizers)
    show_values = len(lines) <= 24 and n_tok <= 2
    values_in = (0.5 if n_tok == 1 else 0.95) if show_values else 0.0
    markers = [
        dict(
            linestyle="none",
            marker=_MARKERS[k % len(_MARKERS)],
            markersize=max(2.8, lay.font_pt * 0.62),
            markerfacecolor=_COLOURS[k % len(_COLOURS)],
            markeredgecolor="white",
            markeredgewidth=0.3,
            alpha=0.9,
            zorder=3,
        )
        for k in range(n_tok)
    ]
    for c, chunk in enumerate(chunks):
        left = c * col_w + label_in + 0.1
        width = col_w - label_in - 0.1 - gap_in - values_in
        height = lay.row_in * (lay.rows_per_column + 0.6)
        bottom = lay.height_in - _TOP_IN - height
        ax = fig.add_axes(
            (
                left / lay.width_in,
                bottom / lay.height_in,
                width / lay.width_in,
                height / lay.height_in,
            )
        )
        ax.set_ylim(lay.rows_per_column - 0.2, -0.8)
        _log_axis(ax, lo, hi, width, min_gap_in=max(0.22, 3.6 * lay.font_pt * 0.85 * 0.56 / 72))
        ax.tick_params(axis="x", labelsize=lay.font_pt * 0.85, length=2, pad=1)
        ax.axvline(1.0, color="#555555", linewidth=0.8, linestyle="--", zorder=1)
        ax.grid(axis="x", color="#e3e3e3", linewidth=0.5)
        ax.set_axisbelow(True)
        ax.spines["left"].set_visible(False)
        mixed = blended_transform_factory(ax.transAxes, ax.transData)
        for i, line in enumerate(chunk):
            if line.group % 2 == 1:
                ax.axhspan(i - 0.5, i + 0.5, color="#eeeeee", linewidth=0, zorder=0)
            if line.language is None:  # header: bold, from the column's left edge
                fig.text(
                    (c * col_w + 0.08) / lay.width_in,
                    i,
                    line.label,
                    transform=blended_transform_factory(fig.transFigure, ax.transData),
                    ha="left",
                    va="center",
                    fontsize=lay.font_pt,
                    fontweight="bold",
                    color="#333333",
                )
                continue
            xs = []
            for k, tok in enumerate(report.tokenizers):
                row = by_key.get((line.language, tok))
                if row is not None and row.premium is not None:
                    xs.append(row.premium)
                    ax.plot([row.premium], [i], **markers[k])
            if len(xs) > 1:
                ax.plot([min(xs), max(xs)], [i, i], color="#999999", linewidth=0.6, zorder=2)
            label = line.group_label
            if label is not None:
                # on the side of the row its markers leave more room
                span = math.log(hi / lo)
                free_left = math.log(min(xs) / lo) / span if xs else 1.0
                free_right = math.log(hi / max(xs)) / span if xs else 0.0
                left_side = free_left >= free_right
                ax.text(
                    0.012 if left_side else 0.988,
                    i,
                    label,
                    transform=mixed,
                    ha="left" if left_side else "right",
                    va="center",
                    fontsize=lay.font_pt * 0.92,
                    fontstyle="italic",
                    color="#555555",
                    zorder=4,
                )
            if show_values and xs:
                text = " / ".join(
                    f"{by_key[(line.language, t)].premium:.2f}×"
                    for t in report.tokenizers
                    if by_key.get((line.language, t)) is not None
                    and by_key[(line.language, t)].premium is not None
                )
                ax.text(
                    1.02,
                    i,
                    text,
                    transform=mixed,
                    va="center",
                    fontsize=lay.font_pt * 0.9,
                    color="#444444",
                )
        labels = ["" if ln.language is None else _cut(ln.label, lay.label_chars) for ln in chunk]
        ax.set_yticks(range(len(chunk)), labels)
        ax.tick_params(axis="y", length=0, labelsize=lay.font_pt, pad=2)
        ax.set_xlabel(f"premium vs {report.pivot} (log scale)", fontsize=lay.font_pt)
    title = (
        f"Tokenization premium vs {report.pivot}: {_kind(report)}, "
        f"{report.n_languages} languages, {report.n_ids} sentences"
    )
    fig.text(
        0.5,
        1 - 0.22 / lay.height_in,
        title,
        ha="center",
        va="top",
        fontsize=min(11, lay.font_pt + 3),
    )
    handles = [
        plt.Line2D([], [], **markers[k], label=tok) for k, tok in enumerate(report.tokenizers)
    ]
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 1 - 0.5 / lay.height_in),
        ncol=n_tok,
        frameon=False,
        fontsize=min(9, lay.font_pt + 1.5),
        handletextpad=0.3,
        columnspacing=1.2,
    )
    return fig


def _save(fig: Any, path: str | Path, dpi: int) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {}
    suffix = out.suffix.lower()
    if suffix == ".svg":
        meta = {"Date": None, "Creator": None, "Format": None, "Type": None}
    elif suffix == ".pdf":
        meta = {"CreationDate": None, "Creator": None, "Producer": None}
    elif suffix == ".png":
        meta = {"Software": None}
    fig.savefig(out, dpi=dpi, metadata=meta or None)
    return out


_SVG_DROP = (
    re.compile(r"<\?xml[^>]*\?>\s*"),
    re.compile(r"<!DOCTYPE[^>]*>\s*"),
    re.compile(r"<metadata>.*?</metadata>\s*", re.S),
    re.compile(r'\s+xmlns(:\w+)?="[^"]*"'),
)


def figure_svg(fig: Any) -> str:
    """``fig`` as an ``<svg>`` element for inline use in HTML (no XML prolog, DOCTYPE, metadata
    or namespace URLs: the HTML parser puts ``<svg>`` in the SVG namespace by itself)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None})
    text = buf.getvalue()
    for pattern in _SVG_DROP:
        text = pattern.sub("", text)
    return text.strip()


def plot_premium(report: Report, path: str | Path, *, dpi: int = 150) -> Path:
    """Write the dot plot to ``path`` (PNG, SVG or PDF, by the suffix)."""
    with _style() as plt:
        fig = _dot_figure(report)
        try:
            return _save(fig, path, dpi)
        finally:
            plt.close(fig)


def _scatter_figure(report: Report, x_tok: str, y_tok: str) -> Any:
    plt = _pyplot()
    by_key = _by_key(report)
    names = report.script_names()
    points: list[tuple[float, float, ReportRow]] = []
    for r in report.for_tokenizer(x_tok):
        other = by_key.get((r.language, y_tok))
        if r.language == report.pivot or other is None:
            continue
        if r.premium is None or other.premium is None:
            continue
        points.append((r.premium, other.premium, r))
    counts: dict[str, int] = {}
    for _, _, r in points:
        counts[r.script or "?"] = counts.get(r.script or "?", 0) + 1
    top = sorted(counts, key=lambda s: (-counts[s], s))[: len(_SCRIPT_COLOURS)]
    colour = {s: _SCRIPT_COLOURS[i] for i, s in enumerate(top)}
    fig, ax = plt.subplots(figsize=(7.0, 6.2))
    lo, hi = _range([v for p in points for v in p[:2]])
    _log_axis(ax, lo, hi, 5.6, "x")
    _log_axis(ax, lo, hi, 5.2, "y")
    ax.plot([lo, hi], [lo, hi], color="#555555", linewidth=0.8, linestyle="--", zorder=1)
    ax.grid(color="#e9e9e9", linewidth=0.5)
    ax.set_axisbelow(True)
    for script in [*top, None]:
        sel = [
            p
            for p in points
            if ((p[2].script or "?") == script)
            or (script is None and (p[2].script or "?") not in colour)
        ]
        if not sel:
            continue
        label = (
            f"{names.get(script, script)} ({len(sel)})"
            if script is not None
            else f"other scripts ({len(sel)})"
        )
        ax.scatter(
            [p[0] for p in sel],
            [p[1] for p in sel],
            s=22 if len(points) > 60 else 34,
            color=colour.get(script, _OTHER) if script is not None else _OTHER,
            edgecolor="white",
            linewidth=0.4,
            alpha=0.9,
            label=label,
            zorder=3,
        )
    # Label the points a reader looks for: farthest from the diagonal, and the highest.
    limit = len(points) if len(points) <= 14 else 14
    far = sorted(points, key=lambda p: -abs(math.log(p[1] / p[0])))
    high = sorted(points, key=lambda p: -max(p[0], p[1]))
    chosen: list[tuple[float, float, ReportRow]] = []
    span = math.log(hi / lo)

    def crowded(p: tuple[float, float, ReportRow]) -> bool:
        # another label within ~4% of the axis horizontally and ~2.5% vertically
        return any(
            abs(math.log(p[0] / q[0])) < 0.05 * span and abs(math.log(p[1] / q[1])) < 0.03 * span
            for q in chosen
        )

    for p in (q for pair in zip(far, high, strict=True) for q in pair):
        if p not in chosen and not crowded(p):
            chosen.append(p)
        if len(chosen) >= limit:
            break
    for x, y, r in chosen:
        ax.annotate(
            _cut(r.name, 24),
            (x, y),
            xytext=(4, 3),
            textcoords="offset points",
            fontsize=7,
            color="#333333",
        )
    ax.set_xlabel(f"premium under {x_tok} (vs {report.pivot}, log scale)")
    ax.set_ylabel(f"premium under {y_tok} (vs {report.pivot}, log scale)")
    ax.set_title(
        f"{y_tok} vs {x_tok}: below the diagonal, {y_tok} needs fewer tokens\n"
        f"{_kind(report)}, {len(points)} languages",
        fontsize=10,
    )
    ax.legend(loc="upper left", frameon=False, fontsize=8, title="script", title_fontsize=8)
    fig.tight_layout()
    return fig


def plot_scatter(
    report: Report,
    path: str | Path,
    x_tokenizer: str | None = None,
    y_tokenizer: str | None = None,
    *,
    dpi: int = 150,
) -> Path:
    """Each language's premium under ``y_tokenizer`` against ``x_tokenizer`` (default: the
    report's second tokenizer against its first). Needs two tokenizers."""
    x_tok, y_tok = _pair(report, x_tokenizer, y_tokenizer)
    with _style() as plt:
        fig = _scatter_figure(report, x_tok, y_tok)
        try:
            return _save(fig, path, dpi)
        finally:
            plt.close(fig)


def _pair(report: Report, x_tok: str | None, y_tok: str | None) -> tuple[str, str]:
    if len(report.tokenizers) < 2:
        raise ValueError("the scatter compares two tokenizers; this report has one")
    x = x_tok or report.tokenizers[0]
    y = y_tok or next(t for t in report.tokenizers if t != x)
    for t in (x, y):
        if t not in report.tokenizers:
            raise ValueError(f"tokenizer {t!r} is not in the report ({report.tokenizers})")
    return x, y


def _scripts_figure(report: Report) -> Any:
    plt = _pyplot()
    aggs = report.by_script()
    first = report.tokenizers[0]
    order = [a.script for a in aggs if a.tokenizer == first]
    per = {(a.tokenizer, a.script): a for a in aggs}
    n_tok = len(report.tokenizers)
    n = len(order)
    row_in = 0.22 + 0.05 * (n_tok - 1)
    fig, ax = plt.subplots(figsize=(7.5, min(A4_PORTRAIT_IN[1], 1.4 + row_in * max(n, 2))))
    values = [v for a in aggs for v in (a.min_premium, a.max_premium)]
    lo, hi = _range(values)
    _log_axis(ax, lo, hi, 5.0)
    ax.axvline(1.0, color="#555555", linewidth=0.8, linestyle="--", zorder=1)
    ax.grid(axis="x", color="#e3e3e3", linewidth=0.5)
    ax.set_axisbelow(True)
    for i in range(1, n, 2):
        ax.axhspan(i - 0.5, i + 0.5, color="#f2f2f2", linewidth=0, zorder=0)
    band = 0.7
    step = band / max(n_tok, 1)
    for k, tok in enumerate(report.tokenizers):
        colour = _COLOURS[k % len(_COLOURS)]
        for i, script in enumerate(order):
            a = per.get((tok, script))
            if a is None or a.median_premium is None:
                continue
            y = i - band / 2 + step * (k + 0.5)
            ax.plot([a.min_premium, a.max_premium], [y, y], color=colour, linewidth=1.6, alpha=0.55)
            ax.plot(
                [a.median_premium],
                [y],
                linestyle="none",
                marker=_MARKERS[k % len(_MARKERS)],
                color=colour,
                markersize=5.5,
                label=tok if i == 0 else None,
            )
    labels = []
    for script in order:
        a = per[(first, script)]
        labels.append(f"{_short_script(a.script_name)} ({a.languages})")
    ax.set_yticks(range(n), labels, fontsize=8.5)
    ax.set_ylim(n - 0.4, -0.6)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    ax.set_xlabel(f"premium vs {report.pivot} (log scale)", fontsize=8.5)
    ax.set_title(
        f"Premium by script: {_kind(report)}, {report.n_languages} languages\n"
        "marker: median of the script's languages; line: their range",
        fontsize=10,
    )
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def plot_scripts(report: Report, path: str | Path, *, dpi: int = 150) -> Path:
    """Write the per-script summary to ``path`` (PNG, SVG or PDF, by the suffix)."""
    with _style() as plt:
        fig = _scripts_figure(report)
        try:
            return _save(fig, path, dpi)
        finally:
            plt.close(fig)


@contextmanager
def drawn(report: Report) -> Iterator[dict[str, Any]]:
    """Each of the report's figures drawn once, by name (``premium``, ``scripts`` and, with two
    or more tokenizers, ``scatter``), for :func:`write_plots` and :func:`svg_figures` to save in
    as many formats as wanted; the figures are closed on exit."""
    with _style() as plt:
        figures = {"premium": _dot_figure(report), "scripts": _scripts_figure(report)}
        try:
            if len(report.tokenizers) >= 2:
                x, y = _pair(report, None, None)
                figures["scatter"] = _scatter_figure(report, x, y)
            yield figures
        finally:
            for fig in figures.values():
                plt.close(fig)


def svg_figures(report: Report, figures: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The plots as inline ``<svg>`` strings: ``premium``, ``scripts`` and (two or more
    tokenizers) ``scatter``; ``figures`` from :func:`drawn`, else drawn here."""
    if figures is None:
        with drawn(report) as figs:
            return svg_figures(report, figs)
    with _style():
        return {name: figure_svg(fig) for name, fig in figures.items()}


def write_plots(
    report: Report,
    path: str | Path,
    *,
    dpi: int = 150,
    figures: Mapping[str, Any] | None = None,
) -> list[Path]:
    """The dot plot at ``path``, the per-script summary at ``<stem>-scripts<suffix>`` and, with
    two or more tokenizers, the scatter at ``<stem>-scatter<suffix>``, beside it; ``figures``
    from :func:`drawn`, else drawn here."""
    if figures is None:
        with drawn(report) as figs:
            return write_plots(report, path, dpi=dpi, figures=figs)
    main = Path(path)
    names = {"premium": main.name, "scripts": f"{main.stem}-scripts{main.suffix}"}
    names["scatter"] = f"{main.stem}-scatter{main.suffix}"
    with _style():
        return [
            _save(figures[key], main.with_name(name), dpi)
            for key, name in names.items()
            if key in figures
        ]
