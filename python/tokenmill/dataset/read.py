"""Read one shard as batches of texts (and languages), with the rows that could not be read.

Design notes
------------
* **Arrow in, Arrow out for Parquet.** A Parquet shard is read one record batch of the needed
  columns at a time; the text column stays an Arrow ``string`` / ``large_string`` array, which
  ``Encoding.count_batch`` reads in place (no Python ``str`` per row). Byte and character counts
  come from ``pyarrow.compute`` kernels over the same buffers. Null texts are taken out and reported
  as bad rows by row number.
* **JSONL, CSV and TSV** are read as bytes, line by line, so a bad row is named by its 1-based
  line. JSONL blocks of lines are parsed as one JSON array (one ``json.loads`` per ~4 MB); a block
  that fails is parsed line by line to find the bad line.
* **Errors.** Row-level faults (malformed JSON, a row that is not an object, a missing or
  non-string text or language, a CSV row with the wrong number of fields, a null) become a
  :class:`BadRow` (file, line or row, reason). ``on_error="fail"`` raises the first one as a
  ``ValueError``; ``"skip"`` keeps reading and lets the caller count and list them. Shard-level
  faults always raise, naming the file: an empty shard, a missing text or language column (CSV
  header, Parquet schema, or no JSONL row having it), a text column that is not a string type,
  bytes that are not UTF-8 or not Parquet.

Memory is one batch (``batch_rows`` rows, or ~4 MB of JSONL) plus the reader's buffers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

from tokenmill.dataset.sources import Shard, pyarrow_module

__all__ = ["BadRow", "OnError", "TextBatch", "read_shard"]

OnError = Literal["skip", "fail"]
_JSON_BLOCK = 1 << 22
_CSV_FIELD_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class BadRow:
    """A row that could not be counted: its file, 1-based line (Parquet: row) and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class TextBatch:
    """Valid rows of a shard: ``texts`` (an Arrow string array or a list of ``str``), their
    languages (same length, or ``None`` without a language column) and the bad rows met."""

    texts: Any
    langs: Any
    bad: tuple[BadRow, ...]


class _Rows:
    """Collects the valid rows and bad rows of the current batch; raises at once under ``fail``."""

    def __init__(self, path: str, on_error: OnError) -> None:
        self.path = path
        self.on_error = on_error
        self.texts: list[str] = []
        self.langs: list[str] = []
        self.bad: list[BadRow] = []

    def add_bad(self, line: int, reason: str) -> None:
        bad = BadRow(self.path, line, reason)
        if self.on_error == "fail":
            raise ValueError(f"{bad} (use --on-error skip to count the other rows)")
        self.bad.append(bad)

    def flush(self, with_langs: bool) -> TextBatch:
        batch = TextBatch(self.texts, self.langs if with_langs else None, tuple(self.bad))
        self.texts, self.langs, self.bad = [], [], []
        return batch


