"""Tokenizer resolution for the report: names, files and foreign objects -> one counting interface.

Design notes
------------
The report only needs token *counts*. Every tokenizer is adapted to :class:`TokenCounter`:
``name`` plus ``count_batch(texts) -> np.ndarray[int64]``. tokenmill encodings already have it and
count through the Rust batch path (GIL released, all cores of the bounded pool). Foreign objects
with an ``encode`` method (a tiktoken ``Encoding``, an HF ``tokenizers.Tokenizer`` whose ``encode``
returns an object with ``.ids``) are wrapped; their ``encode_batch`` is used when present. Work is
O(total text) per tokenizer; the wrappers hold no state beyond the wrapped object.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["EncodeCounter", "TokenCounter", "resolve_tokenizer", "tokenizer_name"]

DEFAULT_TOKENIZERS = ("cl100k_base", "o200k_base")


@runtime_checkable
class TokenCounter(Protocol):
    """What the report needs from a tokenizer."""

    @property
    def name(self) -> str: ...

    def count_batch(self, texts: Sequence[str]) -> npt.NDArray[np.int64]: ...


def _length(encoded: Any) -> int:
    ids = getattr(encoded, "ids", encoded)  # HF Encoding has .ids; tiktoken returns a list
    return len(ids)


def tokenizer_name(obj: Any) -> str:
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
        # tiktoken refuses special-token text by default; the report counts it as ordinary text.
        # HF tokenizers / transformers would add BOS/EOS-style special tokens; the report
        # measures the content only, like tokenmill's own counts.
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


class _NamedCounter:
    """An object with ``count_batch`` under a display name. A tokenmill :class:`Encoding` is told
    to count special-token text (``<|endoftext|>``) as ordinary text, as the report measures
    natural-language corpora and must not fail on a sentence that happens to contain one."""

    def __init__(self, enc: Any, name: str) -> None:
        from tokenmill.tokenizer import Encoding

        self._enc = enc
        self._name = name
        self._kwargs: dict[str, Any] = (
            {"disallowed_special": ()} if isinstance(enc, Encoding) else {}
        )

    @property
    def name(self) -> str:
        return self._name

    def count_batch(self, texts: Sequence[str]) -> npt.NDArray[np.int64]:
        return np.asarray(self._enc.count_batch(list(texts), **self._kwargs), dtype=np.int64)


def resolve_tokenizer(spec: Any) -> TokenCounter:
    """A bundled encoding name, a ``.tiktoken`` / ``tokenizer.json`` path, or a tokenizer object.

    Raises ``ValueError`` naming ``spec`` when it cannot be loaded, ``TypeError`` for an object with
    neither ``count_batch`` nor ``encode``.
    """
    if isinstance(spec, (str, Path)):
        return _load_spec(spec)
    if callable(getattr(spec, "count_batch", None)) and isinstance(
        getattr(spec, "name", None), str
    ):
        return _NamedCounter(spec, spec.name)
    if callable(getattr(spec, "encode", None)):
        return EncodeCounter(spec)
    raise TypeError(
        f"tokenizer {spec!r} is neither a name, a path, nor an object with an encode method"
    )


def _load_spec(spec: str | Path) -> TokenCounter:
    import tokenmill

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
            enc = tokenmill.load_tokenizer(str(path))
            return _NamedCounter(enc, _display_name(path))
        # a bundled encoding name, or an OpenAI model name (gpt-4o -> o200k_base)
        enc = tokenmill.load_tokenizer(text)
    except Exception as exc:
        raise ValueError(f"tokenizer {text!r} failed to load: {exc}") from exc
    return _NamedCounter(enc, text)


def _display_name(path: Path) -> str:
    if path.name == "tokenizer.json" and path.parent.name:
        return path.parent.name
    name = path.name
    for suffix in (".gz", ".tiktoken", ".json"):
        name = name.removesuffix(suffix)
    return name or str(path)
