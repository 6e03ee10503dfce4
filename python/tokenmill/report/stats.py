"""Pure statistics for the token-length report.

Design notes
------------
Per language and tokenizer the report summarises the token counts of the language's non-empty
sentences. A text is *empty* when it holds only whitespace; empty texts are counted and reported,
and left out of every statistic (a translation that is missing is not a translation that costs 0).

Definitions (``x`` = tokens per non-empty sentence):

* median: ``numpy.median`` (the mean of the two middle values for an even count);
* p90: ``numpy.percentile(x, 90)`` with linear interpolation between closest ranks (Hyndman & Fan
  type 7, numpy's default): for x = 1..10, p90 = 9.1;
* premium vs the pivot (Petrov et al. 2023): over the ids S that both the language and the pivot
  have, ``sum(x_lang[S]) / sum(x_pivot[S])``. Ids without a pivot counterpart are left out and
  counted (``missing_in_pivot``);
* ratio of medians: ``median(x_lang) / median(x_pivot)``, each over the language's own sentences;
* chars per token and UTF-8 bytes per token: totals over the language's non-empty sentences;
* relative generation time at equal tokens per second: the premium (time is proportional to tokens);
* cost of the same content: the premium times the model's input price per 1M tokens is what content
  that takes 1M pivot tokens costs in this language.

Everything is O(n) in the number of sentences except the medians/percentiles (numpy partition,
O(n) expected). The id alignment is computed once per language and reused for every tokenizer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "Alignment",
    "TextMeasures",
    "TokenStats",
    "align_ids",
    "measure_texts",
    "premium",
    "safe_ratio",
    "shared_premium",
    "summarize_tokens",
]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TextMeasures:
    """Tokenizer-independent facts about one language's texts."""

    keep: npt.NDArray[np.bool_]  # True for non-empty texts, aligned with the input order
    empty: int
    chars: int  # Unicode code points over non-empty texts
    utf8_bytes: int  # UTF-8 bytes over non-empty texts


def measure_texts(texts: Sequence[str]) -> TextMeasures:
    keep = np.fromiter((bool(t.strip()) for t in texts), dtype=np.bool_, count=len(texts))
    kept = [t for t, k in zip(texts, keep.tolist(), strict=True) if k]
    chars = sum(map(len, kept))
    # One join + encode is several times faster than encoding each text; the separator adds
    # nothing because the lengths are summed from a join with the empty string.
    nbytes = len("".join(kept).encode("utf-8"))
    return TextMeasures(
        keep=keep, empty=int(len(texts) - keep.sum()), chars=chars, utf8_bytes=nbytes
    )


@dataclass(frozen=True)
class Alignment:
    """Positions of shared ids: ``lang_index[k]`` and ``pivot_index[k]`` hold the same id."""

    lang_index: IntArray
    pivot_index: IntArray
    missing_in_pivot: int  # this language's (non-empty) ids the pivot lacks


def align_ids(
    ids: Sequence[str],
    pivot_ids: Sequence[str],
    pivot_positions: Mapping[str, int] | None = None,
) -> Alignment:
    """Match ``ids`` against ``pivot_ids`` (both already restricted to non-empty texts).

    ``pivot_positions`` (id -> index in ``pivot_ids``) may be passed to reuse one map for many
    languages; it is built here otherwise. O(len(ids)) dictionary lookups.
    """
    where = pivot_positions
    if where is None:
        where = {id_: i for i, id_ in enumerate(pivot_ids)}
    pos = np.fromiter((where.get(id_, -1) for id_ in ids), dtype=np.int64, count=len(ids))
    found = pos >= 0
    lang_index = np.flatnonzero(found).astype(np.int64)
    return Alignment(
        lang_index=lang_index,
        pivot_index=pos[found],
        missing_in_pivot=len(ids) - int(lang_index.size),
    )


@dataclass(frozen=True)
class TokenStats:
    sentences: int
    total_tokens: int
    median_tokens: float | None
    mean_tokens: float | None
    p90_tokens: float | None


def summarize_tokens(tokens: IntArray) -> TokenStats:
    """Median, mean, p90 and total of per-sentence token counts (``None`` when there are none)."""
    n = int(tokens.size)
    if n == 0:
        return TokenStats(0, 0, None, None, None)
    as_float = tokens.astype(np.float64)
    return TokenStats(
        sentences=n,
        total_tokens=int(tokens.sum()),
        median_tokens=float(np.median(as_float)),
        mean_tokens=float(as_float.mean()),
        p90_tokens=float(np.percentile(as_float, 90)),
    )


def premium(tokens: IntArray, pivot_tokens: IntArray, alignment: Alignment) -> float | None:
    """Petrov et al. 2023 premium: total tokens over the shared ids, language / pivot."""
    if alignment.lang_index.size == 0:
        return None
    return shared_premium(int(tokens[alignment.lang_index].sum()), pivot_tokens, alignment)


def shared_premium(
    shared_tokens: int, pivot_tokens: IntArray, alignment: Alignment
) -> float | None:
    """The premium from the language's token total over its shared ids (a mergeable sum)."""
    if alignment.lang_index.size == 0:
        return None
    return safe_ratio(shared_tokens, int(pivot_tokens[alignment.pivot_index].sum()))


def safe_ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return float(num) / float(den)
