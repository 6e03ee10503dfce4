"""Report statistics against values computed by hand on tiny corpora (word-count tokenizer)."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from report_counters import CharCounter, WordCounter
from tokenmill.report.corpus import Corpus
from tokenmill.report.model import ModelPricing, token_length_report
from tokenmill.report.stats import align_ids, measure_texts, premium, summarize_tokens


def tiny() -> Corpus:
    return Corpus.from_rows(
        [
            ("eng_Latn", "s1", "a b"),
            ("eng_Latn", "s2", "a b c d"),
            ("eng_Latn", "s3", "a"),
            ("eng_Latn", "s4", ""),
            ("xyz_Test", "s1", "é é é é"),
            ("xyz_Test", "s2", "a b c d e f g h"),
            ("xyz_Test", "s3", "   "),
            ("xyz_Test", "s5", "a b c"),
        ],
        name="tiny",
    )


def _row(report, lang: str, tok: str = "words"):  # type: ignore[no-untyped-def]
    (row,) = [r for r in report.entries if r.language == lang and r.tokenizer == tok]
    return row


def test_hand_computed_statistics() -> None:
    rep = token_length_report(tiny(), tokenizers=[WordCounter()], info={})
    x = _row(rep, "xyz_Test")
    # non-empty xyz sentences: s1 = 4, s2 = 8, s5 = 3 tokens
    assert x.sentences == 3
    assert x.empty_texts == 1
    assert x.total_tokens == 15
    assert x.median_tokens == 4.0
    assert x.mean_tokens == 5.0
    # p90 of [3, 4, 8], linear between ranks: position 0.9 * 2 = 1.8 -> 4 + 0.8 * (8 - 4)
    assert x.p90_tokens == pytest.approx(7.2)
    # premium over shared non-empty ids s1, s2 only: (4 + 8) / (2 + 4)
    assert x.premium == pytest.approx(2.0)
    assert x.relative_time == pytest.approx(2.0)
    assert x.shared_ids == 2
    assert x.missing_in_pivot == 1
    # medians: xyz 4 over eng median([2, 4, 1]) = 2
    assert x.median_ratio == pytest.approx(2.0)
    # chars: 7 + 15 + 5 = 27; UTF-8 bytes: 11 + 15 + 5 = 31 ("é" is two bytes)
    assert x.chars_per_token == pytest.approx(27 / 15)
    assert x.bytes_per_token == pytest.approx(31 / 15)
    e = _row(rep, "eng_Latn")
    assert (e.sentences, e.empty_texts, e.total_tokens, e.premium) == (3, 1, 7, 1.0)
    assert e.median_tokens == 2.0


def test_premium_only_over_shared_ids() -> None:
    # Sentence s9 exists only in xyz and is huge; it must not move the premium.
    rows = [
        ("eng_Latn", "s1", "a b"),
        ("eng_Latn", "s2", "a b c"),
        ("eng_Latn", "s7", "a b c d e f"),  # only in the pivot: also ignored
        ("xyz_Test", "s1", "a b c d"),
        ("xyz_Test", "s2", "a b c d e f"),
        ("xyz_Test", "s9", " ".join(["w"] * 100)),
    ]
    rep = token_length_report(Corpus.from_rows(rows), tokenizers=[WordCounter()], info={})
    x = _row(rep, "xyz_Test")
    assert x.premium == pytest.approx((4 + 6) / (2 + 3))
    assert x.total_tokens == 110
    assert x.missing_in_pivot == 1
    assert any("xyz_Test: 1 id(s) have no eng_Latn counterpart" in w for w in rep.warnings)


def test_warnings_count_empty_and_missing() -> None:
    rep = token_length_report(tiny(), tokenizers=[WordCounter()], info={})
    assert "eng_Latn: 1 empty text(s) counted and left out of the statistics" in rep.warnings
    assert "xyz_Test: 1 empty text(s) counted and left out of the statistics" in rep.warnings
    assert "xyz_Test: 1 id(s) have no eng_Latn counterpart; left out of the premium" in rep.warnings


def test_cost_columns_from_pricing() -> None:
    # floats are accepted at run time and read by their shortest decimal form
    pricing = ModelPricing(model="m", input_per_1m=2.0, output_per_1m=8.0)  # type: ignore[arg-type]
    assert pricing.input_per_1m == Decimal("2.0") and pricing.output_per_1m == Decimal("8.0")
    rep = token_length_report(tiny(), tokenizers=[WordCounter()], model=pricing, info={})
    x = _row(rep, "xyz_Test")
    assert x.input_cost_usd == Decimal("0.00003")  # 15 tokens at $2 per 1M
    assert x.input_cost_per_1m_pivot_usd == Decimal(4)
    assert x.output_cost_per_1m_pivot_usd == Decimal(16)
    no_price = token_length_report(tiny(), tokenizers=[WordCounter()], info={})
    assert _row(no_price, "xyz_Test").input_cost_usd is None


def test_cost_through_catalogue() -> None:
    from tokenmill.cost import load_catalogue

    price = load_catalogue().get("gpt-4o")
    rep = token_length_report(tiny(), tokenizers=[WordCounter()], model="gpt-4o", info={})
    assert rep.pricing is not None
    assert rep.pricing.input_per_1m == price.input
    x = _row(rep, "xyz_Test")
    assert price.input is not None
    assert x.input_cost_per_1m_pivot_usd == 2 * price.input


@pytest.mark.parametrize("bad", [float("inf"), -1.0, "1e400000000", [1]])
def test_model_pricing_refuses_what_the_catalogue_refuses(bad: object) -> None:
    with pytest.raises((ValueError, TypeError), match="price"):
        ModelPricing("m", bad)  # type: ignore[arg-type]


def test_unknown_model_is_an_error() -> None:
    with pytest.raises(ValueError, match="no-such-model"):
        token_length_report(tiny(), tokenizers=[WordCounter()], model="no-such-model", info={})


def test_rows_sorted_by_premium_per_tokenizer_and_pivot_selectable() -> None:
    rep = token_length_report(tiny(), tokenizers=[WordCounter(), CharCounter()], info={})
    assert rep.tokenizers == ("words", "chars")
    assert [r.tokenizer for r in rep.entries] == ["words", "words", "chars", "chars"]
    for tok in rep.tokenizers:
        prem = [r.premium for r in rep.for_tokenizer(tok)]
        assert prem == sorted(prem, key=lambda p: -math.inf if p is None else p, reverse=True)
    flipped = token_length_report(tiny(), tokenizers=[WordCounter()], pivot="xyz_Test", info={})
    assert _row(flipped, "eng_Latn").premium == pytest.approx(0.5)
    assert _row(flipped, "xyz_Test").premium == pytest.approx(1.0)


def test_missing_pivot_and_unknown_language_errors() -> None:
    with pytest.raises(ValueError, match="pivot language 'fra_Latn' is not in the corpus"):
        token_length_report(tiny(), tokenizers=[WordCounter()], pivot="fra_Latn", info={})
    with pytest.raises(ValueError, match="deu_Latn"):
        token_length_report(tiny(), tokenizers=[WordCounter()], languages=["deu_Latn"], info={})


def test_language_filter_keeps_pivot() -> None:
    rep = token_length_report(tiny(), tokenizers=[WordCounter()], languages=["xyz_Test"], info={})
    assert {r.language for r in rep.entries} == {"xyz_Test", "eng_Latn"}


def test_report_conversions() -> None:
    rep = token_length_report(tiny(), tokenizers=[WordCounter()], info={})
    cols = rep.columns()
    rows = rep.rows()
    dicts = rep.to_dicts()
    assert len(rows) == len(dicts) == 2
    assert all(len(r) == len(cols) for r in rows)
    assert dicts[0] == dict(zip(cols, rows[0], strict=True))
    pd = pytest.importorskip("pandas")
    df = rep.to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == list(cols)
    assert df.loc[df.language == "xyz_Test", "premium"].item() == pytest.approx(2.0)


def test_report_is_frozen() -> None:
    import dataclasses

    rep = token_length_report(tiny(), tokenizers=[WordCounter()], info={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.pivot = "x"  # type: ignore[misc]


def test_percentile_and_median_definitions() -> None:
    st = summarize_tokens(np.arange(1, 11, dtype=np.int64))
    assert st.median_tokens == 5.5  # mean of the two middle values
    assert st.p90_tokens == pytest.approx(9.1)
    assert st.total_tokens == 55
    empty = summarize_tokens(np.zeros(0, dtype=np.int64))
    assert (empty.sentences, empty.median_tokens, empty.p90_tokens) == (0, None, None)


def test_align_and_premium_helpers() -> None:
    al = align_ids(["b", "c", "z"], ["a", "b", "c"])
    assert al.lang_index.tolist() == [0, 1]
    assert al.pivot_index.tolist() == [1, 2]
    assert al.missing_in_pivot == 1
    got = premium(np.array([10, 20, 99]), np.array([1, 5, 5]), al)
    assert got == pytest.approx(30 / 10)
    assert premium(np.array([1]), np.array([1]), align_ids(["q"], ["a"])) is None


def test_measure_texts_counts_whitespace_only_as_empty() -> None:
    m = measure_texts(["ab", "", " \t", "ñ"])
    assert m.keep.tolist() == [True, False, False, True]
    assert (m.empty, m.chars, m.utf8_bytes) == (2, 3, 4)


def test_language_with_no_shared_ids_has_no_premium() -> None:
    rows = [("eng_Latn", "1", "a"), ("abc_Test", "2", "a b")]
    rep = token_length_report(Corpus.from_rows(rows), tokenizers=[WordCounter()], info={})
    assert _row(rep, "abc_Test").premium is None
    assert any("no id in common" in w for w in rep.warnings)


def test_massive_locales_accepted_for_flores_codes() -> None:
    rows = [("eng_Latn", "1", "a"), ("hin_Deva", "1", "a b"), ("tha_Thai", "1", "a b c")]
    corpus = Corpus.from_rows(rows)
    rep = token_length_report(
        corpus, tokenizers=[WordCounter()], pivot="en-US", languages=["hi-IN"], info={}
    )
    assert rep.pivot == "eng_Latn"
    assert {r.language for r in rep.entries} == {"eng_Latn", "hin_Deva"}


def test_single_tokenizer_and_language_need_no_list() -> None:
    rep = token_length_report(tiny(), tokenizers=WordCounter(), languages="xyz_Test", info={})
    assert rep.tokenizers == ("words",)
    assert {r.language for r in rep.entries} == {"eng_Latn", "xyz_Test"}


def test_context_columns_come_from_languages_json() -> None:
    import json
    from importlib import resources

    doc = json.loads(
        (resources.files("tokenmill") / "data" / "languages.json").read_text(encoding="utf-8")
    )
    world = doc["world_population_millions"]
    rows = [("eng_Latn", "1", "a b"), ("hin_Deva", "1", "a b c"), ("zzz_Test", "1", "a")]
    rep = token_length_report(Corpus.from_rows(rows), tokenizers=[WordCounter()])
    for lang in ("eng_Latn", "hin_Deva"):
        entry = doc["languages"][lang]
        r = _row(rep, lang)
        assert r.name == entry["name"]
        assert r.common_crawl_pct == pytest.approx(entry["common_crawl_pct"])
        assert r.population_pct == pytest.approx(100 * entry["speakers_millions"] / world)
        assert r.crawl_to_population == pytest.approx(
            entry["common_crawl_pct"] / (100 * entry["speakers_millions"] / world)
        )
    unknown = _row(rep, "zzz_Test")  # an unknown code is kept, named by its code, no context
    assert (unknown.name, unknown.common_crawl_pct, unknown.population_pct) == (
        "zzz_Test",
        None,
        None,
    )
    assert rep.context_limits and "Common Crawl" in rep.context_limits
