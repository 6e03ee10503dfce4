"""The tokenizer's Python contract: parity with tiktoken, special tokens, counting, bad input."""

from __future__ import annotations

import gc
import hashlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tokenmill
from tokenmill.tokenizer import BUNDLED_SHA256, rank_file

tiktoken = pytest.importorskip("tiktoken")

NAMES = ["cl100k_base", "o200k_base"]

SAMPLES = [
    "",
    "Hello, world! It's 12345 o'clock.\r\n\r\n  x  \n  ",
    "I'M HERE'S 'LL 'Ll 'ſ we'd they'VE",
    "x\u00a0\u00a0y \u3000z\u2028 \u2009 \u202f\u205f end",
    "Tokenizers split text into pieces; each is merged bottom-up.\n\n    def f(x):\n\treturn x\n",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "สวัสดีครับ ยินดีต้อนรับ",
    "မင်္ဂလာပါ ကမ္ဘာလောက",
    "مرحبا بالعالم، كيف حالك؟ ١٢٣٤",
    "你好，世界！今天是2024年。",
    "こんにちは世界、カタカナとひらがな。",
    "안녕하세요 세계",
    "👨‍👩‍👧‍👦 family, 👍🏽 thumbs, 🏳️‍🌈 flag",
    "e\u0301e\u0301 a\u0308\u0301 Z\u0351\u0352\u0353",
    "ǅungla ǅUNGLA ʰʰA Aʰ ABCʰDEF",
    "  /  //\n\n/ \t\t\tfoo /path/to/file.txt\r\n",
    "Ⅻ ⅰⅱ ½ ¾ ²³ 𝟘𝟙𝟚",
    "a" * 3000,
    " " * 500 + "x",
    "\n" * 100 + "\r\n" * 50,
]


@pytest.fixture(scope="module", params=NAMES)
def pair(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    return tokenmill.get_encoding(request.param), tiktoken.get_encoding(request.param)


# sha256 of the rank files as tiktoken 0.14 checks them (`tiktoken_ext/openai_public.py`).
PUBLISHED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "r50k_base": "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
    "p50k_base": "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069",
}


def test_bundled_files_match_tiktoken_hashes() -> None:
    assert BUNDLED_SHA256 == PUBLISHED_SHA256
    for name, expected in PUBLISHED_SHA256.items():
        assert hashlib.sha256(rank_file(name)).hexdigest() == expected
    with pytest.raises(ValueError, match="o200k_harmony"):
        rank_file("o200k_harmony")


def test_wheel_ships_no_rank_files() -> None:
    # The rank files ship once, inside the extension.
    from importlib import resources

    names = [p.name for p in (resources.files("tokenmill") / "data").iterdir()]
    assert not [n for n in names if n.endswith((".tiktoken", ".tiktoken.gz"))], names


def test_samples_match_tiktoken(pair: tuple[Any, Any]) -> None:
    ours, ref = pair
    for text in SAMPLES:
        expected = ref.encode_ordinary(text)
        assert ours.encode_ordinary(text) == expected, text
        assert ours.encode(text) == ref.encode(text), text
        assert ours.count(text) == len(expected)
        assert ours.count_ordinary(text) == len(expected)
        assert ours.decode(expected) == text
        assert ours.decode_bytes(expected) == text.encode()


def test_returned_ids_are_fresh_lists_of_plain_ints(pair: tuple[Any, Any]) -> None:
    # The bindings share one int object per token id between calls: the lists must still be
    # the caller's own, and the ids exact ints.
    ours, ref = pair
    text = SAMPLES[4] + SAMPLES[5]
    expected = ref.encode_ordinary(text)
    for encode in (ours.encode_ordinary, ours.encode, lambda t: ours.encode_batch([t, t])[1]):
        first = encode(text)
        assert first == expected
        assert all(type(i) is int for i in first)
        first.clear()
        first_again = encode(text)
        assert first_again == expected
        assert first_again is not first
    assert [i + 1 for i in ours.encode_ordinary(text)] == [i + 1 for i in expected]


