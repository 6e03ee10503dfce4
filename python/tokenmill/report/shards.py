"""The report's counting as a shard job, for :mod:`tokenmill.engines`.

Design notes
------------
The tokenizer-independent work (loading the corpus, dropping empty texts, aligning ids with the
pivot) stays with the caller; what is spread over an engine is the counting. A
:class:`ReportShard` is a run of one language's non-empty texts starting at ``offset`` in that
language's list. :meth:`ReportJob.run` counts it with every tokenizer and returns a
:class:`ReportPartial`: per (tokenizer, language), ``(offset, counts)`` runs.

The report compares sentences id by id (the premium over shared ids, the share of sentences over
2x or 4x the pivot's tokens), so the mergeable state is the per-sentence counts themselves, 8
bytes per sentence against the sentence's text: merging joins disjoint position runs, and the
merged partial is the same whatever the sharding and the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from tokenmill.engines import TokenizerJob

__all__ = ["ReportJob", "ReportPartial", "ReportShard", "report_shards"]

SHARD_TEXTS = 1 << 14  # texts per shard: enough per task, many tasks for a large corpus

Runs = tuple[tuple[int, tuple[int, ...]], ...]


@dataclass(frozen=True)
class ReportShard:
    """``texts`` of ``language``, the first at position ``offset`` of its kept texts."""

    language: str
    texts: tuple[str, ...]
    offset: int = 0


@dataclass(frozen=True)
class ReportPartial:
    """``runs[(tokenizer, language)]``: ``(offset, counts)`` runs of per-sentence counts."""

    runs: Mapping[tuple[str, str], Runs] = field(default_factory=dict)

    def counts(self, tokenizer: str, language: str, n: int) -> npt.NDArray[np.int64]:
        """The ``n`` per-sentence counts of ``language`` under ``tokenizer``, in order."""
        out = np.zeros(n, dtype=np.int64)
        filled = 0
        for offset, counts in self.runs.get((tokenizer, language), ()):
            out[offset : offset + len(counts)] = counts
            filled += len(counts)
        if filled != n:
            raise ValueError(f"{language}: {filled} of {n} sentences counted by {tokenizer!r}")
        return out


def merge_report(a: ReportPartial, b: ReportPartial) -> ReportPartial:
    """Join two partials (associative; runs of one key are kept in position order)."""
    runs = dict(a.runs)
    for key, more in b.runs.items():
        runs[key] = tuple(sorted(runs.get(key, ()) + more))
    return ReportPartial(runs)


def report_shards(kept: Mapping[str, Sequence[str]], size: int = SHARD_TEXTS) -> list[ReportShard]:
    """Every language's kept texts cut into shards of at most ``size`` texts."""
    return [
        ReportShard(lang, tuple(texts[lo : lo + size]), lo)
        for lang, texts in kept.items()
        for lo in range(0, len(texts), size)
    ]


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
        runs: dict[tuple[str, str], Runs] = {}
        for counter, name in zip(self.counters, self.names, strict=True):
            got = np.asarray(counter.count_batch(list(shard.texts)), dtype=np.int64)
            if got.shape != (len(shard.texts),):
                raise ValueError(
                    f"tokenizer {name!r} returned {got.shape} counts for {len(shard.texts)} texts"
                )
            runs[(name, shard.language)] = ((shard.offset, tuple(got.tolist())),)
        return ReportPartial(runs)
