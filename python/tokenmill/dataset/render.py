"""Render a :class:`~tokenmill.dataset.count.DatasetCount` as a table, Markdown, CSV or JSON.

Pure string building, O(rows x columns). CSV and JSON carry every column at full precision; the
table and Markdown round ratios for reading.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from tokenmill.dataset.count import COLUMNS, CountRow, DatasetCount

__all__ = ["FORMATS", "render_count"]

FORMATS = ("table", "json", "csv", "markdown")
_SHOWN = (
    ("tokenizer", "tokenizer"),
    ("language", "language"),
    ("documents", "docs"),
    ("tokens", "tokens"),
    ("bytes", "bytes"),
    ("characters", "chars"),
    ("tokens_per_byte", "tok/byte"),
    ("p50_tokens", "p50"),
    ("p90_tokens", "p90"),
    ("p99_tokens", "p99"),
    ("max_tokens", "max"),
)


def _cell(row: CountRow, attr: str) -> str:
    value = getattr(row, attr)
    if value is None:
        return "-"
    if attr == "language" and value == "*":
        return "all"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _grid(count: DatasetCount) -> tuple[list[str], list[list[str]]]:
    has_lang = any(r.language != "*" for r in count.rows)
    shown = [(a, h) for a, h in _SHOWN if has_lang or a != "language"]
    return [h for _, h in shown], [[_cell(r, a) for a, _ in shown] for r in count.rows]


def _footer(count: DatasetCount) -> list[str]:
    lines = [f"{len(count.files)} file(s), engine {count.engine}; {count.bad_rows:,} bad row(s)"]
    lines += [f"  {b}" for b in count.bad_samples[:10]]
    return lines


def _table(count: DatasetCount) -> str:
    headers, rows = _grid(count)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    text_cols = {0, 1} if "language" in headers else {0}

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in text_cols else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join([*out, "", *_footer(count)]) + "\n"


def _markdown(count: DatasetCount) -> str:
    headers, rows = _grid(count)
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join([*out, "", *_footer(count)]) + "\n"


def _csv(count: DatasetCount) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in count.rows:
        writer.writerow(["" if getattr(r, c) is None else getattr(r, c) for c in COLUMNS])
    return buf.getvalue()


def _json(count: DatasetCount) -> str:
    data: dict[str, Any] = count.to_dict()
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_count(count: DatasetCount, fmt: str = "table") -> str:
    """``count`` in ``fmt`` (one of :data:`FORMATS`)."""
    renderers = {"table": _table, "json": _json, "csv": _csv, "markdown": _markdown}
    if fmt not in renderers:
        raise ValueError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    return renderers[fmt](count)