def test_returned_lists_hold_one_reference_per_id(pair: tuple[Any, Any]) -> None:
    # A shared id int gains exactly one reference per place it takes in a returned list and
    # loses them with the list: one too few would free an int still in use, one too many leaks.
    ours, ref = pair
    text = " tokenization" * 50 + " world" * 7
    ids = ref.encode_ordinary(text)
    big = [i for i in ids if i > 256]  # not CPython's cached small ints
    assert big
    for encode in (ours.encode_ordinary, ours.encode, lambda t: ours.encode_batch([t])[0]):
        first = encode(text)
        assert first == ids
        shared = first[ids.index(big[0])]
        before = sys.getrefcount(shared)
        lists = [encode(text) for _ in range(3)]
        assert lists == [ids] * 3
        assert all(x[ids.index(big[0])] is shared for x in lists)
        assert sys.getrefcount(shared) == before + 3 * ids.count(big[0])
        del lists
        gc.collect()
        assert sys.getrefcount(shared) == before


def test_properties(pair: tuple[Any, Any]) -> None:
    ours, ref = pair
    assert ours.n_vocab == ref.n_vocab
    assert ours.name == ref.name
    assert ours.special_tokens == ref._special_tokens
    assert ours.eot_token == ref.eot_token
    assert tokenmill.get_encoding(ours.name) is ours


def test_special_token_semantics(pair: tuple[Any, Any]) -> None:
    ours, ref = pair
    text = "a<|endoftext|>b<|endofprompt|>c <|endoftext|>"
    cases: list[dict[str, Any]] = [
        {"allowed_special": "all"},
        {"allowed_special": {"<|endoftext|>"}, "disallowed_special": ()},
        {"disallowed_special": ()},
        {"allowed_special": {"<|endofprompt|>"}, "disallowed_special": ()},
    ]
    for kwargs in cases:
        assert ours.encode(text, **kwargs) == ref.encode(text, **kwargs), kwargs
        assert ours.count(text, **kwargs) == len(ref.encode(text, **kwargs))
        assert ours.encode_batch([text, "x"], **kwargs) == ref.encode_batch([text, "x"], **kwargs)
    for kwargs in [{}, {"allowed_special": {"<|endoftext|>"}}]:
        with pytest.raises(ValueError, match="disallowed special token"):
            ref.encode(text, **kwargs)
        with pytest.raises(ValueError, match="disallowed special token"):
            ours.encode(text, **kwargs)
        with pytest.raises(ValueError, match="disallowed special token"):
            ours.count(text, **kwargs)
    with pytest.raises(ValueError, match=r"texts\[1\].*disallowed special token"):
        ours.encode_batch(["fine", text])
    assert ours.encode("<|endoftext|>", allowed_special="all") == [ref.eot_token]


def test_disallowed_subset_matches_tiktoken(pair: tuple[Any, Any]) -> None:
    ours, ref = pair
    text = "x <|endoftext|> y"
    with pytest.raises(ValueError):
        ref.encode(text, disallowed_special={"<|endoftext|>"})
    with pytest.raises(ValueError):
        ours.encode(text, disallowed_special={"<|endoftext|>"})
    assert ours.encode(text, disallowed_special={"<|endofprompt|>"}) == ref.encode(
        text, disallowed_special={"<|endofprompt|>"}
    )


def test_count_till_limit(pair: tuple[Any, Any]) -> None:
    ours, ref = pair
    text = SAMPLES[4] * 3 + SAMPLES[5]
    n = len(ref.encode(text))
    assert ours.count_till_limit(text, n) == n
    assert ours.count_till_limit(text, n + 1) == n
    assert ours.count_till_limit(text, n - 1) is None
    assert ours.count_till_limit(text, 0) is None
    assert ours.count_till_limit("", 0) == 0
    with pytest.raises(ValueError, match="limit"):
        ours.count_till_limit(text, -1)


