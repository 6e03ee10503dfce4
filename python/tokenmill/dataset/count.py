"""``count_tokens``: exact token counts of a dataset per tokenizer (and per language).

Design notes
------------
One per-shard function and one merge, whatever the engine:

* :meth:`CountJob.run` reads one shard (:func:`tokenmill.dataset.read.read_shard`) and, per batch,
  counts every text once per tokenizer with ``count_batch`` (an Arrow column is read in place),
  measures UTF-8 bytes and characters (Arrow compute kernels, or ``len`` for JSONL/CSV rows), and
  groups the per-document counts by language with one stable argsort. The result is a
  :class:`CountPartial`: a :class:`~tokenmill.dataset.stats.Tally` per (tokenizer, language) plus
  the bad rows.
* :func:`merge_partials` adds tallies key by key and keeps the first ``MAX_BAD_SAMPLES`` bad rows
  in shard order; ``CountPartial()`` is its identity.
* :func:`count_tokens` lists the shards and hands the job to an engine
  (:func:`tokenmill.engines.resolve_engine`); the merged partial becomes a :class:`DatasetCount`.

Cost: O(text) per tokenizer for counting, O(documents) for the byte/char measures and grouping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tokenmill._progress import Progress
from tokenmill.counting import PlainTextCounter, unique_names
from tokenmill.dataset.read import BadRow, OnError, read_shard
from tokenmill.dataset.sources import PARQUET_SHARD_ROWS, Shard, list_shards, pyarrow_module
from tokenmill.dataset.stats import Tally, TokenHistogram
from tokenmill.engines import TokenizerJob

__all__ = [
    "ALL_LANGUAGES",
    "MAX_BAD_SAMPLES",
    "CountJob",
    "CountPartial",
    "CountRow",
    "DatasetCount",
    "count_tokens",
    "merge_partials",
]

MAX_BAD_SAMPLES = 100
ALL_LANGUAGES = "*"  # the language key of the totals over every language
QUANTILES = (0.5, 0.9, 0.99)


def count_texts(counter: Any, texts: Any) -> npt.NDArray[np.int64]:
    """Per-text token counts. An Arrow column goes to a tokenmill encoding as is (read in place);
    other tokenizers get it as a list of ``str``."""
    if hasattr(texts, "__arrow_c_array__") and not isinstance(counter, PlainTextCounter):
        texts = texts.to_pylist()
    counts = np.asarray(counter.count_batch(texts), dtype=np.int64)
    if counts.shape != (len(texts),):
        raise ValueError(
            f"tokenizer {counter.name!r} returned {counts.shape} counts for {len(texts)} texts"
        )
    return counts


@dataclass(frozen=True)
class CountPartial:
    """Mergeable counts of some shards: ``tallies[(tokenizer, language)]`` plus bad rows."""

    tallies: Mapping[tuple[str, str], Tally] = field(default_factory=dict)
    bad_rows: int = 0
    bad_samples: tuple[BadRow, ...] = ()


def merge_partials(a: CountPartial, b: CountPartial) -> CountPartial:
    """Combine two partial counts (associative; ``CountPartial()`` is the identity)."""
    tallies = dict(a.tallies)
    for key, tally in b.tallies.items():
        tallies[key] = tallies[key].merge(tally) if key in tallies else tally
    return CountPartial(
        dict(sorted(tallies.items())),
        a.bad_rows + b.bad_rows,
        (a.bad_samples + b.bad_samples)[:MAX_BAD_SAMPLES],
    )


def _lengths(texts: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """UTF-8 bytes and characters of each text."""
    if hasattr(texts, "__arrow_c_array__"):
        pc = pyarrow_module("compute", "measuring Arrow texts")

        nbytes = pc.binary_length(texts).to_numpy(zero_copy_only=False)
        nchars = pc.utf8_length(texts).to_numpy(zero_copy_only=False)
        return nbytes.astype(np.int64), nchars.astype(np.int64)
    n = len(texts)
    nchars = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    nbytes = np.fromiter(
        (len(t.encode("utf-8", "surrogatepass")) for t in texts), dtype=np.int64, count=n
    )
    return nbytes, nchars


def _language_groups(langs: Any, n: int) -> list[tuple[str, npt.NDArray[np.int64]]]:
    """(language, row indices) for each language of the batch, by one stable argsort."""
    if langs is None:
        return [(ALL_LANGUAGES, np.arange(n, dtype=np.int64))]
    if hasattr(langs, "__arrow_c_array__"):
        encoded = langs.dictionary_encode()
        names = encoded.dictionary.to_pylist()
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    else:
        index: dict[str, int] = {}
        codes = np.fromiter((index.setdefault(x, len(index)) for x in langs), np.int64, count=n)
        names = list(index)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    return [(name, order[bounds[k] : bounds[k + 1]]) for k, name in enumerate(names)]


class CountJob(TokenizerJob):
    """The count of one dataset as a shard job (see :mod:`tokenmill.engines`)."""

    def __init__(
        self,
        tokenizers: Sequence[Any],
        text_column: str = "text",
        lang_column: str | None = None,
        *,
        on_error: OnError = "skip",
    ) -> None:
        if on_error not in ("skip", "fail"):
            raise ValueError(f"on_error must be 'skip' or 'fail', got {on_error!r}")
        super().__init__(tokenizers)
        self.text_column = text_column
        self.lang_column = lang_column
        self.on_error: OnError = on_error

    @property
    def names(self) -> list[str]:
        """The tokenizers' display names, repeats numbered."""
        return unique_names([c.name for c in self.counters])

    def empty(self) -> CountPartial:
        return CountPartial()

    def merge(self, a: CountPartial, b: CountPartial) -> CountPartial:
        return merge_partials(a, b)

    def weight(self, shard: Shard) -> int:
        return shard.size

    def run(self, shard: Shard) -> CountPartial:
        counters, names = self.counters, self.names
        result = CountPartial()
        for batch in read_shard(shard, self.text_column, self.lang_column, on_error=self.on_error):
            tallies: dict[tuple[str, str], Tally] = {}
            n = len(batch.texts)
            if n:
                nbytes, nchars = _lengths(batch.texts)
                groups = _language_groups(batch.langs, n)
                for counter, name in zip(counters, names, strict=True):
                    tokens = count_texts(counter, batch.texts)
                    for lang, rows in groups:
                        sel = tokens[rows]
                        tallies[(name, lang)] = Tally(
                            documents=len(rows),
                            tokens=int(sel.sum()),
                            bytes=int(nbytes[rows].sum()),
                            characters=int(nchars[rows].sum()),
                            histogram=TokenHistogram.of(sel),
                        )
            part = CountPartial(dict(tallies), len(batch.bad), batch.bad[:MAX_BAD_SAMPLES])
            result = merge_partials(result, part)
        return result


