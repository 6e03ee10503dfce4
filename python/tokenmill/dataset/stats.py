"""Exactly mergeable token statistics: an exact histogram of tokens per document, and tallies.

Design notes
------------
Token counts are integers, so the distribution of tokens per document is kept exactly as a
histogram ``{tokens: documents}``. Merging two histograms adds their counts, which is associative
and commutative, so shards can be counted anywhere and combined in any grouping: the merged
histogram equals the histogram of all documents, and every quantile read from it equals the
quantile of the full list of counts (not an approximation, unlike t-digest or KLL sketches).
Its size is the number of distinct counts (a few thousand for real corpora), not the number of
documents. Sums (documents, tokens, UTF-8 bytes, characters) merge by addition.

Quantiles are the inverted empirical CDF (numpy's ``method="inverted_cdf"``, Hyndman & Fan type
1): the smallest count ``v`` such that at least ``q`` of the documents have ``<= v`` tokens, so
each reported quantile is a real document's count. :meth:`TokenHistogram.to_array` rebuilds the
sorted multiset for callers that need other definitions (the language report's median and p90).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Tally", "TokenHistogram"]


def _frozen(items: Iterable[tuple[int, int]]) -> Mapping[int, int]:
    return dict(sorted(items))


@dataclass(frozen=True, eq=True)
class TokenHistogram:
    """Documents per token count, sorted by count; ``TokenHistogram()`` is the merge identity."""

    counts: Mapping[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, tokens: npt.NDArray[np.int64]) -> TokenHistogram:
        """The histogram of an array of per-document token counts."""
        values, counts = np.unique(np.asarray(tokens, dtype=np.int64), return_counts=True)
        return cls(_frozen(zip(values.tolist(), counts.tolist(), strict=True)))

    def merge(self, other: TokenHistogram) -> TokenHistogram:
        if not other.counts:
            return self
        if not self.counts:
            return other
        out = dict(self.counts)
        for value, n in other.counts.items():
            out[value] = out.get(value, 0) + n
        return TokenHistogram(_frozen(out.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenHistogram) and dict(self.counts) == dict(other.counts)

    def __hash__(self) -> int:
        return hash(tuple(self.counts.items()))

    @property
    def documents(self) -> int:
        return sum(self.counts.values())

    @property
    def max(self) -> int | None:
        return max(self.counts) if self.counts else None

    def quantile(self, q: float) -> int | None:
        """The smallest count ``v`` with ``#(docs <= v) >= q * docs`` (``None`` when empty)."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be in [0, 1], got {q}")
        n = self.documents
        if n == 0:
            return None
        # numpy's inverted_cdf: the first value whose cumulative count reaches ceil(q * n),
        # and the smallest value for q = 0
        rank = max(math.ceil(q * n), 1)
        seen = 0
        for value, k in self.counts.items():
            seen += k
            if seen >= rank:
                return value
        return max(self.counts)  # pragma: no cover - rank <= n always stops the loop

    def to_array(self) -> npt.NDArray[np.int64]:
        """The sorted per-document counts this histogram was built from."""
        if not self.counts:
            return np.zeros(0, dtype=np.int64)
        values = np.fromiter(self.counts.keys(), dtype=np.int64, count=len(self.counts))
        counts = np.fromiter(self.counts.values(), dtype=np.int64, count=len(self.counts))
        return np.repeat(values, counts)

    def to_dict(self) -> dict[str, int]:
        return {str(k): v for k, v in self.counts.items()}


@dataclass(frozen=True)
class Tally:
    """Sums over a set of documents plus their exact token histogram; ``Tally()`` is the
    merge identity."""

    documents: int = 0
    tokens: int = 0
    bytes: int = 0
    characters: int = 0
    histogram: TokenHistogram = field(default_factory=TokenHistogram)

    def merge(self, other: Tally) -> Tally:
        return Tally(
            self.documents + other.documents,
            self.tokens + other.tokens,
            self.bytes + other.bytes,
            self.characters + other.characters,
            self.histogram.merge(other.histogram),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "tokens": self.tokens,
            "bytes": self.bytes,
            "characters": self.characters,
            "histogram": self.histogram.to_dict(),
        }
