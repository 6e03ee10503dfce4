"""Dataset readers: JSONL / CSV / Parquet files streamed as bounded chunks of rows.

Readers yield :class:`Chunk` objects of at most ``chunk_rows`` rows and about ``chunk_chars``
characters; nothing else of a file is held, so memory stays flat on files larger than RAM. JSONL
and CSV are read as bytes line by line (the byte offset drives the progress bar); Parquet is read
one record batch of one column at a time with pyarrow. A malformed line or a row without the column
becomes a :class:`BadRow` (file, line, reason), never an exception; a missing column in a CSV header
or a Parquet schema, an unreadable file, or a JSONL file in which no row has the column raise
``ValueError`` / ``OSError`` naming the file and the column.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from tokenmill.dataset.read import BadRow

__all__ = [
    "SUFFIXES",
    "BadRow",
    "Chunk",
    "dataset_columns",
    "dataset_files",
    "iter_chunks",
]

_CSV_FIELD_LIMIT = 2**31 - 1
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
Format = Literal["jsonl", "csv", "parquet"]


@dataclass(frozen=True)
class Chunk:
    """A slice of one file: valid rows (text strings or message lists) plus the bad rows seen."""

    path: str
    rows: tuple[Any, ...]
    lines: tuple[int, ...]
    bad: tuple[BadRow, ...]
    bytes_done: int


def _format_of(path: Path) -> Format:
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"{path}: unknown dataset format {path.suffix!r} (expected .jsonl, .ndjson, .csv or "
            ".parquet)"
        )
    return fmt  # type: ignore[return-value]


def dataset_files(path: str | Path) -> list[Path]:
    """The file itself, or every dataset file under a directory (recursively, sorted)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
        if not files:
            raise ValueError(f"{p}: no .jsonl, .ndjson, .csv or .parquet files in this directory")
        return files
    if not p.exists():
        raise OSError(f"cannot read dataset {p}: no such file or directory")
    _format_of(p)
    return [p]


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise OSError(f"cannot read dataset {path}: {exc.strerror or exc}") from exc


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise ValueError(
            "reading Parquet needs pyarrow (pip install 'tokenmill[report]')"
        ) from None
    return pq


def dataset_columns(path: str | Path) -> list[str]:
    """Column names of the first dataset file (JSONL: keys of the first valid object)."""
    p = dataset_files(path)[0]
    fmt = _format_of(p)
    if fmt == "parquet":
        return list(_pyarrow_parquet().ParquetFile(p).schema_arrow.names)
    with _open(p) as f:
        if fmt == "csv":
            header = next(csv.reader(_decoded_lines(f, p, [0])), None)
            return list(header or [])
        for raw in f:
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(obj, dict):
                return list(obj)
    return []


def _decoded_lines(f: BinaryIO, path: Path, pos: list[int]) -> Iterator[str]:
    for lineno, raw in enumerate(f, 1):
        pos[0] += len(raw)
        try:
            yield raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}:{lineno}: not valid UTF-8 ({exc.reason})") from None


class _Batcher:
    """Accumulates rows until ``chunk_rows`` rows or ``chunk_chars`` characters."""

    def __init__(self, path: Path, chunk_rows: int, chunk_chars: int) -> None:
        self.path, self.chunk_rows, self.chunk_chars = str(path), chunk_rows, chunk_chars
        self.rows: list[Any] = []
        self.lines: list[int] = []
        self.bad: list[BadRow] = []
        self.chars = 0

    def add(self, row: Any, line: int, size: int) -> None:
        self.rows.append(row)
        self.lines.append(line)
        self.chars += size

    def full(self) -> bool:
        return len(self.rows) + len(self.bad) >= self.chunk_rows or self.chars >= self.chunk_chars

    def flush(self, bytes_done: int) -> Chunk:
        chunk = Chunk(self.path, tuple(self.rows), tuple(self.lines), tuple(self.bad), bytes_done)
        self.rows, self.lines, self.bad, self.chars = [], [], [], 0
        return chunk


def _value(row: Mapping[str, Any], column: str, messages: bool) -> tuple[Any, str | None]:
    """The row's value for ``column`` (messages may be a JSON string), or an error reason."""
    if column not in row:
        return None, f"missing column {column!r}"
    value = row[column]
    if messages:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                return None, f"column {column!r} is not a JSON message list: {exc}"
        if not isinstance(value, list):
            return None, f"column {column!r} must be a list of messages"
        return value, None
    if not isinstance(value, str):
        return None, f"column {column!r} must be a string, got {type(value).__name__}"
    return value, None


