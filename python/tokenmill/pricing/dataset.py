"""Dataset pricing: count the prompt tokens of JSONL / CSV / Parquet files and price them.

Design notes
------------
* **Streaming, flat memory.** Readers yield :class:`Chunk` objects of at most ``chunk_rows`` rows
  and about ``chunk_chars`` characters; nothing else of a file is held, so memory stays flat on
  files larger than RAM. JSONL and CSV are read as bytes line by line (the byte offset drives the
  progress bar); Parquet is read one record batch of one column at a time with pyarrow.
* **All cores.** Each chunk is counted with one ``Encoding.count_batch`` call, which runs in Rust
  on every core of tokenmill's pool with the GIL released, while a reader thread parses the next
  chunk (a bounded queue of two chunks, so memory stays flat). Per-row sums are numpy
  cumulative-sum differences, O(strings) per chunk.
* **Map / reduce.** :func:`count_rows` is a pure function of (rows, counter) returning a
  :class:`ShardCount`; :func:`merge_counts` is associative with ``ShardCount()`` as identity, so
  shards can be counted anywhere (threads, processes, a cluster engine) and reduced in any grouping.
* **Bad rows never stop the run.** A malformed JSONL line, a row without the column or with a
  value of the wrong type becomes a :class:`BadRow` (file, line, reason); the rest is counted and
  the report lists them (the first ``MAX_BAD_SAMPLES`` kept, all counted). A missing column in a
  CSV header or a Parquet schema, an unreadable file, or a JSONL file in which no row has the
  column raise ``ValueError`` / ``OSError`` naming the file and the column.
* **Each row is a request.** Long-context tiers are applied per row: ``count_rows`` splits tokens
  at the model's threshold, so a dataset total above 200k tokens is not mispriced as one request.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar

import numpy as np

from tokenmill.cost import (
    Catalogue,
    CostEstimate,
    ModelPrice,
    ResolvedCounter,
    TokenCounter,
    Usage,
    _bundled,
    _count,
    _limit_warnings,
    chat_pieces,
    plain_text_counter,
    price_usage,
    resolve_counter,
)
from tokenmill.pricing.progress import Progress

__all__ = [
    "BadRow",
    "Chunk",
    "DatasetCost",
    "ShardCount",
    "count_dataset",
    "count_rows",
    "dataset_columns",
    "dataset_files",
    "iter_chunks",
    "merge_counts",
    "price_counts",
    "price_dataset",
]

MAX_BAD_SAMPLES = 100
_CSV_FIELD_LIMIT = 2**31 - 1
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
Format = Literal["jsonl", "csv", "parquet"]
_T = TypeVar("_T")


@dataclass(frozen=True)
class BadRow:
    """A row that could not be counted: its file, 1-based line (Parquet: row) and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class Chunk:
    """A slice of one file: valid rows (text strings or message lists) plus the bad rows seen."""

    path: str
    rows: tuple[Any, ...]
    lines: tuple[int, ...]
    bad: tuple[BadRow, ...]
    bytes_done: int


@dataclass(frozen=True)
class ShardCount:
    """Mergeable token counts of a set of rows. ``ShardCount()`` is the identity of the merge.

    ``tokens`` = ``tokens_standard`` + ``tokens_long``: rows whose prompt exceeds the long-context
    threshold (when one was given) are counted in ``rows_long`` / ``tokens_long``.
    """

    rows: int = 0
    tokens: int = 0
    rows_long: int = 0
    tokens_long: int = 0
    max_row_tokens: int = 0
    approximate_rows: int = 0
    bad_rows: int = 0
    bad_samples: tuple[BadRow, ...] = ()

    @property
    def tokens_standard(self) -> int:
        return self.tokens - self.tokens_long

    @property
    def rows_standard(self) -> int:
        return self.rows - self.rows_long

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["bad_samples"] = [str(b) for b in self.bad_samples]
        return out


def merge_counts(a: ShardCount, b: ShardCount) -> ShardCount:
    """Combine two partial counts (associative; keeps the first ``MAX_BAD_SAMPLES`` bad rows)."""
    return ShardCount(
        rows=a.rows + b.rows,
        tokens=a.tokens + b.tokens,
        rows_long=a.rows_long + b.rows_long,
        tokens_long=a.tokens_long + b.tokens_long,
        max_row_tokens=max(a.max_row_tokens, b.max_row_tokens),
        approximate_rows=a.approximate_rows + b.approximate_rows,
        bad_rows=a.bad_rows + b.bad_rows,
        bad_samples=(a.bad_samples + b.bad_samples)[:MAX_BAD_SAMPLES],
    )


