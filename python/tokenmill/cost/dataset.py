"""Dataset pricing: count the prompt tokens of JSONL / CSV / Parquet files and price them.

Design notes
------------
* **Streaming, flat memory.** :mod:`tokenmill.cost.readers` yields bounded chunks of rows;
  nothing else of a file is held, so memory stays flat on files larger than RAM.
* **All cores.** Each chunk is counted with one ``Encoding.count_batch`` call, which runs in Rust
  on every core of tokenmill's pool with the GIL released, while a reader thread parses the next
  chunk (a bounded queue of two chunks, so memory stays flat). Per-row sums are numpy
  cumulative-sum differences, O(strings) per chunk.
* **Map / reduce.** :func:`count_rows` is a pure function of (rows, counter) returning a
  :class:`ShardCount`; :func:`merge_counts` is associative with ``ShardCount()`` as identity, so
  shards can be counted anywhere (threads, processes, a cluster engine) and reduced in any grouping.
* **Bad rows never stop the run.** A malformed JSONL line, a row without the column or with a
  value of the wrong type becomes a :class:`BadRow` (file, line, reason); the rest is counted and
  the report lists them (the first ``MAX_BAD_SAMPLES`` kept, all counted).
* **Each row is a request.** Long-context tiers are applied per row: ``count_rows`` splits tokens
  at the model's threshold, so a dataset total above 200k tokens is not mispriced as one request.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from tokenmill._progress import Progress
from tokenmill.cost.catalogue import Catalogue, ModelPrice, bundled_catalogue
from tokenmill.cost.chat import chat_pieces
from tokenmill.cost.estimate import chat_exactness, counter_for
from tokenmill.cost.readers import (
    BadRow,
    Chunk,
    dataset_columns,
    dataset_files,
    iter_chunks,
)
from tokenmill.cost.usage import (
    CostEstimate,
    Usage,
    limit_warnings,
    nonnegative_int,
    price_usage,
)
from tokenmill.counting import TokenCounter, plain_text_counter
from tokenmill.engines import resolve_engine

__all__ = [
    "BadRow",
    "Chunk",
    "DatasetCost",
    "DatasetCountJob",
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
_T = TypeVar("_T")


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
    progress: bool | Progress | None = False,
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
        bar = Progress(total, "counting", unit="bytes", enabled=progress, width=24)

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
            bar.moveto(base + chunk.bytes_done, rows=result.rows + result.bad_rows)
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
    out = nonnegative_int(output_tokens_per_row, "output_tokens_per_row")
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
    warnings = limit_warnings(record, count.max_row_tokens, out if count.rows else 0)
    if count.rows_long:
        long = price_usage(
            record,
            Usage(count.tokens_long, 0, 0, out * count.rows_long, 0),
            long_context=True,
            **kw,
        )
        standard = standard + long
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
    progress: bool | Progress | None = False,
    chunk_rows: int = 4096,
    engine: Any = None,
    address: str | None = None,
) -> DatasetCost:
    """Count and price every row of a JSONL / CSV / Parquet file or a directory of them.

    With neither ``column`` nor ``messages_column``, a ``messages`` column is used if present,
    else ``text``. Bad rows are reported in ``result.count``, never fatal. ``engine``:
    ``"local"`` (default) or ``"ray"`` (``address``: the cluster; every worker must see the
    files), see :func:`tokenmill.engines.resolve_engine`: each file is a shard counted by
    :func:`count_dataset` and merged with :func:`merge_counts`, so the result is the same.
    """
    resolution = (catalogue or bundled_catalogue()).resolve(model)
    record = resolution.record
    nonnegative_int(output_tokens_per_row, "output_tokens_per_row")
    resolved = counter_for(record, counter)
    files = dataset_files(path)
    _, messages = _pick_column(files[0], column, messages_column)
    threshold = record.long_context.above_input_tokens if record.long_context else None
    if engine is None or engine == "local":
        count = count_dataset(
            path,
            resolved.counter,
            column=column,
            messages_column=messages_column,
            long_context_threshold=threshold,
            progress=progress,
            chunk_rows=chunk_rows,
        )
    else:
        col, _ = _pick_column(files[0], column, messages_column)
        job = DatasetCountJob(record, counter, col, messages, threshold, chunk_rows)
        runner = resolve_engine(engine, address=address)
        total = sum(f.stat().st_size for f in files)
        bar = (
            progress
            if isinstance(progress, Progress)
            else Progress(total, "counting", unit="bytes", enabled=progress, width=24)
        )
        with bar:
            count = runner.run(job, [str(f) for f in files], progress=bar)
    if messages:
        json_rows = count.approximate_rows
        why = f"{json_rows} rows had non-text fields counted as JSON" if json_rows else None
        exact, reason = chat_exactness(record, resolved, why)
    else:
        exact, reason = resolved.exact, resolved.reason
    estimate = price_counts(
        count,
        record,
        output_tokens_per_row=output_tokens_per_row,
        batch=batch,
        exact=exact,
        reason=reason,
        tokenizer=resolved.counter.name,
    )
    if resolution.note is not None:
        estimate = dataclasses.replace(estimate, warnings=(resolution.note, *estimate.warnings))
    return DatasetCost(count, estimate, tuple(str(f) for f in files))


class DatasetCountJob:
    """:func:`count_dataset` as a shard job, one file per shard (see :mod:`tokenmill.engines`).

    Workers rebuild the counter from ``record`` (or the caller's ``counter``) in :meth:`setup`;
    the merge is :func:`merge_counts`, so any grouping of the files gives the same count.
    """

    def __init__(
        self,
        record: ModelPrice,
        counter: TokenCounter | None,
        column: str,
        messages: bool,
        long_context_threshold: int | None,
        chunk_rows: int,
    ) -> None:
        self.record = record
        self.counter = counter
        self.column = column
        self.messages = messages
        self.long_context_threshold = long_context_threshold
        self.chunk_rows = chunk_rows
        self._resolved: TokenCounter | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_resolved"] = None  # each worker loads its own tokenizer in setup()
        return state

    def _load(self) -> TokenCounter:
        if self._resolved is None:
            self._resolved = counter_for(self.record, self.counter).counter
        return self._resolved

    def setup(self) -> None:
        self._load()

    def run(self, path: str) -> ShardCount:
        return count_dataset(
            path,
            self._load(),
            column=None if self.messages else self.column,
            messages_column=self.column if self.messages else None,
            long_context_threshold=self.long_context_threshold,
            chunk_rows=self.chunk_rows,
        )

    def merge(self, a: ShardCount, b: ShardCount) -> ShardCount:
        return merge_counts(a, b)

    def empty(self) -> ShardCount:
        return ShardCount()

    def weight(self, path: str) -> int:
        return Path(path).stat().st_size
