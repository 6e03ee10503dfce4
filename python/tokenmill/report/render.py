"""Render a :class:`~tokenmill.report.model.Report` as text, Markdown, CSV, JSON or HTML.

Design notes
------------
Two views of the same rows. The *summary* is wide: one line per language, sorted by the first
tokenizer's premium (highest first), with median tokens, premium and (with a model) the cost of
content that takes 1M pivot tokens, per tokenizer. The *detail* is tidy: one line per
language × tokenizer with every column; CSV and JSON carry the detail, the terminal shows the
summary, Markdown shows both and the per-script aggregates. Rendering is pure string building,
O(rows × columns).

HTML is one self-contained file: no network request, no external script, style or font (nothing
in it names a URL). It holds the summary, the plots inline as ``<svg>`` (when matplotlib is
installed), the per-script aggregates and one tidy table of every row. About 40 lines of inline
JavaScript sort that table by any column (click a header; numbers sort by value, ``–`` last) and
filter it by script, tokenizer and a search over names, codes and language families. A print
stylesheet hides the controls, prints the rows the filters show, repeats the table header on each
page, keeps rows and figures whole and scales a full-page plot to the printed page.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tokenmill.report.model import COLUMNS, Report, ReportRow

__all__ = ["FORMATS", "render", "render_html", "sample_note", "script_table", "summary_table"]

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


def _money(x: Decimal | None) -> str:
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


def _shows_corpus_codes(report: Report) -> bool:
    return any(r.corpus_code != r.language for r in report.entries)


def summary_table(report: Report) -> Table:
    """One row per language (highest premium under the first tokenizer first)."""
    by_key = {(r.language, r.tokenizer): r for r in report.entries}
    order = report.languages_by_premium()
    corpus_codes = _shows_corpus_codes(report)
    headers = ["language", "code"] + (["corpus code"] if corpus_codes else [])
    numeric = [False] * len(headers)
    groups = [""] * len(headers)
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
        cells = [first.name, lang] + ([first.corpus_code] if corpus_codes else [])
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
    ("corpus_code", "corpus code", False),
    ("name", "name", False),
    ("script", "script", False),
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
    ("fertility", "fertility", True),
    ("share_over_2x", "≥2× pivot", True),
    ("share_over_4x", "≥4× pivot", True),
    ("relative_time", "rel. time", True),
)
_SHARES = ("share_over_2x", "share_over_4x")


def _cell(row: ReportRow, attr: str) -> str:
    v = getattr(row, attr)
    if isinstance(v, bool) or v is None:
        return "–" if v is None else str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if attr in ("premium", "median_ratio", "relative_time"):
            return _num(v, 2, "×")
        if attr in _SHARES:
            return _num(100 * v, 1, "%")
        return _num(v, 2)
    return str(v)


def _detail_columns(report: Report) -> list[tuple[str, str, bool]]:
    cols = list(_DETAIL)
    if not _shows_corpus_codes(report):
        cols = [c for c in cols if c[0] != "corpus_code"]
    if report.pricing is not None:
        cols += [
            ("input_cost_usd", "corpus cost $", True),
            ("input_cost_per_1m_pivot_usd", f"$ per 1M {report.pivot} in", True),
            ("output_cost_per_1m_pivot_usd", f"$ per 1M {report.pivot} out", True),
        ]
    return cols


def detail_table(report: Report, tokenizer: str) -> Table:
    cols = _detail_columns(report)
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


def script_table(report: Report) -> Table:
    """Per tokenizer and script: how many languages and the median / min / max premium."""
    rows = tuple(
        (
            a.tokenizer,
            a.script_name,
            a.script,
            str(a.languages),
            _num(a.median_premium, 2, "×"),
            _num(a.min_premium, 2, "×"),
            _num(a.max_premium, 2, "×"),
        )
        for a in report.by_script()
    )
    return Table(
        ("tokenizer", "script", "ISO 15924", "languages", "median premium", "min", "max"),
        rows,
        (False, False, False, True, True, True, True),
    )


METRIC_NOTES = (
    "fertility = tokens per whitespace-delimited word (Rust et al. 2021), left empty for "
    "languages whose script does not put spaces between words (Han, kana, Thai, Lao, Khmer, "
    "Myanmar, Tibetan) and for languages of unknown script; ≥2× / ≥4× pivot = share of the "
    "shared sentences whose token count is at least 2 / 4 times the pivot's; chars/token and "
    "bytes/token = Unicode code points and UTF-8 bytes per token."
)


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
    parts += ["", "## By script", "", _md_table(script_table(report))]
    parts += ["", f"> {METRIC_NOTES}"]
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
        writer.writerow([_exact_text(v) for v in row])
    return buf.getvalue()


def _exact_text(v: Any) -> Any:
    """A CSV cell: floats by their shortest round-trip form, money as its exact decimal digits
    (never an exponent), nothing as the empty string."""
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, Decimal):
        return format(v, "f")
    return v


def _json_safe(v: Any) -> Any:
    """Non-finite floats become null; money becomes a decimal string (exact, as ``cost --json``
    writes it)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    return v


