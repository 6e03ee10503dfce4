"""The report's counting as a shard job: exactly mergeable per-language statistics.

Design notes
------------
The tokenizer-independent work (loading the corpus, dropping empty texts, aligning ids with the
pivot) stays on the caller's side; what is spread over an engine is the counting. A
:class:`ReportShard` is a slice of one language's non-empty texts with, per text, whether its id
also exists in the pivot. :meth:`ReportJob.run` counts it with every tokenizer and returns a
:class:`ReportPartial`:

* per (tokenizer, language): the exact histogram of tokens per sentence (median, mean, p90 and
  total are functions of it: :meth:`TokenHistogram.to_array` rebuilds the sorted counts) and the
  token total over the ids shared with the pivot (the premium's numerator);
* per tokenizer: the pivot's per-sentence counts by position, so that the denominator of each
  language's premium (the pivot's tokens over that language's shared ids) is an exact sum.

Merging adds histograms and totals and concatenates the pivot's disjoint position ranges, so the
merged partial is the same whatever the sharding and the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from tokenmill.dataset.stats import TokenHistogram
from tokenmill.engines import TokenizerJob

__all__ = ["LanguageTally", "ReportJob", "ReportPartial", "ReportShard", "report_shards"]

SHARD_TEXTS = 1 << 14  # texts per shard: enough per task, many tasks for a large corpus


@dataclass(frozen=True)
class ReportShard:
    """Texts ``texts`` of ``language``; ``shared[i]``: the id of ``texts[i]`` is in the pivot;
    ``pivot_offset``: for the pivot language, the position of ``texts[0]`` among its texts."""

    language: str
    texts: tuple[str, ...]
    shared: tuple[bool, ...]
    pivot_offset: int | None = None


@dataclass(frozen=True)
class LanguageTally:
    """One language under one tokenizer: the exact histogram and the shared-id token total."""

    histogram: TokenHistogram = field(default_factory=TokenHistogram)
    shared_tokens: int = 0

    def merge(self, other: LanguageTally) -> LanguageTally:
        return LanguageTally(
            self.histogram.merge(other.histogram), self.shared_tokens + other.shared_tokens
        )


@dataclass(frozen=True)
class ReportPartial:
    """``tallies[(tokenizer, language)]`` and the pivot's counts ``pivot[tokenizer]`` as
    ``(offset, counts)`` ranges."""

    tallies: Mapping[tuple[str, str], LanguageTally] = field(default_factory=dict)
    pivot: Mapping[str, tuple[tuple[int, tuple[int, ...]], ...]] = field(default_factory=dict)

    def pivot_counts(self, tokenizer: str, n: int) -> npt.NDArray[np.int64]:
        """The pivot's ``n`` per-sentence counts under ``tokenizer``, in position order."""
        out = np.zeros(n, dtype=np.int64)
        for offset, counts in self.pivot.get(tokenizer, ()):
            out[offset : offset + len(counts)] = counts
        return out


def merge_report(a: ReportPartial, b: ReportPartial) -> ReportPartial:
    tallies = dict(a.tallies)
    for key, t in b.tallies.items():
        tallies[key] = tallies[key].merge(t) if key in tallies else t
    pivot = dict(a.pivot)
    for tok, ranges in b.pivot.items():
        pivot[tok] = tuple(sorted(pivot.get(tok, ()) + ranges))
    return ReportPartial(dict(tallies), dict(pivot))


def report_shards(
    kept: Mapping[str, Sequence[str]],
    shared: Mapping[str, npt.NDArray[np.bool_]],
    pivot: str,
    size: int = SHARD_TEXTS,
) -> list[ReportShard]:
    """Every language's kept texts cut into shards of at most ``size`` texts."""
    out = []
    for lang, texts in kept.items():
        flags = shared[lang].tolist()
        for lo in range(0, len(texts), size):
            out.append(
                ReportShard(
                    lang,
                    tuple(texts[lo : lo + size]),
                    tuple(flags[lo : lo + size]),
                    lo if lang == pivot else None,
                )
            )
    return out


class ReportJob(TokenizerJob):
    """Count report shards with every tokenizer (see :mod:`tokenmill.engines`)."""

    def __init__(
        self, tokenizers: Sequence[Any], names: Sequence[str], counters: Sequence[Any] = ()
    ) -> None:
        super().__init__(tokenizers, counters)
        self.names = list(names)

    def empty(self) -> ReportPartial:
        return ReportPartial()

    def merge(self, a: ReportPartial, b: ReportPartial) -> ReportPartial:
        return merge_report(a, b)

    def weight(self, shard: ReportShard) -> int:
        return len(shard.texts) * len(self.names)

    def run(self, shard: ReportShard) -> ReportPartial:
        tallies: dict[tuple[str, str], LanguageTally] = {}
        pivot: dict[str, tuple[tuple[int, tuple[int, ...]], ...]] = {}
        shared = np.asarray(shard.shared, dtype=np.bool_)
        for counter, name in zip(self.counters, self.names, strict=True):
            got = np.asarray(counter.count_batch(list(shard.texts)), dtype=np.int64)
            if got.shape != (len(shard.texts),):
                raise ValueError(
                    f"tokenizer {name!r} returned {got.shape} counts for {len(shard.texts)} texts"
                )
            tallies[(name, shard.language)] = LanguageTally(
                TokenHistogram.of(got), int(got[shared].sum())
            )
            if shard.pivot_offset is not None:
                pivot[name] = ((shard.pivot_offset, tuple(got.tolist())),)
        return ReportPartial(dict(tallies), dict(pivot))
