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
from test_tokenizer_hf import _byte_level, _error, _split, _synthetic, _write

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


# --- allocation sizes never come from file content -------------------------------------------

_LOAD_CHILD = r"""
import sys, tokenmill
try:
    tokenmill.Encoding.from_tokenizer_json(sys.argv[1])
    print("loaded")
except ValueError as e:
    print("ValueError:", e)
"""


@pytest.mark.parametrize("huge_id", [4_000_000_000, 100_000_000])
def test_sparse_vocab_id_is_refused_not_allocated(tmp_path: Path, huge_id: int) -> None:
    doc = _synthetic(_byte_level(use_regex=True), [])
    doc["model"]["vocab"]["zz"] = huge_id
    path = _write(tmp_path, doc)
    # The reference loads it (its vocabulary is a hash map).
    assert tokenizers.Tokenizer.from_file(str(path)).token_to_id("zz") == huge_id
    # A child process: an attempt to allocate tables for every id up to 4e9 aborts the process.
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-c", _LOAD_CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout.strip()
    assert out.startswith("ValueError:"), out
    assert f"id {huge_id}" in out and "257 tokens" in out, out


def test_gzip_bomb_is_refused(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "bomb.tiktoken.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:
        chunk = b"\n" * (1 << 20)
        for _ in range(300):  # 300 MiB of blank lines: about 300 KB compressed
            f.write(chunk)
    assert path.stat().st_size < 2 << 20
    with pytest.raises(ValueError, match="more than 256 MiB"):
        tokenmill.Encoding.from_tiktoken(path, pattern=r"\w+")
    with pytest.raises(ValueError, match="more than 256 MiB"):
        tokenmill.load_tokenizer(path)


# --- malformed tokenizer.json files load as Hugging Face loads them ---------------------------


def test_duplicate_merges_keep_the_last_like_hf(tmp_path: Path) -> None:
    # With "a b" at 0 and 2 around "b c" at 1, the last position makes "b c" win on "abc".
    doc = _synthetic(_byte_level(use_regex=True), ["a b", "b c"])
    doc["model"]["merges"] = ["a b", "b c", "a b"]
    path = _write(tmp_path, doc)
    hf = tokenizers.Tokenizer.from_file(str(path))
    enc = tokenmill.Encoding.from_tokenizer_json(path)
    for text in ["abc", "ab", "bc", "xabcab abc"]:
        assert enc.encode(text) == hf.encode(text, add_special_tokens=False).ids, text
    assert [hf.id_to_token(i) for i in enc.encode("abc")] == ["a", "bc"]


def _added(*tokens: tuple[int, str]) -> list[dict[str, Any]]:
    flags = {"special": True, "single_word": False, "lstrip": False, "rstrip": False}
    return [{"id": i, "content": c, "normalized": False, **flags} for i, c in tokens]


@pytest.mark.parametrize(
    "added",
    [
        _added((5, "<x>")),  # collides with the vocabulary's id 5
        _added((300, "<x>"), (280, "<y>")),  # gaps, out of order
        _added((258, "<x>"), (258, "<y>")),  # two tokens, one id
        _added((3, "ab")),  # content already in the vocabulary
        _added((259, "<x>"), (259, "<x>")),  # the same token twice
        _added((999, "ab"), (5, "<x>"), (7, "<y>")),
    ],
)
def test_added_token_ids_are_assigned_like_hf(tmp_path: Path, added: list[dict[str, Any]]) -> None:
    doc = _synthetic(_byte_level(use_regex=True), ["a b", "b c"])
    doc["added_tokens"] = added
    path = _write(tmp_path, doc)
    hf = tokenizers.Tokenizer.from_file(str(path))
    enc = tokenmill.Encoding.from_tokenizer_json(path)
    for t in added:
        assert enc.encode(t["content"], allowed_special="all") == [hf.token_to_id(t["content"])]
    for text in ["<x><y>ab", "abc<y>", "<x>"]:
        want = hf.encode(text, add_special_tokens=False).ids
        assert enc.encode(text, allowed_special="all") == want, text
        assert enc.decode(want) == hf.decode(want, skip_special_tokens=False), text


def test_repeated_added_token_with_other_flags_is_refused(tmp_path: Path) -> None:
    doc = _synthetic(_byte_level(use_regex=True), [])
    doc["added_tokens"] = _added((300, "<x>"), (301, "<x>"))
    doc["added_tokens"][1]["special"] = False
    message = _error(tmp_path, doc)
    assert "added_tokens[1].content" in message and "added_tokens[0]" in message, message


def _unigram_doc(unk_id: int | None) -> dict[str, Any]:
    metaspace = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}
    return {
        "version": "1.0",
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": metaspace,
        "post_processor": None,
        "decoder": metaspace,
        "model": {
            "type": "Unigram",
            "unk_id": unk_id,
            "vocab": [["▁", -1.0], ["a", -2.0], ["b", -3.0], ["▁a", -1.5]],
            "byte_fallback": False,
        },
    }