def render_json(report: Report) -> str:
    meta = _json_safe(report.metadata())
    if report.corpus_is_sample:
        meta["note"] = sample_note(report)
    doc = {
        "metadata": meta,
        "columns": list(COLUMNS),
        "rows": [{k: _json_safe(v) for k, v in d.items()} for d in report.to_dicts()],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#222;
max-width:80rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.85rem}
th,td{padding:.2rem .5rem;border-bottom:1px solid #ddd;text-align:left;white-space:nowrap}
thead th{background:#f4f4f4;position:sticky;top:0}
#rows thead th{cursor:pointer;user-select:none}
#rows thead th[aria-sort=ascending]::after{content:" ▲"}
#rows thead th[aria-sort=descending]::after{content:" ▼"}
.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:hover{background:#fafafa}
.note{color:#555;max-width:60rem}
.controls{margin:1rem 0;display:flex;gap:1rem;flex-wrap:wrap;align-items:center}
figure{margin:1rem 0}
figure svg{max-width:100%;height:auto}
@media print{
 body{margin:0;font-size:9pt;max-width:none}
 .controls{display:none}
 thead th{position:static}
 table{font-size:7pt}
 tr,figure{break-inside:avoid}
 thead{display:table-header-group}
 figure svg{max-height:25cm;width:auto}
}
"""

# Sort on header click (numbers by data-v, missing values last) and filter rows by script,
# tokenizer and a substring of the name/code cells. No dependency, no network.
_JS = """
(function(){
var t=document.getElementById('rows'),b=t.tBodies[0],hs=t.tHead.rows[0].cells;
var fs=document.getElementById('f-script'),ft=document.getElementById('f-tok'),
 fq=document.getElementById('f-q'),n=document.getElementById('n-shown');
function key(r,i){var c=r.cells[i],v=c.getAttribute('data-v');
 if(v!==null){return v===''?null:parseFloat(v);}return c.textContent.toLowerCase();}
Array.prototype.forEach.call(hs,function(h,i){h.addEventListener('click',function(){
 var asc=h.getAttribute('aria-sort')!=='ascending';
 Array.prototype.forEach.call(hs,function(x){x.removeAttribute('aria-sort');});
 h.setAttribute('aria-sort',asc?'ascending':'descending');
 var rs=Array.prototype.slice.call(b.rows);
 rs.sort(function(p,q){var a=key(p,i),c=key(q,i);
  if(a===null||c===null){return (a===null)-(c===null);}
  return (a<c?-1:a>c?1:0)*(asc?1:-1);});
 rs.forEach(function(r){b.appendChild(r);});});});
function filter(){var s=fs.value,k=ft.value,q=fq.value.toLowerCase(),shown=0;
 Array.prototype.forEach.call(b.rows,function(r){
  var ok=(!s||r.getAttribute('data-script')===s)&&(!k||r.getAttribute('data-tok')===k)&&
   (!q||r.getAttribute('data-q').indexOf(q)>=0);
  r.hidden=!ok;if(ok){shown++;}});
 n.textContent=shown;}
[fs,ft].forEach(function(e){e.addEventListener('change',filter);});
fq.addEventListener('input',filter);filter();
})();
"""


def _attr(v: str) -> str:
    return html.escape(v, quote=True)


def _rows_table(report: Report) -> str:
    """Every language × tokenizer row, sortable and filterable (see the module notes)."""
    cols = [("tokenizer", "tokenizer", False), *_detail_columns(report)]
    num_cls = ' class="num"'
    head = "".join(
        f'<th scope="col"{num_cls if num else ""}>{html.escape(label)}</th>'
        for _, label, num in cols
    )
    body = []
    for r in report.entries:
        cells = []
        for attr, _, num in cols:
            v = getattr(r, attr)
            text = _money(v) if attr.endswith("_usd") else _cell(r, attr)
            if num:
                raw = "" if v is None else (format(v, "f") if isinstance(v, Decimal) else repr(v))
                cells.append(f'<td class="num" data-v="{raw}">{html.escape(text)}</td>')
            else:
                cells.append(f"<td>{html.escape(text)}</td>")
        search = " ".join((r.language, r.corpus_code, r.name, r.family or "")).lower()
        body.append(
            f'<tr data-script="{_attr(r.script or "?")}" data-tok="{_attr(r.tokenizer)}" '
            f'data-q="{_attr(search)}">' + "".join(cells) + "</tr>"
        )
    return (
        f'<table id="rows">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(body)
        + "\n</tbody>\n</table>"
    )


def _controls(report: Report) -> str:
    names = report.script_names()
    scripts = sorted({r.script or "?" for r in report.entries}, key=lambda s: names.get(s, s))
    opt_s = "".join(
        f'<option value="{_attr(s)}">{html.escape(names.get(s, s))} ({html.escape(s)})</option>'
        for s in scripts
    )
    opt_t = "".join(
        f'<option value="{_attr(t)}">{html.escape(t)}</option>' for t in report.tokenizers
    )
    return (
        '<div class="controls">'
        '<label>script <select id="f-script"><option value="">all</option>'
        f"{opt_s}</select></label>"
        '<label>tokenizer <select id="f-tok"><option value="">all</option>'
        f"{opt_t}</select></label>"
        '<label>search <input id="f-q" type="search" placeholder="name, code or family"></label>'
        f'<span><span id="n-shown">{len(report.entries)}</span> of {len(report.entries)} '
        "rows</span></div>"
    )


def _headline(report: Report) -> list[str]:
    """One sentence per tokenizer: the median premium and the languages that pay the most."""
    out = []
    for tok in report.tokenizers:
        rows = [r for r in report.for_tokenizer(tok) if r.language != report.pivot]
        prem = sorted(r.premium for r in rows if r.premium is not None)
        if not prem:
            continue
        mid = len(prem) // 2
        median = prem[mid] if len(prem) % 2 else (prem[mid - 1] + prem[mid]) / 2
        over2 = sum(1 for p in prem if p >= 2)
        top = [r for r in rows if r.premium is not None][:3]
        worst = ", ".join(f"{r.name} {r.premium:.2f}×" for r in top if r.premium is not None)
        out.append(
            f"{tok}: median premium {median:.2f}× over {len(prem)} languages; "
            f"{over2} need at least twice the {report.pivot} tokens; highest: {worst}."
        )
    return out


_FIGURES = (
    ("premium", "Premium per language (one marker per tokenizer, grouped by script)"),
    ("scripts", "Premium by script: median and range"),
    ("scatter", "One tokenizer against another"),
)


def _figures(report: Report, svgs: Mapping[str, str] | None) -> list[str]:
    if svgs is None:
        try:
            from tokenmill.report.plot import svg_figures

            svgs = svg_figures(report)
        except ImportError:
            return ["<p class=\"note\">Plots need matplotlib: pip install 'tokenmill[report]'.</p>"]
    out = []
    for key, caption in _FIGURES:
        if key in svgs:
            out.append(
                f"<figure>{svgs[key]}<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
    return out


def render_html(report: Report, svgs: Mapping[str, str] | None = None) -> str:
    """The self-contained HTML page. ``svgs``: inline ``<svg>`` plots by name (``premium``,
    ``scripts``, ``scatter``); ``None`` draws them when matplotlib is installed, ``{}`` omits
    them."""
    body = ["<h1>Token-length report</h1>"]
    body += [f'<p class="note">{html.escape(line)}</p>' for line in _header_lines(report)]
    headline = _headline(report)
    if headline:
        body.append("<ul>" + "".join(f"<li>{html.escape(h)}</li>" for h in headline) + "</ul>")
    body += _figures(report, svgs)
    body += ["<h2>Summary</h2>", _html_table(summary_table(report))]
    body += ["<h2>By script</h2>", _html_table(script_table(report))]
    body += ["<h2>Every language and tokenizer</h2>", _controls(report), _rows_table(report)]
    body.append(f'<p class="note">{html.escape(METRIC_NOTES)}</p>')
    body += [f'<p class="note">{html.escape(f)}</p>' for f in _footer(report)]
    if report.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in report.warnings)
        body += ["<h2>Warnings</h2>", f"<ul>{items}</ul>"]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Token-length report</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{_JS}</script>\n</body>\n</html>\n"
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