def count_rows(
    rows: Sequence[Any],
    counter: TokenCounter,
    *,
    messages: bool = False,
    long_context_threshold: int | None = None,
    path: str = "<rows>",
    lines: Sequence[int] | None = None,
) -> ShardCount:
    """Count one shard of rows: strings, or (``messages=True``) OpenAI-style message lists.

    Pure given the counter. Message lists get the chat recipe's per-message and reply-primer
    overhead; a conversation that cannot be counted becomes a bad row instead of an exception.
    """
    texts: list[str] = []
    bounds: list[int] = []  # end offset into texts per kept row
    overheads: list[int] = []
    bad: list[BadRow] = []
    approximate = 0
    for i, row in enumerate(rows):
        line = lines[i] if lines is not None else i + 1
        if messages:
            try:
                pieces = chat_pieces(row)
            except (TypeError, ValueError) as exc:
                bad.append(BadRow(path, line, f"bad messages: {exc}"))
                continue
            texts.extend(pieces.texts)
            overheads.append(pieces.overhead)
            approximate += pieces.approximate_reason is not None
        else:
            if not isinstance(row, str):
                bad.append(BadRow(path, line, f"expected a string, got {type(row).__name__}"))
                continue
            texts.append(row)
            overheads.append(0)
        bounds.append(len(texts))
    per_text = np.asarray(counter.count_batch(texts) if texts else [], dtype=np.int64)
    if messages:  # per row: its strings' tokens (a cumulative-sum difference) + fixed overhead
        ends = np.asarray(bounds, dtype=np.int64)
        cum = np.concatenate([np.zeros(1, np.int64), np.cumsum(per_text)])
        starts = np.concatenate([np.zeros(1, np.int64), ends[:-1]])
        per_row = cum[ends] - cum[starts] + np.asarray(overheads, dtype=np.int64)
    else:
        per_row = per_text
    long = (
        per_row[per_row > long_context_threshold]
        if long_context_threshold is not None
        else per_row[:0]
    )
    tokens, rows_long, tokens_long = int(per_row.sum()), len(long), int(long.sum())
    max_row = int(per_row.max()) if len(per_row) else 0
    return ShardCount(
        rows=len(bounds),
        tokens=tokens,
        rows_long=rows_long,
        tokens_long=tokens_long,
        max_row_tokens=max_row,
        approximate_rows=approximate,
        bad_rows=len(bad),
        bad_samples=tuple(bad[:MAX_BAD_SAMPLES]),
    )


# --------------------------------------------------------------------------------------------
# Files and readers
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Count and price
# --------------------------------------------------------------------------------------------


def _pick_column(path: Path, column: str | None, messages_column: str | None) -> tuple[str, bool]:
    if column is not None and messages_column is not None:
        raise ValueError("give either column= (text) or messages_column=, not both")
    if column is not None:
        return column, False
    if messages_column is not None:
        return messages_column, True
    cols = dataset_columns(path)
    if "messages" in cols:
        return "messages", True
    if "text" in cols:
        return "text", False
    raise ValueError(
        f"{path}: no 'text' or 'messages' column (columns: {', '.join(cols) or 'none'}); "
        "name one with column= or messages_column="
    )


def count_dataset(
    path: str | Path,
    counter: TokenCounter,
    *,
    column: str | None = None,
    messages_column: str | None = None,
    long_context_threshold: int | None = None,
    progress: bool | Progress = False,
    chunk_rows: int = 4096,
) -> ShardCount:
    """Count a dataset file or directory (map: :func:`count_rows` per chunk; reduce: merge)."""
    files = dataset_files(path)
    col, messages = _pick_column(files[0], column, messages_column)
    counter = plain_text_counter(counter)
    if isinstance(progress, Progress):
        bar = progress
    else:
        total = sum(f.stat().st_size for f in files)
        bar = Progress(total, enabled=bool(progress))

    def chunks() -> Iterator[tuple[int, Chunk]]:
        base = 0
        for f in files:
            for chunk in iter_chunks(f, col, messages=messages, chunk_rows=chunk_rows):
                yield base, chunk
            base += f.stat().st_size

    result = ShardCount()
    try:
        for base, chunk in _prefetch(chunks()):
            part = count_rows(
                chunk.rows,
                counter,
                messages=messages,
                long_context_threshold=long_context_threshold,
                path=chunk.path,
                lines=chunk.lines,
            )
            # report bad rows in file order: malformed ones and uncountable ones, by line
            samples = tuple(sorted(part.bad_samples + chunk.bad, key=lambda b: b.line))
            part = dataclasses.replace(
                part,
                bad_rows=part.bad_rows + len(chunk.bad),
                bad_samples=samples[:MAX_BAD_SAMPLES],
            )
            result = merge_counts(result, part)
            bar.update(base + chunk.bytes_done, result.rows + result.bad_rows)
    finally:
        bar.close()
    return result


_DONE = object()