def test_long_texts_match_and_every_limit_is_exact(pair: tuple[Any, Any]) -> None:
    # Pieces are resolved in batches of 32 (with and without the piece cache): texts of many
    # pieces cross batch boundaries, and limits land inside batches.
    ours, ref = pair
    text = " ".join(SAMPLES) * 7
    want = ref.encode(text, disallowed_special=())
    cache_states = [True, False]
    try:
        for on in cache_states:
            tokenmill.set_piece_cache(on)
            for _ in range(2):  # second round: served from the cache when it is on
                assert ours.encode(text, disallowed_special=()) == want
                assert ours.count(text, disallowed_special=()) == len(want)
            n = len(want)
            for limit in (n - 33, n - 32, n - 31, n - 1, n, n + 1):
                got = ours.count_till_limit(text, limit, disallowed_special=())
                assert got == (n if n <= limit else None), limit
    finally:
        tokenmill.set_piece_cache(True)


def test_count_till_limit_stops_early() -> None:
    # 40 MB of text: a limit of 10 must not tokenize it all. (Behavioural check: the result.)
    enc = tokenmill.get_encoding("cl100k_base")
    text = "word " * 8_000_000
    assert enc.count_till_limit(text, 10) is None
    short = "word " * 3
    assert enc.count_till_limit(short, 10) == len(
        tiktoken.get_encoding("cl100k_base").encode(short)
    )


def test_batches(pair: tuple[Any, Any]) -> None:
    ours, ref = pair
    texts = SAMPLES * 3
    assert ours.encode_batch(texts) == ref.encode_batch(texts)
    counts = ours.count_batch(texts)
    assert isinstance(counts, np.ndarray)
    assert counts.dtype == np.int64
    assert counts.tolist() == [len(t) for t in ref.encode_batch(texts)]
    assert ours.count_batch([]).tolist() == []
    with pytest.raises(TypeError, match="single str"):
        ours.count_batch("abc")
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        ours.count_batch(["a", 3])


def test_decode_unknown_id_names_it(pair: tuple[Any, Any]) -> None:
    ours, _ = pair
    with pytest.raises(ValueError, match="token id 10000000 "):
        ours.decode([1, 10000000])
    with pytest.raises(ValueError, match="token id -1 "):
        ours.decode_bytes([-1])
    if ours.name == "cl100k_base":
        with pytest.raises(ValueError, match="token id 100256 "):
            ours.decode([100256])  # the gap below the special tokens


def test_decode_errors_argument(pair: tuple[Any, Any]) -> None:
    ours, ref = pair
    partial = [ref.encode_single_token(b"\xe9"), ref.encode_single_token(b"a")]
    assert ours.decode_bytes(partial) == b"\xe9a"
    assert ours.decode(partial) == ref.decode(partial)
    with pytest.raises(UnicodeDecodeError):
        ours.decode(partial, errors="strict")


def test_lone_surrogates_follow_tiktoken(pair: tuple[Any, Any]) -> None:
    ours, ref = pair
    text = "ab\ud800cd \udfff"
    assert ours.encode(text) == ref.encode(text)
    assert ours.count(text) == len(ref.encode(text))
    assert ours.decode(ours.encode(text)) == "ab\ufffdcd \ufffd"
    assert ours.encode_batch([text]) == [ref.encode(text)]


def test_large_text_is_counted(pair: tuple[Any, Any]) -> None:
    ours, _ = pair
    unit = "The quick brown fox jumps over the lazy dog. 1234 ünïcödé текст 中文\n"
    reps = 50_000_000 // len(unit.encode())
    per_unit = ours.count(unit * 4) // 4  # the unit tokenizes the same way when repeated
    assert ours.count(unit * reps) == per_unit * reps


def test_long_single_pieces_match_tiktoken(pair: tuple[Any, Any]) -> None:
    import random

    ours, ref = pair
    rng = random.Random(7)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    for n in [500, 1000, 3000]:
        letters = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))
        b64 = "".join(rng.choice(alphabet) for _ in range(n))
        for text in [letters, b64, "a" * n, " " * n + "x"]:
            assert ours.encode(text) == ref.encode(text)
            assert ours.count(text) == len(ref.encode(text))


# -- registry ------------------------------------------------------------------------------------


def test_list_and_unknown_encoding() -> None:
    assert {"cl100k_base", "o200k_base"} <= set(tokenmill.list_encodings())
    with pytest.raises(ValueError, match="o200k_base"):
        tokenmill.get_encoding("o200k")


