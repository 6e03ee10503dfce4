"""count_batch over Arrow string columns, read in place through the Arrow PyCapsule protocol.

The expected counts come from tiktoken (the reference), row by row.
"""

from __future__ import annotations

import numpy as np
import pytest
import tiktoken

import tokenmill

pa = pytest.importorskip("pyarrow")

ROWS = [
    "Hello, world!",
    "",
    "Tokenizers count tokens; 12345 numbers and  spaces\n\n",
    "Привет, мир! 東京特許許可局 नमस्ते दुनिया",
    "emoji 👩‍👩‍👧 and <|endoftext|> as plain text",
    "a" * 5000,
]


@pytest.fixture(scope="module", params=["cl100k_base", "o200k_base"])
def pair(request: pytest.FixtureRequest) -> tuple[tokenmill.Encoding, tiktoken.Encoding]:
    return tokenmill.get_encoding(request.param), tiktoken.get_encoding(request.param)


Pair = tuple[tokenmill.Encoding, tiktoken.Encoding]


def reference(ref: tiktoken.Encoding, rows: list[str]) -> list[int]:
    return [len(ref.encode(r, disallowed_special=())) for r in rows]


@pytest.mark.parametrize("arrow_type", ["string", "large_string"])
def test_arrow_column_counts_equal_tiktoken(pair: Pair, arrow_type: str) -> None:
    enc, ref = pair
    arr = pa.array(ROWS, type=getattr(pa, arrow_type)())
    got = enc.count_batch(arr, disallowed_special=())
    assert got.dtype == np.int64
    assert got.tolist() == reference(ref, ROWS)


def test_sliced_array_honours_the_offset(pair: Pair) -> None:
    enc, ref = pair
    arr = pa.array(ROWS * 3)
    part = arr.slice(4, 7)
    assert part.offset == 4
    assert enc.count_batch(part, disallowed_special=()).tolist() == reference(ref, (ROWS * 3)[4:11])


def test_chunked_array_and_empty_array(pair: Pair) -> None:
    enc, ref = pair
    chunked = pa.chunked_array([ROWS[:2], ROWS[2:], []])
    assert enc.count_batch(chunked, disallowed_special=()).tolist() == reference(ref, ROWS)
    assert enc.count_batch(pa.array([], type=pa.string())).tolist() == []


def test_special_token_policy_applies_to_arrow_rows() -> None:
    enc = tokenmill.get_encoding("cl100k_base")
    arr = pa.array(["fine", "has <|endoftext|> inside"])
    with pytest.raises(ValueError, match=r"texts\[1\]"):
        enc.count_batch(arr)
    allowed = enc.count_batch(arr, allowed_special="all").tolist()
    assert allowed == [enc.count(r, allowed_special="all") for r in arr.to_pylist()]


def test_null_row_is_named() -> None:
    enc = tokenmill.get_encoding("cl100k_base")
    with pytest.raises(ValueError, match=r"texts\[2\] is null"):
        enc.count_batch(pa.array(["a", "b", None, "d"]))
    # A slice that skips the null is fine.
    assert enc.count_batch(pa.array(["a", "b", None, "d"]).slice(3)).tolist() == [1]


def test_non_string_arrow_array_is_a_type_error() -> None:
    enc = tokenmill.get_encoding("cl100k_base")
    with pytest.raises(TypeError, match="format"):
        enc.count_batch(pa.array([1, 2, 3]))
    with pytest.raises(TypeError, match="format"):
        enc.count_batch(pa.array([b"bytes"], type=pa.binary()))
