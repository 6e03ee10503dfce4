"""The report itself: count every language with every tokenizer, then summarise.

Design notes
------------
``token_length_report`` is the one entry point. Steps, each a pure function of its inputs:

1. load the corpus (or take a :class:`~tokenmill.report.corpus.Corpus`) and keep the requested
   languages plus the pivot;
2. per language, drop empty texts (counted) and align the remaining ids with the pivot's (once,
   reused for every tokenizer);
3. count every language's texts with every tokenizer through ``count_batch`` (tokenmill
   encodings: the Rust batch path on all cores of the bounded pool) as a shard job on an engine:
   this process, or Ray (:mod:`tokenmill.report.shards`), with identical per-sentence counts;
4. summarise with :mod:`tokenmill.report.stats` and attach names, context columns and prices.

Cost is O(total text) per tokenizer for counting plus O(sentences) for the statistics. The result,
:class:`Report`, is frozen: rows sorted by tokenizer (in the order given) then premium, descending.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from tokenmill._progress import Progress
from tokenmill.counting import resolve_tokenizer, unique_names
from tokenmill.engines import resolve_engine
from tokenmill.report.corpus import MASSIVE_TO_FLORES, Corpus, load_corpus
from tokenmill.report.languages import LanguageInfo, describe, language_limits
from tokenmill.report.shards import ReportJob, report_shards
from tokenmill.report.stats import (
    Alignment,
    ScriptAggregate,
    TextMeasures,
    align_ids,
    exceed_share,
    measure_texts,
    premium,
    premium_totals,
    safe_ratio,
    script_aggregates,
    summarize_tokens,
)

__all__ = ["DEFAULT_TOKENIZERS", "ModelPricing", "Report", "ReportRow", "token_length_report"]

#: The encodings a report compares when none are named.
DEFAULT_TOKENIZERS = ("cl100k_base", "o200k_base")


@dataclass(frozen=True)
class ModelPricing:
    """A model's list prices in USD per 1M tokens, exact ``Decimal`` as the cost module gives them.

    A float or int given here is read as its shortest decimal form (``0.15`` is ``Decimal("0.15")``,
    not the binary value), and every price is checked as the catalogue checks it (finite, >= 0,
    plausible): :func:`tokenmill.cost.catalogue.parse_price`."""

    model: str
    input_per_1m: Decimal
    output_per_1m: Decimal | None = None
    source: str = ""
    as_of: str | None = None

    def __post_init__(self) -> None:
        from tokenmill.cost.catalogue import parse_price

        price_in = parse_price(self.input_per_1m, f"{self.model}: input price")
        if price_in is None:
            raise ValueError(f"{self.model}: the input price is needed")
        object.__setattr__(self, "input_per_1m", price_in)
        out = parse_price(self.output_per_1m, f"{self.model}: output price")
        object.__setattr__(self, "output_per_1m", out)


def resolve_pricing(model: str) -> ModelPricing:
    """Look ``model`` up in the bundled price catalogue (:func:`tokenmill.load_catalogue`)."""
    from tokenmill.cost.catalogue import load_catalogue

    price = load_catalogue().get(model)
    if price.input is None:
        raise ValueError(f"{price.name}: the catalogue has no input price")
    return ModelPricing(
        model=price.name,
        input_per_1m=price.input,
        output_per_1m=price.output,
        source=price.source,
        as_of=price.as_of,
    )


def _cost(tokens: int, price_per_1m: Decimal) -> Decimal:
    """``tokens`` at ``price_per_1m``, in :data:`~tokenmill.cost.catalogue.MONEY` (exact: the
    product of an integer and a price has far fewer than 50 digits)."""
    from tokenmill.cost.catalogue import MILLION, MONEY

    return MONEY.divide(MONEY.multiply(Decimal(tokens), price_per_1m), MILLION)


PIVOT_COST_DIGITS = 12
"""Per-1M-pivot costs are ratios, so most have no finite decimal form: they are rounded half-even
to this many decimal places of a dollar (a millionth of a millionth)."""


def _pivot_cost(totals: tuple[int, int] | None, price_per_1m: Decimal | None) -> Decimal | None:
    """What content that takes 1M pivot tokens costs in this language: the price times the premium
    ``num / den``, computed as an exact fraction (no float enters) and rounded once, half-even, to
    :data:`PIVOT_COST_DIGITS` decimal places."""
    if totals is None or price_per_1m is None:
        return None
    num, den = totals
    scaled = Fraction(price_per_1m) * num * 10**PIVOT_COST_DIGITS / den
    return Decimal(round(scaled)).scaleb(-PIVOT_COST_DIGITS)


@dataclass(frozen=True)
class ReportRow:
    """One language × tokenizer. Token statistics are over the language's non-empty sentences.

    ``language`` is the normalised code (FLORES-200 where one is known), ``corpus_code`` the code
    the corpus itself uses (MASSIVE's ``hi-IN``; the same as ``language`` elsewhere); ``name`` is
    the English name, or the code when the language is not in ``languages.json``; ``script`` the
    ISO 15924 code and ``family`` the top-level Glottolog family (``None`` when unknown). Metric
    definitions: :mod:`tokenmill.report.stats`."""

    language: str
    corpus_code: str
    name: str
    script: str | None
    family: str | None
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
    fertility: float | None  # tokens per whitespace word; None where words are not space-separated
    share_over_2x: float | None  # fraction of shared ids with >= 2x the pivot's tokens
    share_over_4x: float | None
    relative_time: float | None
    input_cost_usd: Decimal | None  # money is exact Decimal (MONEY context), never a float
    input_cost_per_1m_pivot_usd: Decimal | None
    output_cost_per_1m_pivot_usd: Decimal | None
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

    def by_script(self) -> list[ScriptAggregate]:
        """Per tokenizer and script: languages and the median / min / max premium.

        The pivot is left out (its premium is 1 by definition)."""
        names = self.script_names()
        return script_aggregates(
            [
                (r.tokenizer, r.script or "?", names.get(r.script or "?", "unknown"), r.premium)
                for r in self.entries
                if r.language != self.pivot
            ]
        )

    def script_names(self) -> dict[str, str]:
        """Script code -> English name for the scripts in this report (``?``: unknown)."""
        from tokenmill.report.languages import script_names

        table = script_names()
        out = {"?": "unknown"}
        for r in self.entries:
            if r.script is not None:
                out[r.script] = table.get(r.script, r.script)
        return out

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
    info: Mapping[str, LanguageInfo] | None = None,
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
    :func:`tokenmill.engines.resolve_engine`; the corpus is loaded here and only its counting is
    spread over the engine.
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
    items = (tokenizers,) if single else cast(Iterable[object], tokenizers)
    specs = list(items)
    counters = [resolve_tokenizer(t) for t in specs]
    if not counters:
        raise ValueError("at least one tokenizer is needed")
    names = unique_names([c.name for c in counters])

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
    with Progress(total_work, "counting", enabled=show) as bar:
        runner = resolve_engine(engine, address=address)
        partial = runner.run(ReportJob(specs, names, counters), report_shards(kept), progress=bar)
    for tok_name in names:
        counts = {lang: partial.counts(tok_name, lang, len(kept[lang])) for lang in kept}
        pivot_stats = summarize_tokens(counts[pivot])
        tok_rows = [
            _row(
                lang,
                tok_name,
                counts,
                pivot,
                measures[lang],
                alignments[lang],
                pivot_stats.median_tokens,
                pricing,
                describe(lang, info),
                corp.corpus_code(lang),
            )
            for lang in corp.languages
        ]
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
    counts: dict[str, npt.NDArray[np.int64]],
    pivot: str,
    measures: TextMeasures,
    alignment: Alignment,
    pivot_median: float | None,
    pricing: ModelPricing | None,
    li: LanguageInfo,
    corpus_code: str,
) -> ReportRow:
    tokens = counts[lang]
    st = summarize_tokens(tokens)
    prem = premium(tokens, counts[pivot], alignment)
    totals = premium_totals(tokens, counts[pivot], alignment)
    total = st.total_tokens
    price_in = None if pricing is None else pricing.input_per_1m
    price_out = None if pricing is None else pricing.output_per_1m
    pivot_tokens = counts[pivot]
    return ReportRow(
        language=lang,
        corpus_code=corpus_code,
        name=li.name,
        script=li.script,
        family=li.family,
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
        fertility=safe_ratio(total, measures.words) if li.word_spaces else None,
        share_over_2x=exceed_share(tokens, pivot_tokens, alignment, 2.0),
        share_over_4x=exceed_share(tokens, pivot_tokens, alignment, 4.0),
        relative_time=prem,
        input_cost_usd=None if price_in is None else _cost(total, price_in),
        input_cost_per_1m_pivot_usd=_pivot_cost(totals, price_in),
        output_cost_per_1m_pivot_usd=_pivot_cost(totals, price_out),
        common_crawl_pct=li.common_crawl_pct,
        population_pct=li.population_pct,
        crawl_to_population=li.crawl_to_population,
    )
