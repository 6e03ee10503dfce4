"""``Encoding.encode_with_unstable`` against tiktoken 0.14's, for cl100k_base, o200k_base and
r50k_base: the stable tokens must be equal and the completions equal as sets.

Texts: hand-picked tails (mid-word, mid-whitespace, contractions, numbers, CJK and emoji whose
tokens hold partial UTF-8 characters, special tokens), prefixes of the multilingual corpus cut at
many places, and hypothesis-generated text. A tail of whitespace makes both libraries visit every
token that starts with a space (hundreds of milliseconds each), so such texts are a minority.
"""

from __future__ import annotations

import json
import random
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokenmill
from tokenmill._data import DATA_DIR

tiktoken = pytest.importorskip("tiktoken")

ENCODINGS = ["cl100k_base", "o200k_base", "r50k_base"]

TAILS = [
    "",
    "hello fanta",
    "hello world",
    "the quick brown fo",
    "I'm",
    "don'",
    "they'l",
    "x = 1\n",
    "hello\n\n",
    "a  ",
    "\n \n",
    "foo\t",
    "tab\t\t",
    "ends with ideographic space\u3000",
    "1234",
    "3.1415",
    "$1,00",
    "naïve caf",
    "日本語のテキ",
    "北京",
    "नई दिल्ल",
    "Привет, ми",
    "emoji 😀",
    "flag 🇫🇷",
    "e\u0301",
    "def f(x):\n    return x ** ",
    "<!-- comment -",
    "https://example.com/pa",
    "hello <|endoftext|>",
    "hello <|endoftext|> wor",
    "<|endoftext|>",
    "a<|fim_prefix|>b<|fim_suffix|>c",
    "\r\n",
    "line\r",
    "!!!",
    "a\u00a0",
]


@cache
def _pair(name: str) -> tuple[Any, tokenmill.Encoding]:
    return tiktoken.get_encoding(name), tokenmill.get_encoding(name)


def _run(enc: Any, text: str, kw: dict[str, Any]) -> tuple[list[int], set[tuple[int, ...]]] | str:
    try:
        stable, completions = enc.encode_with_unstable(text, **kw)
    except ValueError as e:
        return f"ValueError {'disallowed' in str(e)}"
    return list(stable), {tuple(c) for c in completions}


def _check(name: str, text: str, **kw: Any) -> None:
    ref, ours = _pair(name)
    expected = _run(ref, text, kw)
    got = _run(ours, text, kw)
    if isinstance(expected, tuple) and isinstance(got, tuple):
        assert got[0] == expected[0], (name, text, kw)
        missing, extra = expected[1] - got[1], got[1] - expected[1]
        assert not missing and not extra, (name, text, kw, sorted(missing)[:5], sorted(extra)[:5])
    else:
        assert got == expected, (name, text, kw)


@pytest.mark.parametrize("name", ENCODINGS)
@pytest.mark.parametrize("text", TAILS)
def test_tails_match_tiktoken(name: str, text: str) -> None:
    _check(name, text)


@pytest.mark.parametrize("name", ENCODINGS)
@pytest.mark.parametrize(
    "kw",
    [
        {"allowed_special": "all"},
        {"disallowed_special": ()},
        {"allowed_special": {"<|endoftext|>"}},
    ],
)
@pytest.mark.parametrize(
    "text", ["hello <|endoftext|>", "hello <|endoftext|> wor", "a<|fim_prefix|>b", "<|endoftext|>x"]
)
def test_special_token_arguments_match_tiktoken(name: str, kw: dict[str, Any], text: str) -> None:
    _check(name, text, **kw)


def _corpus_prefixes() -> list[str]:
    lines = (DATA_DIR / "parallel_corpus.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    rng = random.Random(14)
    out = []
    for row in rng.sample(rows, 40):
        text = row["text"]
        for _ in range(3):
            cut = rng.randrange(1, len(text) + 1)
            prefix = text[:cut]
            if not prefix[-1].isspace():  # whitespace tails are covered above (and slow)
                out.append(prefix)
    return out


@pytest.mark.parametrize("name", ENCODINGS)
def test_corpus_prefixes_match_tiktoken(name: str) -> None:
    for text in _corpus_prefixes():
        _check(name, text)


_ALPHABET = st.sampled_from(
    [
        *"abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789'.,;!?-_()[]{}<>|/\\\"#$%&*+=@^`~",
        *["\n", "\t", "\r", " ", "  ", "é", "ü", "ß", "ñ", "日", "本", "語", "的", "한", "글"],
        *["д", "ж", "ا", "ل", "ह", "ि", "\u0301", "😀", "🇫", "🇷", "\u3000", "\u00a0", "’"],
    ]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(ENCODINGS),
    text=st.lists(_ALPHABET, max_size=16).map("".join),
)
def test_random_text_matches_tiktoken(name: str, text: str) -> None:
    _check(name, text)


def test_stable_tokens_and_completions_cover_the_text() -> None:
    enc = tokenmill.get_encoding("cl100k_base")
    for text in ["hello fanta", "naïve caf", "x = 1\n", "日本語のテキ"]:
        stable, completions = enc.encode_with_unstable(text)
        raw = text.encode()
        assert raw.startswith(enc.decode_bytes(stable))
        assert completions
        for seq in completions:
            assert enc.decode_bytes(stable + seq).startswith(raw), (text, seq)


def test_disallowed_special_raises_value_error() -> None:
    enc = tokenmill.get_encoding("o200k_base")
    with pytest.raises(ValueError, match="disallowed special token"):
        enc.encode_with_unstable("a <|endoftext|>")
    with pytest.raises(ValueError, match="allowed_special"):
        enc.encode_with_unstable("a", allowed_special="some")


def test_encodings_that_are_not_byte_level_bpe_are_refused() -> None:
    mistral_common = pytest.importorskip("mistral_common")
    from pathlib import Path

    data = Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
    enc = tokenmill.Encoding.from_file(data)
    with pytest.raises(ValueError, match="byte-level BPE"):
        enc.encode_with_unstable("hello")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(ENCODINGS),
    text=st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
)
def test_random_unicode_matches_tiktoken(name: str, text: str) -> None:
    _check(name, text)