def _iter_jsonl(
    path: Path, column: str, messages: bool, chunk_rows: int, chunk_chars: int
) -> Iterator[Chunk]:
    batch = _Batcher(path, chunk_rows, chunk_chars)
    pos = 0
    missing_column = good = 0
    with _open(path) as f:
        for lineno, raw in enumerate(f, 1):
            pos += len(raw)
            if raw.strip():
                try:
                    obj = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    batch.bad.append(BadRow(str(path), lineno, f"malformed JSON: {exc}"))
                else:
                    if not isinstance(obj, dict):
                        reason = f"expected a JSON object, got {type(obj).__name__}"
                        batch.bad.append(BadRow(str(path), lineno, reason))
                    else:
                        value, err = _value(obj, column, messages)
                        if err is None:
                            good += 1
                            batch.add(value, lineno, len(raw))
                        else:
                            missing_column += column not in obj
                            batch.bad.append(BadRow(str(path), lineno, err))
            if batch.full():
                yield batch.flush(pos)
    if good == 0 and missing_column > 0:
        raise ValueError(f"{path}: no row has the column {column!r}")
    yield batch.flush(pos)


def _iter_csv(
    path: Path, column: str, messages: bool, chunk_rows: int, chunk_chars: int
) -> Iterator[Chunk]:
    batch = _Batcher(path, chunk_rows, chunk_chars)
    pos = [0]
    # csv's default 128 KiB field limit would reject long documents; the limit is process-wide
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    with _open(path) as f:
        reader = csv.reader(_decoded_lines(f, path, pos))
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty CSV file (no header row with column {column!r})")
        if column not in header:
            raise ValueError(
                f"{path}: no column {column!r} in the CSV header (columns: {', '.join(header)})"
            )
        idx, width = header.index(column), len(header)
        try:
            for record in reader:
                line = reader.line_num
                if len(record) != width:
                    reason = f"expected {width} fields, got {len(record)}"
                    batch.bad.append(BadRow(str(path), line, reason))
                else:
                    value, err = _value({column: record[idx]}, column, messages)
                    if err is None:
                        batch.add(value, line, len(record[idx]))
                    else:
                        batch.bad.append(BadRow(str(path), line, err))
                if batch.full():
                    yield batch.flush(pos[0])
        except csv.Error as exc:
            raise ValueError(f"{path}:{reader.line_num}: malformed CSV: {exc}") from None
    yield batch.flush(pos[0])


def _iter_parquet(
    path: Path, column: str, messages: bool, chunk_rows: int, chunk_chars: int
) -> Iterator[Chunk]:
    pq = _pyarrow_parquet()
    try:
        pf = pq.ParquetFile(path)
    except OSError as exc:
        raise OSError(f"cannot read dataset {path}: {exc}") from exc
    except Exception as exc:  # pyarrow raises ArrowInvalid for non-Parquet bytes
        raise ValueError(f"{path}: not a Parquet file: {exc}") from None
    names = pf.schema_arrow.names
    if column not in names:
        raise ValueError(
            f"{path}: no column {column!r} in the Parquet schema (columns: {', '.join(names)})"
        )
    total_rows = max(pf.metadata.num_rows, 1)
    size = path.stat().st_size
    batch = _Batcher(path, chunk_rows, chunk_chars)
    row_no = 0
    for record_batch in pf.iter_batches(batch_size=chunk_rows, columns=[column]):
        for value in record_batch.column(0).to_pylist():
            row_no += 1
            if value is None:
                batch.bad.append(BadRow(str(path), row_no, f"column {column!r} is null"))
                continue
            v, err = _value({column: value}, column, messages)
            if err is None:
                batch.add(v, row_no, len(v) if isinstance(v, str) else 1)
            else:
                batch.bad.append(BadRow(str(path), row_no, err))
            if batch.full():
                yield batch.flush(size * row_no // total_rows)
    yield batch.flush(size)


def iter_chunks(
    path: str | Path,
    column: str,
    *,
    messages: bool = False,
    chunk_rows: int = 4096,
    chunk_chars: int = 8 << 20,
) -> Iterator[Chunk]:
    """Stream one dataset file as chunks of valid rows (and the bad rows met on the way)."""
    p = Path(path)
    if chunk_rows < 1 or chunk_chars < 1:
        raise ValueError("chunk_rows and chunk_chars must be >= 1")
    reader = {"jsonl": _iter_jsonl, "csv": _iter_csv, "parquet": _iter_parquet}[_format_of(p)]
    return reader(p, column, messages, chunk_rows, chunk_chars)