@dataclass(frozen=True)
class CountRow:
    """Counts of one tokenizer over one language (``language`` is ``"*"`` for all of them)."""

    tokenizer: str
    language: str
    documents: int
    tokens: int
    bytes: int
    characters: int
    tokens_per_byte: float | None
    mean_tokens: float | None
    p50_tokens: int | None
    p90_tokens: int | None
    p99_tokens: int | None
    max_tokens: int | None

    @classmethod
    def of(cls, tokenizer: str, language: str, tally: Tally) -> CountRow:
        h = tally.histogram
        return cls(
            tokenizer=tokenizer,
            language=language,
            documents=tally.documents,
            tokens=tally.tokens,
            bytes=tally.bytes,
            characters=tally.characters,
            tokens_per_byte=tally.tokens / tally.bytes if tally.bytes else None,
            mean_tokens=tally.tokens / tally.documents if tally.documents else None,
            p50_tokens=h.quantile(QUANTILES[0]),
            p90_tokens=h.quantile(QUANTILES[1]),
            p99_tokens=h.quantile(QUANTILES[2]),
            max_tokens=h.max,
        )


COLUMNS: tuple[str, ...] = tuple(CountRow.__dataclass_fields__)


@dataclass(frozen=True)
class DatasetCount:
    """The exact counts of a dataset: one row per tokenizer x language (plus per-tokenizer totals
    over all languages when there is a language column), the merged partial and the files read."""

    rows: tuple[CountRow, ...]
    partial: CountPartial
    tokenizers: tuple[str, ...]
    files: tuple[str, ...]
    engine: str

    @property
    def bad_rows(self) -> int:
        return self.partial.bad_rows

    @property
    def bad_samples(self) -> tuple[BadRow, ...]:
        return self.partial.bad_samples

    def row(self, tokenizer: str, language: str = ALL_LANGUAGES) -> CountRow:
        for r in self.rows:
            if r.tokenizer == tokenizer and r.language == language:
                return r
        raise KeyError(f"no row for tokenizer {tokenizer!r} and language {language!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "engine": self.engine,
            "tokenizers": list(self.tokenizers),
            "rows": [r.__dict__ for r in self.rows],
            "bad_rows": self.bad_rows,
            "bad_samples": [str(b) for b in self.bad_samples],
        }


