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
* chars per token and UTF-8 bytes per token: totals over the language's non-empty sentences
  (code points and UTF-8 bytes of the text / tokens), the compression view of the same counts;
* fertility (Rust et al. 2021; Ács 2019): tokens per whitespace-delimited word, total tokens over
  the total of ``len(text.split())``, over the non-empty sentences. Only meaningful where the
  script separates words with spaces; the report leaves it empty for the others (Han, kana, Thai,
  Lao, Khmer, Myanmar, Tibetan: ``word_spaces`` in ``languages.json``);
* share of sentences over 2× / 4× the pivot: over the shared ids, the fraction whose token count
  is at least 2 (4) times the pivot's for the same id, the per-sentence tail behind the premium;
* per-script aggregates (:func:`script_aggregates`): per tokenizer and ISO 15924 script, the number
  of languages and the median, minimum and maximum of their premiums;
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
    "ScriptAggregate",
    "TextMeasures",
    "TokenStats",
    "align_ids",
    "exceed_share",
    "measure_texts",
    "premium",
    "safe_ratio",
    "script_aggregates",
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
    words: int = 0  # whitespace-delimited words (``str.split()``) over non-empty texts


def measure_texts(texts: Sequence[str]) -> TextMeasures:
    keep = np.fromiter((bool(t.strip()) for t in texts), dtype=np.bool_, count=len(texts))
    kept = [t for t, k in zip(texts, keep.tolist(), strict=True) if k]
    chars = sum(map(len, kept))
    # One join + encode is several times faster than encoding each text; the separator adds
    # nothing because the lengths are summed from a join with the empty string.
    nbytes = len("".join(kept).encode("utf-8"))
    # Joined with a space, the split counts each text's words once (no word spans two texts).
    words = len(" ".join(kept).split())
    return TextMeasures(
        keep=keep,
        empty=int(len(texts) - keep.sum()),
        chars=chars,
        utf8_bytes=nbytes,
        words=words,
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


def premium_totals(
    tokens: IntArray, pivot_tokens: IntArray, alignment: Alignment
) -> tuple[int, int] | None:
    """The premium as the integers it is the ratio of: total tokens over the shared ids in the
    language and in the pivot (``None`` when no id is shared or the pivot has no tokens)."""
    if alignment.lang_index.size == 0:
        return None
    num = int(tokens[alignment.lang_index].sum())
    den = int(pivot_tokens[alignment.pivot_index].sum())
    return None if den == 0 else (num, den)


def premium(tokens: IntArray, pivot_tokens: IntArray, alignment: Alignment) -> float | None:
    """Petrov et al. 2023 premium: total tokens over the shared ids, language / pivot."""
    totals = premium_totals(tokens, pivot_tokens, alignment)
    return None if totals is None else totals[0] / totals[1]


def safe_ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return float(num) / float(den)


def exceed_share(
    tokens: IntArray, pivot_tokens: IntArray, alignment: Alignment, factor: float
) -> float | None:
    """Fraction of shared ids whose token count is at least ``factor`` × the pivot's."""
    if alignment.lang_index.size == 0:
        return None
    mine = tokens[alignment.lang_index]
    theirs = pivot_tokens[alignment.pivot_index]
    return float(np.count_nonzero(mine >= factor * theirs)) / float(mine.size)


@dataclass(frozen=True)
class ScriptAggregate:
    """One tokenizer × script: how the premiums of the script's languages spread."""

    tokenizer: str
    script: str  # ISO 15924 code, or "?" for languages of unknown script
    script_name: str
    languages: int
    median_premium: float | None
    min_premium: float | None
    max_premium: float | None


def script_aggregates(
    rows: Sequence[tuple[str, str, str, float | None]],
) -> list[ScriptAggregate]:
    """``rows``: ``(tokenizer, script, script_name, premium)`` per language × tokenizer.

    Groups keep the first-seen order of tokenizers; within a tokenizer, scripts are sorted by
    median premium, highest first (scripts without any premium last). The median is numpy's
    (mean of the two middle values for an even count)."""
    groups: dict[tuple[str, str], tuple[str, list[float], list[None]]] = {}
    for tok, script, name, prem in rows:
        entry = groups.setdefault((tok, script), (name, [], []))
        if prem is None:
            entry[2].append(None)
        else:
            entry[1].append(prem)
    out: list[ScriptAggregate] = []
    for (tok, script), (name, values, nones) in groups.items():
        arr = np.asarray(values, dtype=np.float64)
        out.append(
            ScriptAggregate(
                tokenizer=tok,
                script=script,
                script_name=name,
                languages=len(values) + len(nones),
                median_premium=float(np.median(arr)) if arr.size else None,
                min_premium=float(arr.min()) if arr.size else None,
                max_premium=float(arr.max()) if arr.size else None,
            )
        )
    order = {tok: i for i, tok in enumerate(dict.fromkeys(r[0] for r in rows))}
    out.sort(
        key=lambda a: (
            order[a.tokenizer],
            a.median_premium is None,
            -(a.median_premium or 0.0),
            a.script,
        )
    )
    return out