def test_o200k_harmony_matches_tiktoken() -> None:
    ours = tokenmill.get_encoding("o200k_harmony")
    ref = tiktoken.get_encoding("o200k_harmony")
    assert ours.special_tokens == ref._special_tokens
    assert ours.n_vocab == ref.n_vocab
    text = "<|start|>user<|message|>hi<|end|><|reserved_200018|><|endofprompt|><|call|>"
    assert ours.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all")
    for text in SAMPLES:
        assert ours.encode_ordinary(text) == ref.encode_ordinary(text)
    # Two names share id 200018 (tiktoken's decoder picks one in hash-map order).
    assert ours.decode_single_token_bytes(200018) in (b"<|endofprompt|>", b"<|reserved_200018|>")


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("gpt-4", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-3.5-turbo-16k", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("ft:gpt-4o-mini:org::abc", "o200k_base"),
    ],
)
def test_encoding_for_model(model: str, name: str) -> None:
    assert tokenmill.encoding_for_model(model).name == name
    assert tiktoken.encoding_name_for_model(model) == name


def test_unknown_model_lists_close_names() -> None:
    with pytest.raises(KeyError, match="gpt-4o"):
        tokenmill.encoding_for_model("gpt4o")


# -- loading files -------------------------------------------------------------------------------


def _write(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "bad.tiktoken"
    p.write_text("\n".join(lines) + "\n")
    return p


def _byte_lines() -> list[str]:
    import base64

    return [f"{base64.b64encode(bytes([b])).decode()} {b}" for b in range(256)]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda ls: [*ls[:10], "###= 10", *ls[11:]], r"line 11: bad base64"),
        (lambda ls: [*ls[:10], ls[10].split()[0] + " 9", *ls[11:]], r"line 11: duplicate rank 9"),
        (lambda ls: [*ls[:10], ls[10].split()[0] + " 12", *ls[11:]], r"line 11: gap in ranks"),
        (lambda ls: [*ls[:10], ls[10].split()[0], *ls[11:]], r"line 11: expected"),
        (lambda ls: [*ls, "YWI= 256", "YWI= 257"], r"line 258: duplicate token"),
    ],
)
def test_malformed_tiktoken_names_the_line(tmp_path: Path, mutate: Any, message: str) -> None:
    p = _write(tmp_path, mutate(_byte_lines()))
    with pytest.raises(ValueError, match=message):
        tokenmill.Encoding.from_tiktoken(p, pattern=r"\S+|\s+")


def test_from_tiktoken_custom_file_matches_tiktoken(tmp_path: Path) -> None:
    import base64

    lines = [*_byte_lines(), f"{base64.b64encode(b'ab').decode()} 256"]
    p = _write(tmp_path, lines)
    pattern = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
    ours = tokenmill.Encoding.from_tiktoken(
        p, pattern=pattern, special_tokens={"<|x|>": 257}, name="tiny"
    )
    ranks = {bytes([b]): b for b in range(256)} | {b"ab": 256}
    ref = tiktoken.Encoding(
        "tiny", pat_str=pattern, mergeable_ranks=ranks, special_tokens={"<|x|>": 257}
    )
    text = "abab cab's <|x|> 12"
    assert ours.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all")
    assert ours.name == "tiny"
    assert ours.n_vocab == 258
    with pytest.raises(ValueError, match="pattern"):
        tokenmill.Encoding.from_tiktoken(p, pattern="(unclosed")


def test_load_tokenizer(tmp_path: Path) -> None:
    assert tokenmill.load_tokenizer("o200k_base").name == "o200k_base"
    assert tokenmill.load_tokenizer("gpt-4").name == "cl100k_base"
    raw = tmp_path / "copy.tiktoken"
    raw.write_bytes(rank_file("cl100k_base"))
    enc = tokenmill.load_tokenizer(raw)
    assert enc.encode("hello world") == tiktoken.get_encoding("cl100k_base").encode("hello world")
    other = _write(tmp_path, _byte_lines())
    with pytest.raises(ValueError, match=r"bad\.tiktoken.*pattern"):
        tokenmill.load_tokenizer(other)
    assert tokenmill.load_tokenizer(other, pattern=r"\S+|\s+").encode("ab") == [97, 98]
    with pytest.raises(ValueError, match="no-such-thing"):
        tokenmill.load_tokenizer("no-such-thing")
