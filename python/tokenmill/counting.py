"""Token counting: the one counter interface every application uses, and its adapters.

Design notes
------------
Cost estimation, dataset pricing and the language report only need token *counts*. Each of them
takes a :class:`TokenCounter`: a ``name`` and ``count_batch(texts) -> counts``. A tokenmill
:class:`~tokenmill.tokenizer.Encoding` already counts through the Rust batch path (GIL released,
all cores of the bounded pool); other objects are adapted here:

* :class:`PlainTextCounter` wraps a tokenmill ``Encoding`` so that special-token look-alikes
  (``<|endoftext|>`` inside user text or a corpus sentence) count as ordinary text instead of
  raising, as ``Encoding.count``'s tiktoken-compatible default does. Text sent to a provider's API
  is user content, and a corpus is natural language: neither holds control tokens.
* :class:`EncodeCounter` adapts any object with ``encode(text)`` (a tiktoken ``Encoding``, an HF
  ``tokenizers.Tokenizer``), using its ``encode_batch`` when present and counting content only
  (tiktoken with no disallowed specials, HF without added BOS/EOS tokens).
* :func:`resolve_tokenizer` turns a name, a file path or an object into a counter.

The model-name -> encoding table is tiktoken's (``tokenizer.MODEL_TO_ENCODING`` and its prefix
rules); :func:`encoding_name_for_model` is re-exported here for the applications. Optional
``tokenizer.json`` files shipped by other packages are found by :func:`find_tokenizer_json` and
loaded by :func:`load_tokenizer_json`, which reads zipped copies without leaving files behind.

All adapters are O(total text) per call and hold no state beyond the wrapped object.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tokenmill._data import package_data_dir
from tokenmill.tokenizer import ArrowStrings, Encoding, encoding_name_for_model, load_tokenizer

if TYPE_CHECKING:  # numpy loads with the first count, not with this module
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "ArrayCounter",
    "EncodeCounter",
    "PlainTextCounter",
    "TokenCounter",
    "count_total",
    "encoding_name_for_model",
    "find_tokenizer_json",
    "load_tokenizer_json",
    "plain_text_counter",
    "resolve_tokenizer",
    "tokenizer_name",
    "unique_names",
    "unpack_tokenizer_json",
]


class TokenCounter(Protocol):
    """What the applications need from a tokenizer (``tokenmill.Encoding`` satisfies it)."""

    @property
    def name(self) -> str: ...

    def count_batch(self, texts: list[str]) -> npt.NDArray[np.int64] | Sequence[int]: ...


class ArrayCounter(TokenCounter, Protocol):
    """A :class:`TokenCounter` whose counts are an int64 array (what the adapters return)."""

    def count_batch(self, texts: Sequence[str]) -> npt.NDArray[np.int64]: ...


def count_total(counter: TokenCounter, texts: Sequence[str]) -> int:
    """The summed token count of ``texts`` (one batch call; 0 for no texts)."""
    if not texts:
        return 0
    return int(sum(int(c) for c in counter.count_batch(list(texts))))


class PlainTextCounter:
    """A tokenmill ``Encoding`` that counts special-token text as ordinary text, under ``name``."""

    def __init__(self, enc: Encoding, name: str | None = None) -> None:
        self._enc = enc
        self._name = name if name is not None else enc.name

    @property
    def name(self) -> str:
        return self._name

    def count(self, text: str) -> int:
        return self._enc.count(text, disallowed_special=())

    def count_batch(self, texts: Sequence[str] | ArrowStrings) -> npt.NDArray[np.int64]:
        """Counts of ``texts``: ``str`` s, or an Arrow string column read in place."""
        if hasattr(texts, "__arrow_c_array__"):
            return self._enc.count_batch(texts, disallowed_special=())
        return self._enc.count_batch(list(texts), disallowed_special=())

    def __repr__(self) -> str:
        return f"PlainTextCounter({self._name!r})"


class _Renamed:
    """A foreign counter shown under another name; its counts become an int64 array."""

    def __init__(self, counter: TokenCounter, name: str) -> None:
        self._counter = counter
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def count_batch(self, texts: Sequence[str]) -> npt.NDArray[np.int64]:
        import numpy as np

        return np.asarray(self._counter.count_batch(list(texts)), dtype=np.int64)


def plain_text_counter(counter: TokenCounter | Encoding, name: str | None = None) -> TokenCounter:
    """Wrap tokenmill encodings so special-token text counts as plain text; rename others."""
    if isinstance(counter, Encoding):
        return PlainTextCounter(counter, name)
    if isinstance(counter, PlainTextCounter) and name in (None, counter.name):
        return counter
    if name is None or name == counter.name:
        return counter
    return _Renamed(counter, name)


def unique_names(names: Sequence[str]) -> list[str]:
    """``names`` with repeats numbered (``cl100k_base``, ``cl100k_base#2``), order kept."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else f"{n}#{k + 1}")
    return out


def _length(encoded: Any) -> int:
    ids = getattr(encoded, "ids", encoded)  # HF Encoding has .ids; tiktoken returns a list
    return len(ids)


def tokenizer_name(obj: Any) -> str:
    """``obj.name`` when it is a non-empty string, else the type's name."""
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name:
        return name
    return type(obj).__name__


class EncodeCounter:
    """Adapt any object with ``encode(text)`` (and optionally ``encode_batch``) to counting."""

    def __init__(self, obj: Any, name: str | None = None) -> None:
        if not callable(getattr(obj, "encode", None)):
            raise TypeError(f"tokenizer {obj!r} has no encode method")
        self._obj = obj
        self._name = name or tokenizer_name(obj)
        self._batch = getattr(obj, "encode_batch", None)
        self._kwargs = self._encode_kwargs(obj)

    @staticmethod
    def _encode_kwargs(obj: Any) -> dict[str, Any]:
        # tiktoken refuses special-token text by default; counts treat it as ordinary text.
        # HF tokenizers / transformers would add BOS/EOS-style special tokens; counts measure
        # the content only, like tokenmill's own.
        module = type(obj).__module__ or ""
        if module.startswith("tiktoken"):
            return {"disallowed_special": ()}
        if module.startswith(("tokenizers", "transformers")):
            return {"add_special_tokens": False}
        return {}

    @property
    def name(self) -> str:
        return self._name

    def count_batch(self, texts: Sequence[str]) -> npt.NDArray[np.int64]:
        import numpy as np

        items = list(texts)
        if self._batch is not None and callable(self._batch):
            encoded = self._batch(items, **self._kwargs)
            return np.fromiter((_length(e) for e in encoded), dtype=np.int64, count=len(items))
        enc = self._obj.encode
        return np.fromiter(
            (_length(enc(t, **self._kwargs)) for t in items), dtype=np.int64, count=len(items)
        )

    def __repr__(self) -> str:
        return f"EncodeCounter({self._name!r})"


def resolve_tokenizer(spec: Any) -> ArrayCounter:
    """A bundled encoding name, an OpenAI model name, a ``.tiktoken`` / ``tokenizer.json`` path,
    or a tokenizer object -> a counter that counts special-token text as plain text.

    Raises ``ValueError`` naming ``spec`` when it cannot be loaded, ``TypeError`` for an object with
    neither ``count_batch`` nor ``encode``.
    """
    if isinstance(spec, (str, Path)):
        return _load_spec(spec)
    if callable(getattr(spec, "count_batch", None)) and isinstance(
        getattr(spec, "name", None), str
    ):
        if isinstance(spec, Encoding):
            return PlainTextCounter(spec)
        return _Renamed(spec, spec.name)
    if callable(getattr(spec, "encode", None)):
        return EncodeCounter(spec)
    raise TypeError(
        f"tokenizer {spec!r} is neither a name, a path, nor an object with an encode method"
    )


def _load_spec(spec: str | Path) -> ArrayCounter:
    text = str(spec)
    path = Path(text)
    looks_like_path = (
        isinstance(spec, Path)
        or path.suffix in (".tiktoken", ".json", ".gz")
        or ("/" in text or "\\" in text)
    )
    try:
        if looks_like_path:
            if not path.exists():
                raise FileNotFoundError(f"no such file: {path}")
            return PlainTextCounter(load_tokenizer(str(path)), _display_name(path))
        # a bundled encoding name, or an OpenAI model name (gpt-4o -> o200k_base)
        enc = load_tokenizer(text)
    except Exception as exc:
        raise ValueError(f"tokenizer {text!r} failed to load: {exc}") from exc
    return PlainTextCounter(enc, text)


def _display_name(path: Path) -> str:
    if path.name == "tokenizer.json" and path.parent.name:
        return path.parent.name
    name = path.name
    for suffix in (".gz", ".tiktoken", ".json"):
        name = name.removesuffix(suffix)
    return name or str(path)


# --- optional tokenizer.json files of other packages ---------------------------------------------


def find_tokenizer_json(package: str, name: str) -> Path:
    """``<package>/data/<name>/tokenizer.json`` (or ``.json.zip``), without importing the package.

    Raises ``ModuleNotFoundError`` when the package is not installed and ``FileNotFoundError``
    when it has no such model.
    """
    data = package_data_dir(package)
    if data is None:
        raise ModuleNotFoundError(f"{package} is not installed")
    base = data / name
    for candidate in (base / "tokenizer.json", base / "tokenizer.json.zip"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{package} has no tokenizer.json for {name!r}")


def _zipped_tokenizer_json(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        member = next((m for m in zf.namelist() if m.endswith("tokenizer.json")), None)
        if member is None:
            raise FileNotFoundError(f"{path} holds no tokenizer.json")
        return zf.read(member)


def unpack_tokenizer_json(path: Path, directory: Path) -> Path:
    """A plain ``tokenizer.json`` for ``path``: itself, or its zip's member written once into
    ``directory`` (named after the model directory)."""
    if path.suffix != ".zip":
        return path
    target = directory / f"{path.parent.name}-tokenizer.json"
    if not target.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(_zipped_tokenizer_json(path))
        tmp.replace(target)
    return target


def load_tokenizer_json(path: Path) -> Encoding:
    """An ``Encoding`` from a ``tokenizer.json`` or a zip holding one (unpacked to a temporary
    directory that is removed afterwards); named after the model directory."""
    if path.suffix != ".zip":
        return Encoding.from_tokenizer_json(path)
    with tempfile.TemporaryDirectory(prefix="tokenmill-") as tmp:
        plain = unpack_tokenizer_json(path, Path(tmp))
        return Encoding.from_tokenizer_json(plain, name=path.parent.name)