class _Raw(io.RawIOBase):
    """A pyarrow input stream as a Python raw stream (for ``readlines`` and text wrappers)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


def _open(shard: Shard) -> BinaryIO:
    try:
        if shard.filesystem is not None:
            stream = shard.filesystem.open_input_stream(shard.path)
            return io.BufferedReader(_Raw(stream), 1 << 20)
        return open(shard.path, "rb")
    except OSError as exc:
        raise OSError(f"cannot read dataset {shard.path}: {exc.strerror or exc}") from exc


def _check_value(
    rows: _Rows, line: int, obj: dict[str, Any], text_column: str, lang_column: str | None
) -> None:
    text = obj.get(text_column)
    if not isinstance(text, str):
        got = "missing" if text_column not in obj else f"a {type(text).__name__}"
        rows.add_bad(line, f"column {text_column!r} must be a string, got {got}")
        return
    if lang_column is not None:
        lang = obj.get(lang_column)
        if not isinstance(lang, str):
            got = "missing" if lang_column not in obj else f"a {type(lang).__name__}"
            rows.add_bad(line, f"column {lang_column!r} must be a string, got {got}")
            return
        rows.langs.append(lang)
    rows.texts.append(text)


def _read_jsonl(
    shard: Shard, text_column: str, lang_column: str | None, on_error: OnError
) -> Iterator[TextBatch]:
    rows = _Rows(shard.path, on_error)
    start = 0
    seen = has_text = has_lang = 0
    with _open(shard) as fh:
        while True:
            lines = fh.readlines(_JSON_BLOCK)
            if not lines:
                break
            if start == 0 and lines[0].startswith(b"\xef\xbb\xbf"):
                lines[0] = lines[0][3:]
            numbered = [(start + i + 1, ln) for i, ln in enumerate(lines) if ln.strip()]
            start += len(lines)
            seen += len(numbered)
            try:
                objs: Any = json.loads(b"[" + b",".join(ln for _, ln in numbered) + b"]")
            except (json.JSONDecodeError, UnicodeDecodeError):
                objs = None
            if objs is None or len(objs) != len(numbered):
                objs = []
                for _, ln in numbered:
                    try:
                        objs.append(json.loads(ln))
                    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                        objs.append(exc)
            for (n, _), obj in zip(numbered, objs, strict=True):
                if isinstance(obj, ValueError):
                    rows.add_bad(n, f"malformed JSON: {obj}")
                elif not isinstance(obj, dict):
                    rows.add_bad(n, f"expected a JSON object, got {type(obj).__name__}")
                else:
                    has_text += text_column in obj
                    has_lang += lang_column is not None and lang_column in obj
                    _check_value(rows, n, obj, text_column, lang_column)
            yield rows.flush(lang_column is not None)
    if seen == 0:
        raise ValueError(f"{shard.path}: empty shard (no JSON lines)")
    if not has_text:
        raise ValueError(f"{shard.path}: no row has the text column {text_column!r}")
    if lang_column is not None and not has_lang:
        raise ValueError(f"{shard.path}: no row has the language column {lang_column!r}")


def _read_csv(
    shard: Shard, text_column: str, lang_column: str | None, on_error: OnError
) -> Iterator[TextBatch]:
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:  # long documents exceed csv's 128 KiB default
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    rows = _Rows(shard.path, on_error)
    with _open(shard) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text, delimiter="\t" if shard.format == "tsv" else ",")
        try:
            header = next(reader, None)
            if header is None:
                raise ValueError(f"{shard.path}: empty shard (no header row)")
            wanted = [text_column] + ([lang_column] if lang_column is not None else [])
            missing = [c for c in wanted if c not in header]
            if missing:
                raise ValueError(
                    f"{shard.path}: no column {missing[0]!r} in the header "
                    f"(columns: {', '.join(header)})"
                )
            t_idx = header.index(text_column)
            l_idx = header.index(lang_column) if lang_column is not None else -1
            width = len(header)
            count = 0
            for record in reader:
                count += 1
                if len(record) != width:
                    rows.add_bad(reader.line_num, f"expected {width} fields, got {len(record)}")
                else:
                    rows.texts.append(record[t_idx])
                    if l_idx >= 0:
                        rows.langs.append(record[l_idx])
                if len(rows.texts) + len(rows.bad) >= 65536:
                    yield rows.flush(lang_column is not None)
        except csv.Error as exc:
            raise ValueError(f"{shard.path}:{reader.line_num}: malformed CSV: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"{shard.path}: not valid UTF-8 ({exc.reason})") from None
    if count == 0:
        raise ValueError(f"{shard.path}: empty shard (a header and no rows)")
    yield rows.flush(lang_column is not None)


def _parquet_file(shard: Shard) -> Any:
    pq = pyarrow_module("parquet", f"reading {shard.path}")
    try:
        source = shard.filesystem.open_input_file(shard.path) if shard.filesystem else shard.path
        return pq.ParquetFile(source)
    except OSError as exc:
        raise OSError(f"cannot read dataset {shard.path}: {exc}") from exc
    except Exception as exc:  # ArrowInvalid for bytes that are not Parquet
        raise ValueError(f"{shard.path}: not a Parquet file: {exc}") from None


def _string_column(shard: Shard, schema: Any, column: str, what: str) -> None:
    pa = pyarrow_module("", "reading Parquet")
    names = schema.names
    if column not in names:
        raise ValueError(
            f"{shard.path}: no {what} column {column!r} in the Parquet schema "
            f"(columns: {', '.join(names)})"
        )
    typ = schema.field(column).type
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
        raise ValueError(
            f"{shard.path}: the {what} column {column!r} has type {typ}, expected a string column"
        )


def _read_parquet(
    shard: Shard, text_column: str, lang_column: str | None, on_error: OnError, batch_rows: int
) -> Iterator[TextBatch]:
    pc = pyarrow_module("compute", "reading Parquet")
    np = __import__("numpy")
    pf = _parquet_file(shard)
    schema = pf.schema_arrow
    _string_column(shard, schema, text_column, "text")
    columns = [text_column]
    if lang_column is not None:
        _string_column(shard, schema, lang_column, "language")
        columns.append(lang_column)
    meta = pf.metadata
    groups = shard.row_groups
    if groups is None:
        groups = tuple(range(meta.num_row_groups))
        if meta.num_rows == 0:
            raise ValueError(f"{shard.path}: empty shard (the Parquet file has no rows)")
    # 1-based row number of the first row of the shard within its file
    row = 1 + sum(meta.row_group(g).num_rows for g in range(groups[0])) if groups else 1
    for record_batch in pf.iter_batches(
        batch_size=batch_rows, row_groups=list(groups), columns=columns
    ):
        texts = record_batch.column(0)
        langs = record_batch.column(1) if lang_column is not None else None
        valid = pc.is_valid(texts)
        if langs is not None:
            valid = pc.and_(valid, pc.is_valid(langs))
        bad: list[BadRow] = []
        if texts.null_count or (langs is not None and langs.null_count):
            for i in np.flatnonzero(~np.asarray(valid.to_numpy(zero_copy_only=False))).tolist():
                col = text_column if not texts[i].is_valid else lang_column
                reason = f"column {col!r} is null"
                if on_error == "fail":
                    raise ValueError(
                        f"{shard.path}:{row + i}: {reason} (use --on-error skip to count the "
                        "other rows)"
                    )
                bad.append(BadRow(shard.path, row + i, reason))
            texts = texts.filter(valid)
            langs = langs.filter(valid) if langs is not None else None
        row += record_batch.num_rows
        yield TextBatch(texts, langs, tuple(bad))


def read_shard(
    shard: Shard,
    text_column: str,
    lang_column: str | None = None,
    *,
    on_error: OnError = "skip",
    batch_rows: int = 65536,
) -> Iterator[TextBatch]:
    """Stream ``shard`` as :class:`TextBatch` es (see the module notes for errors)."""
    if on_error not in ("skip", "fail"):
        raise ValueError(f"on_error must be 'skip' or 'fail', got {on_error!r}")
    if shard.format == "parquet":
        return _read_parquet(shard, text_column, lang_column, on_error, batch_rows)
    if shard.format == "jsonl":
        return _read_jsonl(shard, text_column, lang_column, on_error)
    return _read_csv(shard, text_column, lang_column, on_error)
