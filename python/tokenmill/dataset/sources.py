"""Dataset sources: a file, directory or glob, on local disk or any pyarrow filesystem -> shards.

Design notes
------------
A *shard* is the unit of work both engines schedule: one JSONL / CSV / TSV file, or a range of row
groups of one Parquet file (so that one large Parquet file still spreads over many workers). A
shard carries everything a worker needs to read it on its own: the path, the format, the byte
size (for progress) and, for remote data, the pyarrow filesystem (picklable, so it travels to Ray
workers).

Where the data may live:

* a local path: a file, a directory (read recursively) or a glob (``data/*.parquet``,
  ``data/**/part-*.jsonl``);
* a URI that ``pyarrow.fs.FileSystem.from_uri`` understands: ``s3://bucket/prefix/``,
  ``gs://bucket/*.parquet``, ``hdfs://host/path``, ``abfs://...`` (whatever the installed pyarrow
  was built with), again a file, a prefix or a glob;
* a pyarrow ``FileSystem`` passed as ``filesystem=`` (then the path is a path inside it), which
  also covers fsspec filesystems wrapped in ``pyarrow.fs.PyFileSystem(FSSpecHandler(fs))``.

Listing is O(files) metadata calls; a Parquet file's footer is read once to split it into shards.
Files are sorted by path, so the shard order, and with it every merged result, is deterministic.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["FORMATS", "Format", "Shard", "list_shards", "pyarrow_module"]

Format = Literal["jsonl", "csv", "tsv", "parquet"]
FORMATS: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
}
_GLOB_CHARS = frozenset("*?[")
# Parquet row groups per shard are grouped up to about this many rows.
PARQUET_SHARD_ROWS = 1 << 17


@dataclass(frozen=True)
class Shard:
    """One unit of work: a whole file, or ``row_groups`` of a Parquet file."""

    path: str
    format: Format
    size: int
    filesystem: Any = None  # a pyarrow FileSystem, or None for the local disk
    row_groups: tuple[int, ...] | None = None

    def __str__(self) -> str:
        if self.row_groups is None:
            return self.path
        return f"{self.path} (row groups {self.row_groups[0]}-{self.row_groups[-1]})"


def pyarrow_module(name: str, why: str) -> Any:
    """Import ``pyarrow.<name>`` or raise an ``ImportError`` saying which extra provides it."""
    import importlib

    try:
        return importlib.import_module(f"pyarrow.{name}" if name else "pyarrow")
    except ImportError:
        raise ImportError(f"{why} needs pyarrow: pip install 'tokenmill[cost]'") from None


def _format_of(path: str) -> Format:
    suffix = os.path.splitext(path)[1].lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise ValueError(
            f"{path}: unknown dataset format {suffix or '(no extension)'!r} "
            "(expected .jsonl, .ndjson, .csv, .tsv or .parquet)"
        )
    return fmt


def _has_glob(text: str) -> bool:
    return any(c in _GLOB_CHARS for c in text)


def _local_files(spec: str) -> list[tuple[str, int]]:
    if _has_glob(spec):
        names = sorted(glob.glob(spec, recursive=True))
        files = [
            n for n in names if os.path.isfile(n) and os.path.splitext(n)[1].lower() in FORMATS
        ]
        if not files:
            raise ValueError(f"{spec}: the pattern matches no .jsonl, .csv, .tsv or .parquet file")
        return [(f, os.path.getsize(f)) for f in files]
    p = Path(spec)
    if p.is_dir():
        found = sorted(str(f) for f in p.rglob("*") if f.is_file() and f.suffix.lower() in FORMATS)
        if not found:
            raise ValueError(
                f"{p}: no .jsonl, .ndjson, .csv, .tsv or .parquet files in this directory"
            )
        return [(f, os.path.getsize(f)) for f in found]
    if not p.exists():
        raise OSError(f"cannot read dataset {p}: no such file or directory")
    _format_of(spec)
    return [(spec, p.stat().st_size)]


def _remote_files(fs: Any, path: str) -> list[tuple[str, int]]:
    pafs = pyarrow_module("fs", "reading a remote dataset")
    if _has_glob(path):
        parts = path.split("/")
        cut = next(i for i, part in enumerate(parts) if _has_glob(part))
        base = "/".join(parts[:cut])
        selector = pafs.FileSelector(base, recursive=True)
        infos = [
            i
            for i in fs.get_file_info(selector)
            if i.type == pafs.FileType.File and fnmatch.fnmatchcase(i.path, path)
        ]
    else:
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise OSError(f"cannot read dataset {path}: no such file or prefix")
        if info.type == pafs.FileType.Directory:
            infos = [
                i
                for i in fs.get_file_info(pafs.FileSelector(path, recursive=True))
                if i.type == pafs.FileType.File
            ]
        else:
            _format_of(path)
            infos = [info]
    files = sorted(
        (i.path, int(i.size or 0)) for i in infos if os.path.splitext(i.path)[1].lower() in FORMATS
    )
    if not files:
        raise ValueError(f"{path}: no .jsonl, .ndjson, .csv, .tsv or .parquet files there")
    return files


def _parquet_shards(path: str, size: int, fs: Any, shard_rows: int) -> list[Shard]:
    pq = pyarrow_module("parquet", "reading Parquet")
    try:
        meta = pq.read_metadata(fs.open_input_file(path) if fs is not None else path)
    except OSError as exc:
        raise OSError(f"cannot read dataset {path}: {exc}") from exc
    except Exception as exc:  # pyarrow raises ArrowInvalid for bytes that are not Parquet
        raise ValueError(f"{path}: not a Parquet file: {exc}") from None
    if meta.num_row_groups <= 1:
        return [Shard(path, "parquet", size, fs)]
    groups: list[list[int]] = [[]]
    rows = 0
    for g in range(meta.num_row_groups):
        n = meta.row_group(g).num_rows
        if groups[-1] and rows + n > shard_rows:
            groups.append([])
            rows = 0
        groups[-1].append(g)
        rows += n
    if len(groups) == 1:
        return [Shard(path, "parquet", size, fs)]
    total = max(meta.num_rows, 1)
    out = []
    for gs in groups:
        n = sum(meta.row_group(g).num_rows for g in gs)
        out.append(Shard(path, "parquet", size * n // total, fs, tuple(gs)))
    return out


def list_shards(
    dataset: str | Path | Sequence[str | Path],
    *,
    filesystem: Any = None,
    parquet_shard_rows: int = PARQUET_SHARD_ROWS,
) -> list[Shard]:
    """The shards of ``dataset`` (see the module notes for what it may be), in path order."""
    specs = [dataset] if isinstance(dataset, (str, Path)) else list(dataset)
    if not specs:
        raise ValueError("no dataset given")
    shards: list[Shard] = []
    for spec in specs:
        text = str(spec)
        fs = filesystem
        if fs is None and "://" in text and not text.startswith("file://"):
            pafs = pyarrow_module("fs", f"reading {text}")
            try:
                fs, path = pafs.FileSystem.from_uri(text)
            except Exception as exc:
                raise ValueError(f"{text}: pyarrow cannot open this URI: {exc}") from None
            files = _remote_files(fs, path)
        elif fs is not None:
            files = _remote_files(fs, text)
        else:
            files = _local_files(text.removeprefix("file://"))
        for path, size in files:
            fmt = _format_of(path)
            if fmt == "parquet":
                shards.extend(_parquet_shards(path, size, fs, parquet_shard_rows))
            else:
                shards.append(Shard(path, fmt, size, fs))
    return shards
