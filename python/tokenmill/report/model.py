"""The report itself: count every language with every tokenizer, then summarise.

Design notes
------------
``token_length_report`` is the one entry point. Steps, each a pure function of its inputs:

1. load the corpus (or take a :class:`~tokenmill.report.corpus.Corpus`) and keep the requested
   languages plus the pivot;
2. per language, drop empty texts (counted) and align the remaining ids with the pivot's (once,
   reused for every tokenizer);
3. count every language's texts with every tokenizer as a shard job on an engine (this process,
   or Ray: :mod:`tokenmill.report.shards`): per language an exact histogram of tokens per
   sentence and its token total over the ids shared with the pivot, plus the pivot's counts;
4. summarise with :mod:`tokenmill.report.stats` (median, mean, p90 from the histogram's sorted
   counts; the premium from the shared totals) and attach names, context columns and prices.

Cost is O(total text) per tokenizer for counting plus O(sentences) for the statistics. The result,
:class:`Report`, is frozen: rows sorted by tokenizer (in the order given) then premium, descending.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from tokenmill._progress import Progress
from tokenmill.counting import resolve_tokenizer, unique_names
from tokenmill.engines import resolve_engine
from tokenmill.report.corpus import MASSIVE_TO_FLORES, Corpus, load_corpus
from tokenmill.report.languages import LanguageInfo, language_info, language_limits
from tokenmill.report.shards import LanguageTally, ReportJob, report_shards
from tokenmill.report.stats import (
    Alignment,
    TextMeasures,
    align_ids,
    measure_texts,
    safe_ratio,
    shared_premium,
    summarize_tokens,
)

__all__ = ["DEFAULT_TOKENIZERS", "ModelPricing", "Report", "ReportRow", "token_length_report"]

#: The encodings a report compares when none are named.
DEFAULT_TOKENIZERS = ("cl100k_base", "o200k_base")


@dataclass(frozen=True)
class ModelPricing:
    """A model's list prices in USD per 1M tokens, as the cost module gives them."""

    model: str
    input_per_1m: float
    output_per_1m: float | None = None
    source: str = ""
    as_of: str | None = None


def resolve_pricing(model: str) -> ModelPricing:
    """Look ``model`` up in the bundled price catalogue (:func:`tokenmill.load_catalogue`)."""
    from tokenmill.cost.catalogue import load_catalogue

    price = load_catalogue().get(model)
    return ModelPricing(
        model=price.name,
        input_per_1m=float(price.input),
        output_per_1m=None if price.output is None else float(price.output),
        source=price.source,
        as_of=price.as_of,
    )


@dataclass(frozen=True)
class ReportRow:
    """One language × tokenizer. Token statistics are over the language's non-empty sentences."""

    language: str
    name: str
    tokenizer: str
    sentences: int
    empty_texts: int
    median_tokens: float | None
    mean_tokens: float | None
    p90_tokens: float | None
    total_tokens: int
    premium: float | None
    shared_ids: int
    missing_in_pivot: int
    median_ratio: float | None
    chars_per_token: float | None
    bytes_per_token: float | None
    relative_time: float | None
    input_cost_usd: float | None
    input_cost_per_1m_pivot_usd: float | None
    output_cost_per_1m_pivot_usd: float | None
    common_crawl_pct: float | None
    population_pct: float | None
    crawl_to_population: float | None


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ReportRow))


