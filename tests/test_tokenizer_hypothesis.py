"""Differential property tests: tokenmill vs tiktoken on generated text."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokenmill

tiktoken = pytest.importorskip("tiktoken")

NAMES = ["cl100k_base", "o200k_base"]
_PAIRS = {n: (tokenmill.get_encoding(n), tiktoken.get_encoding(n)) for n in NAMES}

# Pieces of text the split patterns treat specially; joined at random.
FRAGMENTS = {
    "whitespace": [
        " ",
        "  ",
        "\t",
        "\n",
        "\r\n",
        "\r",
        "\n\n",
        " \n ",
        "\u00a0",
        "\u3000",
        "\u2028",
        "\u0085",
        "\u2009",
        "\u202f",
        "\x0b",
        "\x0c",
        "x",
        "a b",
    ],
    "digits": ["1", "12", "123", "1234", "٣", "١٢٣٤٥", "½", "Ⅻ", "𝟙", " 0", ".5", "1,000", "x"],
    "contractions": [
        "'",
        "'s",
        "'S",
        "'t",
        "'re",
        "'RE",
        "'ve",
        "'m",
        "'ll",
        "'LL",
        "'d",
        "'ſ",
        "’s",
        "don",
        "it",
        "I",
        " ",
        "''",
        "'x",
        "O'Neil",
        "ÉTÉ'S",
    ],
    "emoji": ["😀", "👨‍👩‍👧‍👦", "👍🏽", "🏳️‍🌈", "\u200d", "\ufe0f", "❤", " ", "a", "🇯🇵", "🧑🏿‍💻"],
    "marks": [
        "\u0301",
        "\u0308",
        "\u0951",
        "\u093f",
        "\u0e31",
        "\u0e48",
        "\u20dd",
        "e",
        "E",
        "ab",
        "ʰ",
        "ǅ",
        " ",
        "\u0653",
        "\u05b8",
    ],
    "scripts": [
        "中文",
        "日本語",
        "カタカナ",
        "한국어",
        "العربية",
        "مرحبا",
        "हिन्दी",
        "नमस्ते",
        "ภาษาไทย",
        "สวัสดี",
        "မြန်မာ",
        "ဘာသာ",
        "ελληνικά",
        "русский",
        "עברית",
        " ",
        "\n",
        ", ",
        "。",
        "、",
        "؟",
        "।",
    ],
}


def _joined(name: str) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(FRAGMENTS[name]), max_size=30).map("".join)


def _check(text: str) -> None:
    for ours, ref in _PAIRS.values():
        expected = ref.encode_ordinary(text)
        assert ours.encode_ordinary(text) == expected
        assert ours.count_ordinary(text) == len(expected)
        assert ours.decode(expected) == text


_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.text(max_size=60))
def test_arbitrary_unicode(text: str) -> None:
    _check(text)


@_SETTINGS
@given(st.text(st.characters(codec="utf-8"), max_size=40))
def test_arbitrary_codepoints_incl_surrogate_free(text: str) -> None:
    _check(text)


@pytest.mark.parametrize("kind", sorted(FRAGMENTS))
def test_targeted(kind: str) -> None:
    @_SETTINGS
    @given(_joined(kind), _joined("whitespace"))
    def inner(a: str, b: str) -> None:
        _check(a)
        _check(a + b + a)

    inner()


@_SETTINGS
@given(st.lists(st.sampled_from([s for v in FRAGMENTS.values() for s in v]), max_size=40))
def test_mixed_fragments(parts: list[str]) -> None:
    _check("".join(parts))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(["<|endoftext|>", "<|endofprompt|>", "<|fim_prefix|>", "hi", " ", "<|"]),
        max_size=12,
    ),
    st.sampled_from(["all", "none", "eot"]),
)
def test_special_tokens(parts: list[str], mode: str) -> None:
    text = "".join(parts)
    allowed: Any = {"all": "all", "none": set(), "eot": {"<|endoftext|>"}}[mode]
    for ours, ref in _PAIRS.values():
        try:
            expected = ref.encode(text, allowed_special=allowed)
        except ValueError:
            with pytest.raises(ValueError, match="disallowed special token"):
                ours.encode(text, allowed_special=allowed)
            continue
        assert ours.encode(text, allowed_special=allowed) == expected
        assert ours.count(text, allowed_special=allowed) == len(expected)
        assert ours.decode(expected) == text


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200), st.integers(min_value=0, max_value=80))
def test_count_till_limit_agrees(text: str, limit: int) -> None:
    for ours, ref in _PAIRS.values():
        n = len(ref.encode_ordinary(text))
        got = ours.count_till_limit(text, limit, disallowed_special=())
        assert got == (n if n <= limit else None)
