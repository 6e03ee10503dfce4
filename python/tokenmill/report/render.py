"""Render a :class:`~tokenmill.report.model.Report` as text, Markdown, CSV, JSON or HTML.

Design notes
------------
Two views of the same rows. The *summary* is wide: one line per language, sorted by the first
tokenizer's premium (highest first), with median tokens, premium and (with a model) the cost of
content that takes 1M pivot tokens, per tokenizer. The *detail* is tidy: one line per
language × tokenizer with every column; CSV and JSON carry the detail, the terminal shows the
summary, Markdown and HTML show both. Rendering is pure string building, O(rows × columns).
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tokenmill.report.model import COLUMNS, Report, ReportRow

__all__ = ["FORMATS", "render", "sample_note", "summary_table"]

FORMATS = ("table", "markdown", "csv", "json", "html")

SAMPLE_NOTE = (
    "The built-in corpus is a small sample ({ids} everyday sentences); for real numbers load a "
    "parallel corpus: --corpus PATH with a FLORES-200 directory (dev/, devtest/), MASSIVE "
    "(<locale>.jsonl) or a JSONL/CSV/TSV/Parquet file with lang, id and text columns."
)


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    groups: tuple[str, ...] = ()  # per column: a label spanning its run of columns, or ""

    def flat_headers(self) -> tuple[str, ...]:
        if not self.groups:
            return self.headers
        return tuple(f"{g} {h}".strip() for g, h in zip(self.groups, self.headers, strict=True))

    def spans(self) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        for g in self.groups:
            if out and out[-1][0] == g and g:
                out[-1] = (g, out[-1][1] + 1)
            else:
                out.append((g, 1))
        return out


def _num(x: float | None, digits: int = 2, suffix: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:,.{digits}f}{suffix}"


def _money(x: float | None) -> str:
    if x is None:
        return "–"
    return f"${x:,.2f}" if x >= 0.1 else f"${x:.4f}"


def sample_note(report: Report) -> str | None:
    return SAMPLE_NOTE.format(ids=report.n_ids) if report.corpus_is_sample else None


def _header_lines(report: Report) -> list[str]:
    n_sent = len({r.language for r in report.entries})
    kind = "built-in sample corpus" if report.corpus_is_sample else f"corpus {report.corpus_name}"
    source = (
        f" ({report.corpus_source})" if report.corpus_source and not report.corpus_is_sample else ""
    )
    lines = [
        f"Token-length report: {kind}{source}, {report.n_ids} ids × {n_sent} languages; "
        f"tokenizers: {', '.join(report.tokenizers)}",
        f"premium = tokens for the same sentences relative to {report.pivot} (Petrov et al. 2023),",
        "  also the relative time to generate them at equal tokens/s; median = tokens per sentence",
    ]
    if report.pricing is not None:
        p = report.pricing
        as_of = f", prices as of {p.as_of}" if p.as_of else ""
        lines.append(
            f"cost: {p.model} at ${p.input_per_1m:g} per 1M input tokens{as_of}; "
            f"$/1M {report.pivot} = the price of content that is 1M {report.pivot} tokens"
        )
    return lines


def _has_context(report: Report) -> bool:
    return any(
        r.common_crawl_pct is not None or r.population_pct is not None for r in report.entries
    )


def summary_table(report: Report) -> Table:
    """One row per language (highest premium under the first tokenizer first)."""
    by_key = {(r.language, r.tokenizer): r for r in report.entries}
    order = report.languages_by_premium()
    headers = ["language", "code"]
    numeric = [False, False]
    groups = ["", ""]
    for tok in report.tokenizers:
        headers += ["median", "premium"]
        numeric += [True, True]
        if report.pricing is not None:
            headers.append(f"$/1M {report.pivot}")
            numeric.append(True)
        groups += [tok] * (len(headers) - len(groups))
    context = _has_context(report)
    if context:
        headers += ["CC %", "pop. %", "CC/pop"]
        numeric += [True, True, True]
        groups += ["context"] * 3
    rows = []
    for lang in order:
        first = by_key[(lang, report.tokenizers[0])]
        cells = [first.name, lang]
        for tok in report.tokenizers:
            r = by_key.get((lang, tok))
            if r is None:
                cells += ["–", "–"] + (["–"] if report.pricing is not None else [])
                continue
            cells += [_num(r.median_tokens, 1), _num(r.premium, 2, "×")]
            if report.pricing is not None:
                cells.append(_money(r.input_cost_per_1m_pivot_usd))
        if context:
            cells += [
                _num(first.common_crawl_pct, 3),
                _num(first.population_pct, 2),
                _num(first.crawl_to_population, 2),
            ]
        rows.append(tuple(cells))
    return Table(tuple(headers), tuple(rows), tuple(numeric), tuple(groups))


_DETAIL = (
    ("language", "language", False),
    ("name", "name", False),
    ("sentences", "sentences", True),
    ("empty_texts", "empty", True),
    ("median_tokens", "median", True),
    ("mean_tokens", "mean", True),
    ("p90_tokens", "p90", True),
    ("total_tokens", "total tokens", True),
    ("premium", "premium", True),
    ("shared_ids", "shared ids", True),
    ("median_ratio", "median ratio", True),
    ("chars_per_token", "chars/token", True),
    ("bytes_per_token", "bytes/token", True),
    ("relative_time", "rel. time", True),
)


def _cell(row: ReportRow, attr: str) -> str:
    v = getattr(row, attr)
    if isinstance(v, bool) or v is None:
        return "–" if v is None else str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if attr in ("premium", "median_ratio", "relative_time"):
            return _num(v, 2, "×")
        return _num(v, 2)
    return str(v)


def detail_table(report: Report, tokenizer: str) -> Table:
    cols = list(_DETAIL)
    if report.pricing is not None:
        cols += [
            ("input_cost_usd", "corpus cost $", True),
            ("input_cost_per_1m_pivot_usd", f"$ per 1M {report.pivot} in", True),
            ("output_cost_per_1m_pivot_usd", f"$ per 1M {report.pivot} out", True),
        ]
    rows = []
    for r in report.for_tokenizer(tokenizer):
        cells = []
        for attr, _, _ in cols:
            if attr.endswith("_usd"):
                cells.append(_money(getattr(r, attr)))
            else:
                cells.append(_cell(r, attr))
        rows.append(tuple(cells))
    return Table(tuple(c[1] for c in cols), tuple(rows), tuple(c[2] for c in cols))


def _text_table(t: Table) -> str:
    widths = [len(h) for h in t.headers]
    for row in t.rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    group_line: list[str] = []
    if t.groups:
        col = 0
        for label, span in t.spans():
            width = sum(widths[col : col + span]) + 2 * (span - 1)
            if len(label) > width:  # widen the last column of the span to fit the label
                widths[col + span - 1] += len(label) - width
                width = len(label)
            group_line.append(label.center(width, "-" if label else " ") if label else " " * width)
            col += span

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, t.numeric, strict=True)
        ]
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    top = ["  ".join(group_line).rstrip()] if group_line else []
    return "\n".join([*top, line(t.headers), sep, *(line(r) for r in t.rows)])


def _md_table(t: Table) -> str:
    def esc(c: str) -> str:
        return c.replace("|", "\\|")

    head = "| " + " | ".join(esc(h) for h in t.flat_headers()) + " |"
    rule = "|" + "|".join("---:" if n else "---" for n in t.numeric) + "|"
    body = ["| " + " | ".join(esc(c) for c in r) + " |" for r in t.rows]
    return "\n".join([head, rule, *body])


def _html_table(t: Table) -> str:
    def cell(tag: str, c: str, num: bool) -> str:
        cls = ' class="num"' if num else ""
        return f"<{tag}{cls}>{html.escape(c)}</{tag}>"

    head = "".join(cell("th", h, n) for h, n in zip(t.headers, t.numeric, strict=True))
    if t.groups:
        spans = "".join(
            f'<th colspan="{n}">{html.escape(g)}</th>' if g else f'<th colspan="{n}"></th>'
            for g, n in t.spans()
        )
        head = f"{spans}</tr>\n<tr>{head}"
    body = "\n".join(
        "<tr>" + "".join(cell("td", c, n) for c, n in zip(r, t.numeric, strict=True)) + "</tr>"
        for r in t.rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _footer(report: Report) -> list[str]:
    out = []
    note = sample_note(report)
    if note:
        out.append(note)
    if _has_context(report):
        out.append(
            "context: CC % = share of Common Crawl pages (CC-MAIN-2022-40, the crawl Lai et al. "
            "2023 report); pop. % = speakers (L1+L2) / world population; CC/pop = their ratio. "
            "Rough figures: see the limits in tokenmill/data/languages.json."
        )
    return out


def render_table(report: Report) -> str:
    parts = [*_header_lines(report), "", _text_table(summary_table(report)), ""]
    parts += _footer(report)
    if report.warnings:
        parts.append(f"warnings ({len(report.warnings)}):")
        parts += [f"  {w}" for w in report.warnings]
    return "\n".join(parts).rstrip() + "\n"


def render_markdown(report: Report) -> str:
    parts = ["# Token-length report", ""]
    parts += [f"{line}  " for line in _header_lines(report)]
    parts += ["", "## Summary", "", _md_table(summary_table(report))]
    for tok in report.tokenizers:
        parts += ["", f"## {tok}", "", _md_table(detail_table(report, tok))]
    footer = _footer(report)
    if footer:
        parts += ["", *(f"> {f}" for f in footer)]
    if report.warnings:
        parts += ["", "## Warnings", "", *(f"- {w}" for w in report.warnings)]
    return "\n".join(parts) + "\n"


def render_csv(report: Report) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in report.rows():
        writer.writerow(
            ["" if v is None else (repr(v) if isinstance(v, float) else v) for v in row]
        )
    return buf.getvalue()


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def render_json(report: Report) -> str:
    meta = report.metadata()
    if report.corpus_is_sample:
        meta["note"] = sample_note(report)
    doc = {
        "metadata": meta,
        "columns": list(COLUMNS),
        "rows": [{k: _json_safe(v) for k, v in d.items()} for d in report.to_dicts()],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:left}
th{background:#f4f4f4;position:sticky;top:0}
.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:hover{background:#fafafa}
.note{color:#555;max-width:60rem}
img{max-width:100%}
"""


def render_html(report: Report, plot_src: str | None = None) -> str:
    body = ["<h1>Token-length report</h1>"]
    body += [f'<p class="note">{html.escape(line)}</p>' for line in _header_lines(report)]
    if plot_src:
        body.append(f'<img src="{html.escape(plot_src)}" alt="premium per language">')
    body += ["<h2>Summary</h2>", _html_table(summary_table(report))]
    for tok in report.tokenizers:
        body += [f"<h2>{html.escape(tok)}</h2>", _html_table(detail_table(report, tok))]
    body += [f'<p class="note">{html.escape(f)}</p>' for f in _footer(report)]
    if report.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in report.warnings)
        body += ["<h2>Warnings</h2>", f"<ul>{items}</ul>"]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Token-length report</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def render(report: Report, fmt: str = "table") -> str:
    """``fmt``: ``table`` (terminal), ``markdown``, ``csv``, ``json`` or ``html``."""
    if fmt == "table":
        return render_table(report)
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "json":
        return render_json(report)
    if fmt == "html":
        return render_html(report)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