def _prefetch(source: Iterator[_T], depth: int = 2) -> Iterator[_T]:
    """Run ``source`` in a reader thread, ``depth`` items ahead of the consumer.

    Parsing the next chunk (Python, holds the GIL) overlaps with counting the current one (Rust,
    GIL released). The bounded queue keeps memory flat; reader exceptions re-raise here; a consumer
    that stops early sets ``stop`` so the reader thread exits.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in source:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, re-raised there
            put(_Failure(exc))
            return
        put(_DONE)

    thread = threading.Thread(target=run, name="tokenmill-dataset-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


@dataclass(frozen=True)
class _Failure:
    exc: BaseException


def _add(a: CostEstimate, b: CostEstimate) -> CostEstimate:
    return dataclasses.replace(
        a,
        usage=a.usage + b.usage,
        input_cost=a.input_cost + b.input_cost,
        cache_read_cost=a.cache_read_cost + b.cache_read_cost,
        cache_write_cost=a.cache_write_cost + b.cache_write_cost,
        output_cost=a.output_cost + b.output_cost,
        reasoning_cost=a.reasoning_cost + b.reasoning_cost,
        total_cost=a.total_cost + b.total_cost,
        long_context=a.long_context or b.long_context,
    )


def price_counts(
    count: ShardCount,
    record: ModelPrice,
    *,
    output_tokens_per_row: int = 0,
    batch: bool = False,
    exact: bool = True,
    reason: str = "token counts supplied by the caller",
    tokenizer: str | None = None,
) -> CostEstimate:
    """Price a (merged) shard count: each row is one request with ``output_tokens_per_row``."""
    out = _count(output_tokens_per_row, "output_tokens_per_row")
    kw: dict[str, Any] = {
        "batch": batch,
        "exact": exact,
        "reason": reason,
        "tokenizer": tokenizer,
        "check_limits": False,  # the totals are sums of requests; check the largest row instead
    }
    standard = price_usage(
        record,
        Usage(count.tokens_standard, 0, 0, out * count.rows_standard, 0),
        long_context=False,
        **kw,
    )
    warnings = _limit_warnings(record, count.max_row_tokens, out if count.rows else 0)
    if count.rows_long:
        long = price_usage(
            record,
            Usage(count.tokens_long, 0, 0, out * count.rows_long, 0),
            long_context=True,
            **kw,
        )
        standard = _add(standard, long)
    if warnings:
        standard = dataclasses.replace(
            standard, warnings=tuple(f"largest row: {w}" for w in warnings)
        )
    return standard


@dataclass(frozen=True)
class DatasetCost:
    """A priced dataset: the merged counts, the estimate and the files read."""

    count: ShardCount
    estimate: CostEstimate
    files: tuple[str, ...]

    @property
    def total_cost(self) -> Decimal:
        return self.estimate.total_cost

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "count": self.count.to_dict(),
            "estimate": self.estimate.to_dict(),
        }


def price_dataset(
    path: str | Path,
    model: str,
    *,
    column: str | None = None,
    messages_column: str | None = None,
    output_tokens_per_row: int = 0,
    batch: bool = False,
    catalogue: Catalogue | None = None,
    counter: TokenCounter | None = None,
    progress: bool | Progress = False,
    chunk_rows: int = 4096,
) -> DatasetCost:
    """Count and price every row of a JSONL / CSV / Parquet file or a directory of them.

    With neither ``column`` nor ``messages_column``, a ``messages`` column is used if present,
    else ``text``. Bad rows are reported in ``result.count``, never fatal.
    """
    record = (catalogue or _bundled()).get(model)
    _count(output_tokens_per_row, "output_tokens_per_row")
    resolved = (
        resolve_counter(record.tokenizer)
        if counter is None
        else ResolvedCounter(
            plain_text_counter(counter), True, f"counted with caller's tokenizer {counter.name}"
        )
    )
    files = dataset_files(path)
    _, messages = _pick_column(files[0], column, messages_column)
    threshold = record.long_context.above_input_tokens if record.long_context else None
    count = count_dataset(
        path,
        resolved.counter,
        column=column,
        messages_column=messages_column,
        long_context_threshold=threshold,
        progress=progress,
        chunk_rows=chunk_rows,
    )
    exact, reason = resolved.exact, resolved.reason
    if messages and record.provider != "openai":
        exact = False
        reason += (
            "; chat overhead from OpenAI's recipe (this provider's chat format is unpublished)"
        )
    if count.approximate_rows:
        exact = False
        reason += f"; {count.approximate_rows} rows had non-text fields counted as JSON"
    estimate = price_counts(
        count,
        record,
        output_tokens_per_row=output_tokens_per_row,
        batch=batch,
        exact=exact,
        reason=reason,
        tokenizer=resolved.counter.name,
    )
    return DatasetCost(count, estimate, tuple(str(f) for f in files))