def _rows(partial: CountPartial, names: Iterable[str]) -> tuple[CountRow, ...]:
    out: list[CountRow] = []
    for name in names:
        per_lang = {lang: t for (tok, lang), t in partial.tallies.items() if tok == name}
        if set(per_lang) - {ALL_LANGUAGES}:
            total = Tally()
            for lang in sorted(per_lang):
                out.append(CountRow.of(name, lang, per_lang[lang]))
                total = total.merge(per_lang[lang])
            out.append(CountRow.of(name, ALL_LANGUAGES, total))
        else:
            out.append(CountRow.of(name, ALL_LANGUAGES, per_lang.get(ALL_LANGUAGES, Tally())))
    return tuple(out)


def count_tokens(
    dataset: str | Path | Sequence[str | Path],
    tokenizers: Any = ("cl100k_base",),
    *,
    text_column: str = "text",
    lang_column: str | None = None,
    on_error: OnError = "skip",
    engine: Any = None,
    address: str | None = None,
    filesystem: Any = None,
    shard_rows: int = PARQUET_SHARD_ROWS,
    progress: bool | None = False,
) -> DatasetCount:
    """Exact token counts of a dataset per tokenizer (and per language with ``lang_column``).

    ``dataset``: a JSONL / CSV / TSV / Parquet file, a directory, a glob, or a URI of any
    filesystem pyarrow supports (``s3://bucket/prefix/*.parquet``); see
    :mod:`tokenmill.dataset.sources`; a Parquet file is cut into shards of whole row groups of
    about ``shard_rows`` rows. ``tokenizers``: bundled encoding names, OpenAI model names,
    ``.tiktoken`` / ``tokenizer.json`` paths or tokenizer objects. ``on_error``: ``"skip"`` counts
    the other rows and reports the bad ones, ``"fail"`` raises on the first. ``engine``:
    ``"local"`` (default), ``"ray"`` or an engine object (:func:`tokenmill.engines.resolve_engine`).
    ``progress``: a bar on stderr by bytes read (``None``: only when stderr is a terminal).
    """
    from tokenmill.engines import resolve_engine

    specs = [tokenizers] if isinstance(tokenizers, (str, Path)) else list(tokenizers)
    if not specs:
        raise ValueError("at least one tokenizer is needed")
    job = CountJob(specs, text_column, lang_column, on_error=on_error)
    job.setup()  # load every tokenizer here first: a bad name fails before any work starts
    shards = list_shards(dataset, filesystem=filesystem, parquet_shard_rows=shard_rows)
    runner = resolve_engine(engine, address=address)
    with Progress(sum(s.size for s in shards), "counting", unit="bytes", enabled=progress) as bar:
        partial = runner.run(job, shards, progress=bar)
    files = tuple(dict.fromkeys(s.path for s in shards))
    return DatasetCount(_rows(partial, job.names), partial, tuple(job.names), files, runner.name)
