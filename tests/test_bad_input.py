"""Hostile files and texts: a clear Python exception naming the problem, never a panic or abort.

References: Hugging Face ``tokenizers`` and tiktoken on the same files and texts (both give up on
the regex inputs below; tokenmill must say so too, with a ``ValueError`` naming the pattern and the
byte offset, instead of ``pyo3_runtime.PanicException`` or a guess at the rest of the text).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tokenmill
from test_tokenizer_hf import _byte_level, _split, _synthetic, _write

tokenizers = pytest.importorskip("tokenizers")
tiktoken = pytest.importorskip("tiktoken")

# Oniguruma's retry limit: `(a|a)+$` backtracks 2**n ways on "a" * n + "!".
CATASTROPHIC = "(a|a)+$"
CATASTROPHIC_TEXT = "a" * 30 + "!"


def _calls(enc: tokenmill.Encoding) -> dict[str, Callable[[str], Any]]:
    return {
        "encode": enc.encode,
        "encode_ordinary": enc.encode_ordinary,
        "count": enc.count,
        "count_ordinary": enc.count_ordinary,
        "count_till_limit": lambda t: enc.count_till_limit(t, 1000),
        "encode_batch": lambda t: enc.encode_batch(["ok", t]),
        "count_batch": lambda t: enc.count_batch(["ok", t]),
    }


def test_oniguruma_retry_limit_is_a_value_error(tmp_path: Path) -> None:
    pre = {"type": "Sequence", "pretokenizers": [_split(CATASTROPHIC), _byte_level()]}
    path = _write(tmp_path, _synthetic(pre, []))
    # The reference gives up on this text too (it panics).
    hf = tokenizers.Tokenizer.from_file(str(path))
    with pytest.raises(BaseException, match="retry-limit"):
        hf.encode(CATASTROPHIC_TEXT, add_special_tokens=False)
    enc = tokenmill.Encoding.from_tokenizer_json(path)
    # A short text is fine, in both.
    assert enc.encode("aa!") == hf.encode("aa!", add_special_tokens=False).ids
    for name, call in _calls(enc).items():
        with pytest.raises(ValueError) as info:
            call(CATASTROPHIC_TEXT)
        message = str(info.value)
        assert repr(CATASTROPHIC) in message.replace('"', "'"), (name, message)
        assert "byte offset 0" in message, (name, message)
        if name.endswith("_batch"):
            assert message.startswith("texts[1]:"), message


def test_oniguruma_offset_is_in_the_whole_text(tmp_path: Path) -> None:
    # A first step cuts at spaces; the failing piece starts at byte 4 of the text.
    pre = {
        "type": "Sequence",
        "pretokenizers": [_split(r"\s+"), _split(CATASTROPHIC), _byte_level()],
    }
    enc = tokenmill.Encoding.from_tokenizer_json(_write(tmp_path, _synthetic(pre, [])))
    with pytest.raises(ValueError, match="byte offset 4"):
        enc.encode("xyz " + CATASTROPHIC_TEXT)


def test_replace_normalizer_retry_limit_is_a_value_error(tmp_path: Path) -> None:
    doc = _synthetic(_byte_level(use_regex=True), [])
    doc["normalizer"] = {"type": "Replace", "pattern": {"Regex": CATASTROPHIC}, "content": "b"}
    path = _write(tmp_path, doc)
    hf = tokenizers.Tokenizer.from_file(str(path))
    enc = tokenmill.Encoding.from_tokenizer_json(path)
    assert enc.encode("xaa") == hf.encode("xaa", add_special_tokens=False).ids
    with pytest.raises(BaseException, match="retry-limit"):
        hf.encode(CATASTROPHIC_TEXT, add_special_tokens=False)
    for call in _calls(enc).values():
        with pytest.raises(ValueError, match="byte offset 0"):
            call(CATASTROPHIC_TEXT)


def _rank_file(tmp_path: Path) -> Path:
    path = tmp_path / "bytes.tiktoken"
    lines = [f"{base64.b64encode(bytes([b])).decode()} {b}" for b in range(256)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fancy_regex_backtrack_limit_raises_like_tiktoken(tmp_path: Path) -> None:
    pattern = r"(?:a|a)+(?!x)b"
    text = "a" * 30 + "!"
    ref = tiktoken.Encoding(
        "t", pat_str=pattern, mergeable_ranks={bytes([b]): b for b in range(256)}, special_tokens={}
    )
    with pytest.raises(ValueError, match="backtrack"):
        ref.encode(text)
    enc = tokenmill.Encoding.from_tiktoken(_rank_file(tmp_path), pattern=pattern)
    assert enc.encode("aab") == ref.encode("aab")
    for name, call in _calls(enc).items():
        with pytest.raises(ValueError, match="backtrack") as info:
            call(text)
        assert pattern in str(info.value), name