def test_unigram_without_unk_id_is_refused_not_encoded_without_the_character(
    tmp_path: Path,
) -> None:
    import json

    tokenizers = pytest.importorskip("tokenizers")
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(_unigram_doc(None)))
    # The reference raises on the first character no piece covers ("x"); tokenmill once
    # encoded "ax" as [3], the x silently gone.
    with pytest.raises(Exception, match="unk_id"):
        tokenizers.Tokenizer.from_file(str(path)).encode("ax")
    with pytest.raises(ValueError, match=r"model\.unk_id"):
        tokenmill.Encoding.from_file(path)
    # With an unknown piece both load and agree, the unknown included.
    path.write_text(json.dumps(_unigram_doc(0)))
    want = tokenizers.Tokenizer.from_file(str(path)).encode("ax b").ids
    assert tokenmill.Encoding.from_file(path).encode("ax b") == want


@pytest.mark.parametrize("better", ["first", "last"])
def test_unigram_piece_listed_twice_takes_its_last_id_like_hf(tmp_path: Path, better: str) -> None:
    tokenizers = pytest.importorskip("tokenizers")
    # "ab" twice: once scoring above "a" + "b", once below. The reference keeps the last entry
    # (its id and its score), whichever of the two scores better.
    scores = [-0.5, -5.0] if better == "first" else [-5.0, -0.5]
    vocab = [("<unk>", 0.0), ("a", -1.0), ("b", -2.0), ("ab", scores[0]), ("ab", scores[1])]
    ref = tokenizers.Tokenizer(tokenizers.models.Unigram([*vocab, ("c", -1.0)], unk_id=0))
    path = tmp_path / "tokenizer.json"
    ref.save(str(path))
    enc = tokenmill.Encoding.from_file(path)
    for text in ["abcab", "ab", "cabab", "xab"]:
        assert enc.encode(text) == ref.encode(text, add_special_tokens=False).ids, text


def test_sentencepiece_piece_defined_twice_is_refused_like_sentencepiece(tmp_path: Path) -> None:
    spm = pytest.importorskip("sentencepiece")
    pb: Any = pytest.importorskip("sentencepiece.sentencepiece_model_pb2")  # generated: untyped

    model = tmp_path / "m.model"
    texts = ["hello world abc abd"] * 30 + ["abab cdcd hello"] * 30
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_prefix=str(model.with_suffix("")),
        vocab_size=18,
        model_type="unigram",
        minloglevel=2,
    )
    proto = pb.ModelProto()
    proto.ParseFromString(model.read_bytes())
    assert tokenmill.load_tokenizer(model).encode("hello") == spm.SentencePieceProcessor(
        model_file=str(model)
    ).encode("hello")
    again = proto.pieces.add()
    again.piece, again.score = proto.pieces[5].piece, 0.0
    model.write_bytes(proto.SerializeToString())
    with pytest.raises(RuntimeError, match="already defined"):
        spm.SentencePieceProcessor(model_file=str(model))
    with pytest.raises(
        ValueError, match=rf'piece "{proto.pieces[5].piece}" is defined twice \(ids 5 and 18\)'
    ):
        tokenmill.load_tokenizer(model)