@dataclass(frozen=True)
class Report:
    """The token-length report: rows plus what they were computed from."""

    entries: tuple[ReportRow, ...]
    pivot: str
    tokenizers: tuple[str, ...]
    corpus_name: str
    corpus_layout: str
    corpus_is_sample: bool
    corpus_source: str
    n_languages: int
    n_ids: int
    pricing: ModelPricing | None = None
    warnings: tuple[str, ...] = ()
    context_limits: str | None = None

    @staticmethod
    def columns() -> tuple[str, ...]:
        return COLUMNS

    def rows(self) -> list[tuple[Any, ...]]:
        """One tuple per language × tokenizer, in :meth:`columns` order."""
        return [tuple(getattr(r, c) for c in COLUMNS) for r in self.entries]

    def to_dicts(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.entries]

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` of :meth:`to_dicts` (needs pandas installed)."""
        try:
            pd: Any = importlib.import_module("pandas")
        except ImportError:
            raise ImportError("Report.to_pandas needs pandas: pip install pandas") from None
        return pd.DataFrame(self.to_dicts(), columns=list(COLUMNS))

    def for_tokenizer(self, tokenizer: str) -> tuple[ReportRow, ...]:
        return tuple(r for r in self.entries if r.tokenizer == tokenizer)

    def languages_by_premium(self) -> list[str]:
        """Languages, highest premium first under the first tokenizer."""
        first = self.for_tokenizer(self.tokenizers[0]) if self.tokenizers else ()
        return [r.language for r in first]

    def metadata(self) -> dict[str, Any]:
        return {
            "corpus": self.corpus_name,
            "corpus_layout": self.corpus_layout,
            "corpus_is_sample": self.corpus_is_sample,
            "corpus_source": self.corpus_source,
            "languages": self.n_languages,
            "ids": self.n_ids,
            "pivot": self.pivot,
            "tokenizers": list(self.tokenizers),
            "pricing": None if self.pricing is None else asdict(self.pricing),
            "warnings": list(self.warnings),
            "context_limits": self.context_limits,
        }


def _premium_key(row: ReportRow) -> float:
    return -math.inf if row.premium is None else row.premium


def token_length_report(
    corpus: Corpus | str | Path | None = None,
    tokenizers: object = DEFAULT_TOKENIZERS,
    pivot: str = "eng_Latn",
    model: str | ModelPricing | None = None,
    languages: Iterable[str] | None = None,
    *,
    split: str | None = None,
    progress: bool | None = None,
    info: dict[str, LanguageInfo] | None = None,
    engine: Any = None,
    address: str | None = None,
) -> Report:
    """Tokens per sentence, premium vs ``pivot`` and cost per language for each tokenizer.

    ``corpus``: ``None`` (the built-in sample), a path (see :func:`load_corpus`) or a
    :class:`Corpus`. ``tokenizers``: bundled encoding names, ``.tiktoken`` / ``tokenizer.json``
    paths, tokenmill encodings, or any object with ``encode`` (tiktoken, HF ``tokenizers``).
    ``model``: a catalogue name (or :class:`ModelPricing`) for the cost columns. ``progress``:
    ``None`` shows a bar on stderr for large corpora when it is a terminal. ``engine``:
    ``"local"`` (default) or ``"ray"`` (``address``: the cluster), see
    :func:`tokenmill.engines.resolve_engine`; the corpus is loaded here and its counting is
    spread over the engine (:mod:`tokenmill.report.shards`), with identical results.
    """
    corp = corpus if isinstance(corpus, Corpus) else load_corpus(corpus, split=split)
    pivot = _resolve_code(pivot, corp)
    if pivot not in corp.languages:
        have = ", ".join(sorted(corp.languages))
        raise ValueError(f"pivot language {pivot!r} is not in the corpus (it has: {have})")
    if isinstance(languages, str):
        languages = [languages]
    if languages is not None:
        wanted = list(dict.fromkeys(_resolve_code(code, corp) for code in languages))
        corp = corp.select(wanted if pivot in wanted else [pivot, *wanted])
    pricing = resolve_pricing(model) if isinstance(model, str) else model
    single = isinstance(tokenizers, (str, Path)) or any(
        hasattr(tokenizers, attr) for attr in ("encode", "count_batch")
    )
    specs = list((tokenizers,) if single else cast(Iterable[object], tokenizers))
    counters = [resolve_tokenizer(t) for t in specs]
    if not counters:
        raise ValueError("at least one tokenizer is needed")
    names = unique_names([c.name for c in counters])
    meta = dict(language_info()) if info is None else info

    # Tokenizer-independent work, once per language.
    kept: dict[str, list[str]] = {}
    kept_ids: dict[str, list[str]] = {}
    measures: dict[str, TextMeasures] = {}
    for lang, lt in corp.languages.items():
        m = measure_texts(lt.texts)
        measures[lang] = m
        mask = m.keep.tolist()
        kept[lang] = [t for t, k in zip(lt.texts, mask, strict=True) if k]
        kept_ids[lang] = [i for i, k in zip(lt.ids, mask, strict=True) if k]
    where = {id_: i for i, id_ in enumerate(kept_ids[pivot])}
    alignments = {
        lang: align_ids(kept_ids[lang], kept_ids[pivot], where) for lang in corp.languages
    }

    warnings: list[str] = []
    for lang, m in measures.items():
        if m.empty:
            warnings.append(
                f"{lang}: {m.empty} empty text(s) counted and left out of the statistics"
            )
    for lang, al in alignments.items():
        if lang != pivot and al.missing_in_pivot:
            warnings.append(
                f"{lang}: {al.missing_in_pivot} id(s) have no {pivot} counterpart;"
                " left out of the premium"
            )
        if lang != pivot and al.lang_index.size == 0 and kept_ids[lang]:
            warnings.append(f"{lang}: no id in common with {pivot}; premium undefined")
    warnings.extend(corp.notes)

    total_work = sum(len(t) for t in kept.values()) * len(counters)
    show = progress if progress is not None else (None if total_work >= 200_000 else False)
    rows: list[ReportRow] = []
    shared = {}
    for lang, al in alignments.items():
        shared[lang] = np.zeros(len(kept[lang]), dtype=np.bool_)
        shared[lang][al.lang_index] = True
    job = ReportJob(specs, names, counters)
    with Progress(total_work, "counting", enabled=show) as bar:
        runner = resolve_engine(engine, address=address)
        partial = runner.run(job, report_shards(kept, shared, pivot), progress=bar)
    for tok_name in names:
        pivot_counts = partial.pivot_counts(tok_name, len(kept[pivot]))
        pivot_stats = summarize_tokens(pivot_counts)
        tok_rows = []
        for lang in corp.languages:
            tally = partial.tallies.get((tok_name, lang), LanguageTally())
            tok_rows.append(
                _row(
                    lang,
                    tok_name,
                    tally.histogram.to_array(),
                    shared_premium(tally.shared_tokens, pivot_counts, alignments[lang]),
                    measures[lang],
                    alignments[lang],
                    pivot_stats.median_tokens,
                    pricing,
                    meta.get(lang),
                )
            )
        tok_rows.sort(key=_premium_key, reverse=True)
        rows.extend(tok_rows)

    return Report(
        entries=tuple(rows),
        pivot=pivot,
        tokenizers=tuple(names),
        corpus_name=corp.name,
        corpus_layout=corp.layout,
        corpus_is_sample=corp.is_sample,
        corpus_source=corp.source,
        n_languages=len(corp.languages),
        n_ids=corp.n_ids,
        pricing=pricing,
        warnings=tuple(warnings),
        context_limits=language_limits() if info is None else None,
    )


def _resolve_code(code: str, corpus: Corpus) -> str:
    """Accept a MASSIVE locale (``hi-IN``) where the corpus uses its FLORES code."""
    if code in corpus.languages:
        return code
    mapped = MASSIVE_TO_FLORES.get(code)
    if mapped is not None and mapped in corpus.languages:
        return mapped
    return code


def _row(
    lang: str,
    tok_name: str,
    tokens: npt.NDArray[np.int64],
    prem: float | None,
    measures: TextMeasures,
    alignment: Alignment,
    pivot_median: float | None,
    pricing: ModelPricing | None,
    li: LanguageInfo | None,
) -> ReportRow:
    st = summarize_tokens(tokens)
    total = st.total_tokens
    price_in = None if pricing is None else pricing.input_per_1m
    price_out = None if pricing is None else pricing.output_per_1m
    return ReportRow(
        language=lang,
        name=li.name if li is not None else lang,
        tokenizer=tok_name,
        sentences=st.sentences,
        empty_texts=measures.empty,
        median_tokens=st.median_tokens,
        mean_tokens=st.mean_tokens,
        p90_tokens=st.p90_tokens,
        total_tokens=total,
        premium=prem,
        shared_ids=int(alignment.lang_index.size),
        missing_in_pivot=alignment.missing_in_pivot,
        median_ratio=safe_ratio(st.median_tokens, pivot_median),
        chars_per_token=safe_ratio(measures.chars, total),
        bytes_per_token=safe_ratio(measures.utf8_bytes, total),
        relative_time=prem,
        input_cost_usd=None if price_in is None else total * price_in / 1e6,
        input_cost_per_1m_pivot_usd=None if price_in is None or prem is None else prem * price_in,
        output_cost_per_1m_pivot_usd=(
            None if price_out is None or prem is None else prem * price_out
        ),
        common_crawl_pct=None if li is None else li.common_crawl_pct,
        population_pct=None if li is None else li.population_pct,
        crawl_to_population=None if li is None else li.crawl_to_population,
    )
