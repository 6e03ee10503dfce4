"""Exact byte-level BPE tokenization: the bundled OpenAI encodings, any ``.tiktoken`` file,
Hugging Face ``tokenizer.json`` byte-level BPE models.

``Encoding`` mirrors tiktoken's API (``encode``, ``encode_ordinary``, ``encode_batch``,
``decode``, ``decode_bytes``, ``n_vocab``, ``name``, ``special_tokens``) and adds counting that
never materialises tokens (``count``, ``count_batch``, ``count_till_limit``). All work runs in
Rust with the GIL released; batches run in parallel on tokenmill's bounded thread pool.

Lone surrogates: a ``str`` holding lone surrogates (e.g. ``"\\ud800"``) is not valid Unicode.
Like tiktoken, tokenmill replaces each lone surrogate with U+FFFD before tokenizing, so
``decode(encode(s))`` returns the repaired string.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from tokenmill import _native
from tokenmill._data import DATA_DIR

if TYPE_CHECKING:  # numpy is imported by the extension on first use; keep this import cheap
    import numpy as np
    import numpy.typing as npt

# sha256 of the decompressed rank files, as published in tiktoken's
# `tiktoken_ext/openai_public.py` (tiktoken 0.14).
BUNDLED_SHA256: dict[str, str] = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

# Encodings built from a bundled rank file with other special tokens (tiktoken's o200k_harmony).
_HARMONY_SPECIALS: dict[str, int] = {
    "<|endoftext|>": 199999,
    "<|endofprompt|>": 200018,
    "<|startoftext|>": 199998,
    "<|reserved_200000|>": 200000,
    "<|reserved_200001|>": 200001,
    "<|return|>": 200002,
    "<|constrain|>": 200003,
    "<|reserved_200004|>": 200004,
    "<|channel|>": 200005,
    "<|start|>": 200006,
    "<|end|>": 200007,
    "<|message|>": 200008,
    "<|reserved_200009|>": 200009,
    "<|reserved_200010|>": 200010,
    "<|reserved_200011|>": 200011,
    "<|call|>": 200012,
} | {f"<|reserved_{i}|>": i for i in range(200013, 201088)}

# Model name -> encoding, and prefix rules (facts from tiktoken 0.14's `tiktoken/model.py`, for
# the encodings tokenmill bundles).
MODEL_TO_ENCODING: dict[str, str] = {
    "o1": "o200k_base",
    "o3": "o200k_base",
    "o4-mini": "o200k_base",
    "gpt-5": "o200k_base",
    "gpt-4.1": "o200k_base",
    "gpt-4o": "o200k_base",
    "gpt-4": "cl100k_base",
    "gpt-3.5-turbo": "cl100k_base",
    "gpt-3.5": "cl100k_base",
    "gpt-35-turbo": "cl100k_base",
    "davinci-002": "cl100k_base",
    "babbage-002": "cl100k_base",
    "text-embedding-ada-002": "cl100k_base",
    "text-embedding-3-small": "cl100k_base",
    "text-embedding-3-large": "cl100k_base",
}
MODEL_PREFIX_TO_ENCODING: dict[str, str] = {
    "o1-": "o200k_base",
    "o3-": "o200k_base",
    "o4-mini-": "o200k_base",
    "gpt-5": "o200k_base",
    "gpt-4.5-": "o200k_base",
    "gpt-4.1-": "o200k_base",
    "chatgpt-4o-": "o200k_base",
    "gpt-4o-": "o200k_base",
    "gpt-4-": "cl100k_base",
    "gpt-3.5-turbo-": "cl100k_base",
    "gpt-35-turbo-": "cl100k_base",
    "gpt-oss-": "o200k_harmony",
    "ft:gpt-4o": "o200k_base",
    "ft:gpt-4": "cl100k_base",
    "ft:gpt-3.5-turbo": "cl100k_base",
    "ft:davinci-002": "cl100k_base",
    "ft:babbage-002": "cl100k_base",
}

SpecialArg = Literal["all"] | Collection[str]
# Path of a bundled rank file (kept for users who want the raw file; loading uses the copy
# embedded in the extension at build time).


_NONE: list[str] = []  # "no special token", passed as is (never mutated)


def _resolve(arg: SpecialArg, what: str) -> list[str] | None:
    """tiktoken's special-token argument -> the native form (None = all)."""
    if isinstance(arg, str):
        if arg == "all":
            return None
        raise ValueError(f"{what} must be 'all' or a collection of strings, got {arg!r}")
    names = list(arg)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{what} must contain strings, got {type(name).__name__}")
    return names


class ArrowStrings(Protocol):
    """An Arrow string column exported through the Arrow PyCapsule protocol."""

    def __arrow_c_array__(self, requested_schema: object = None) -> tuple[object, object]: ...


def _texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("expected a sequence of str, got a single str (wrap it in a list)")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] must be str, got {type(t).__name__}")
    return out


class Encoding:
    """A tokenizer (tiktoken-compatible API plus exact, fast counting)."""

    __slots__ = ("_core",)

    def __init__(self, core: _native.Encoding) -> None:
        self._core = core

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def from_tiktoken(
        cls,
        path: str | Path,
        *,
        pattern: str,
        special_tokens: Mapping[str, int] | None = None,
        name: str | None = None,
    ) -> Encoding:
        """Load a ``.tiktoken`` rank file (plain or gzip) with its split ``pattern``.

        Malformed files raise ``ValueError`` naming the line (bad base64, duplicate rank, gap).
        """
        p = Path(path)
        specials = sorted((dict(special_tokens or {})).items(), key=lambda kv: kv[1])
        core = _native.Encoding.from_tiktoken(str(p), pattern, specials, name or p.stem)
        return cls(core)

    @classmethod
    def from_tokenizer_json(cls, path: str | Path, *, name: str | None = None) -> Encoding:
        """Load a Hugging Face ``tokenizer.json`` byte-level BPE model (Llama-3, Qwen, DeepSeek,
        GLM, MiniMax, GPT-2 style), token-for-token identical to HF ``tokenizers``.

        Its normalizer, pre-tokenizer (split regexes run as Oniguruma reads them), merges and
        added tokens are honoured. Special added tokens follow ``allowed_special`` like
        tiktoken's; non-special added tokens (e.g. ``<think>``) are always recognised, as HF
        does; all of them are listed in ``special_tokens``. The post-processor is ignored: no
        BOS/EOS is added, which matches HF's ``encode(text, add_special_tokens=False)`` when
        called with ``allowed_special="all"``. Anything unsupported (a Unigram or WordPiece
        model, a Metaspace pre-tokenizer, ...) raises ``ValueError`` naming the JSON field.
        ``name`` defaults to the file's directory name for ``tokenizer.json``.
        """
        p = Path(path)
        default = p.parent.name if p.name == "tokenizer.json" and p.parent.name else p.stem
        return cls(_native.Encoding.from_tokenizer_json(str(p), name or default))

    @classmethod
    def from_file(cls, path: str | Path, *, name: str | None = None) -> Encoding:
        """Load a tokenizer file, recognised by its content (not its name):

        * a Hugging Face ``tokenizer.json``: byte-level BPE (see ``from_tokenizer_json``), or
          SentencePiece-style (``Metaspace`` pre-tokenizer or ``▁`` normalizers, BPE with
          ``byte_fallback``, ``Unigram``), token-for-token identical to HF ``tokenizers``;
        * a Mistral ``tekken.json``, identical to ``mistral_common``'s ``Tekkenizer``;
        * a SentencePiece ``.model`` (BPE or Unigram, ``identity`` normalization), identical
          to the ``sentencepiece`` package.

        Control, unknown and added special tokens are listed in ``special_tokens`` and follow
        ``allowed_special`` (``sentencepiece`` and ``mistral_common`` never read them from
        text: pass ``disallowed_special=()`` for their behaviour); they decode to their text.
        SentencePiece user-defined symbols are always recognised, as ``sentencepiece`` does.
        Unsupported parts (WordPiece models, character-map normalization such as
        ``nmt_nfkc``, ...) raise ``ValueError`` naming the field or byte offset.
        """
        p = Path(path)
        default = p.parent.name if p.name == "tokenizer.json" and p.parent.name else p.stem
        core, _format = _native.Encoding.from_file(str(p), name or default)
        return cls(core)

    # -- properties --------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def n_vocab(self) -> int:
        """One past the largest token id, special tokens included (as tiktoken)."""
        return self._core.n_vocab

    @property
    def special_tokens(self) -> dict[str, int]:
        return self._core.special_tokens

    @property
    def special_tokens_set(self) -> set[str]:
        return set(self._core.special_tokens)

    @property
    def eot_token(self) -> int:
        """The id of ``<|endoftext|>``."""
        specials = self._core.special_tokens
        if "<|endoftext|>" not in specials:
            raise AttributeError(f"encoding {self.name!r} has no <|endoftext|> token")
        return specials["<|endoftext|>"]

    # -- encoding ----------------------------------------------------------------------------

    def encode(
        self,
        text: str,
        *,
        allowed_special: SpecialArg = frozenset(),
        disallowed_special: SpecialArg = "all",
    ) -> list[int]:
        """Token ids of ``text``, with tiktoken's special-token semantics.

        A special token in the text that is disallowed raises ``ValueError``; an allowed one
        becomes its id; any other is encoded as ordinary text.
        """
        if disallowed_special == "all" and not allowed_special and type(allowed_special) is not str:
            return self._core.encode(text, _NONE, None)
        return self._core.encode(
            text,
            _resolve(allowed_special, "allowed_special"),
            _resolve(disallowed_special, "disallowed_special"),
        )

    def encode_ordinary(self, text: str) -> list[int]:
        """Token ids of ``text``, treating special tokens as ordinary text."""
        return self._core.encode_ordinary(text)

    def encode_batch(
        self,
        texts: Sequence[str],
        *,
        allowed_special: SpecialArg = frozenset(),
        disallowed_special: SpecialArg = "all",
    ) -> list[list[int]]:
        """``encode`` of each text, in parallel."""
        return self._core.encode_batch(
            _texts(texts),
            _resolve(allowed_special, "allowed_special"),
            _resolve(disallowed_special, "disallowed_special"),
        )

    def encode_ordinary_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """``encode_ordinary`` of each text, in parallel."""
        return self._core.encode_batch(_texts(texts), [], [])

    # -- counting ----------------------------------------------------------------------------

    def count(
        self,
        text: str,
        *,
        allowed_special: SpecialArg = frozenset(),
        disallowed_special: SpecialArg = "all",
    ) -> int:
        """``len(encode(text, ...))`` without building the token list."""
        if disallowed_special == "all" and not allowed_special and type(allowed_special) is not str:
            # tiktoken's defaults: skip argument resolution (it dominates for short texts).
            return self._core.count(text, _NONE, None)
        return self._core.count(
            text,
            _resolve(allowed_special, "allowed_special"),
            _resolve(disallowed_special, "disallowed_special"),
        )

    def count_ordinary(self, text: str) -> int:
        """``len(encode_ordinary(text))`` without building the token list."""
        return self._core.count_ordinary(text)

    def count_batch(
        self,
        texts: Sequence[str] | ArrowStrings,
        *,
        allowed_special: SpecialArg = frozenset(),
        disallowed_special: SpecialArg = "all",
    ) -> npt.NDArray[np.int64]:
        """Token count of each text (int64 array), in parallel.

        ``texts`` is a sequence of ``str``, or an Arrow string column: any object with
        ``__arrow_c_array__`` (a ``pyarrow`` ``string`` / ``large_string`` array, a polars
        string Series' Arrow export …) is read in place, without a Python ``str`` per row; a
        ``pyarrow.ChunkedArray`` is read chunk by chunk. A null row raises ``ValueError``
        naming it.
        """
        allowed = _resolve(allowed_special, "allowed_special")
        disallowed = _resolve(disallowed_special, "disallowed_special")
        if hasattr(texts, "__arrow_c_array__"):
            return self._core.count_arrow(texts, allowed, disallowed)
        chunks = getattr(texts, "chunks", None)
        if hasattr(texts, "__arrow_c_stream__") and isinstance(chunks, list):
            import numpy as np  # deferred: see the note at the top of the module

            counts = [self._core.count_arrow(c, allowed, disallowed) for c in chunks]
            return np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
        return self._core.count_batch(_texts(texts), allowed, disallowed)

    def count_till_limit(
        self,
        text: str,
        limit: int,
        *,
        allowed_special: SpecialArg = frozenset(),
        disallowed_special: SpecialArg = "all",
    ) -> int | None:
        """The token count if it is at most ``limit``, else ``None``.

        Tokenizing stops as soon as the count passes the limit, so the cost is proportional to
        the limit, not to the text.
        """
        return self._core.count_till_limit(
            text,
            limit,
            _resolve(allowed_special, "allowed_special"),
            _resolve(disallowed_special, "disallowed_special"),
        )

    # -- decoding ----------------------------------------------------------------------------

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        """The bytes of ``tokens``; an id outside the vocabulary raises ``ValueError``."""
        return self._core.decode_bytes(list(tokens))

    def decode(self, tokens: Sequence[int], errors: str = "replace") -> str:
        """``decode_bytes(tokens).decode("utf-8", errors)``."""
        return self._core.decode_bytes(list(tokens)).decode("utf-8", errors=errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        """The bytes of one token."""
        return self._core.decode_single_token_bytes(token)

    def __repr__(self) -> str:
        return f"<Encoding {self.name!r}>"


# -- registry ------------------------------------------------------------------------------------

_CACHE: dict[str, Encoding] = {}
_LOCK = threading.Lock()


def list_encodings() -> list[str]:
    """Names ``get_encoding`` accepts."""
    return [*BUNDLED_SHA256, "o200k_harmony"]


def _bundled_file(name: str) -> Path:
    return DATA_DIR / f"{name}.tiktoken.gz"


def get_encoding(name: str) -> Encoding:
    """A bundled encoding (offline; loaded once per process)."""
    enc = _CACHE.get(name)
    if enc is not None:
        return enc
    with _LOCK:
        enc = _CACHE.get(name)
        if enc is not None:
            return enc
        if name in BUNDLED_SHA256:
            enc = Encoding(_native.Encoding.openai(name))
        elif name == "o200k_harmony":
            enc = Encoding.from_tiktoken(
                _bundled_file("o200k_base"),
                pattern=_pattern("o200k_base"),
                special_tokens=_HARMONY_SPECIALS,
                name=name,
            )
        else:
            import difflib

            close = difflib.get_close_matches(name, list_encodings(), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(
                f"unknown encoding {name!r}: known are {', '.join(list_encodings())}{hint}"
            )
        _CACHE[name] = enc
        return enc


def _pattern(name: str) -> str:
    pattern = _native.Encoding.openai_pattern(name)
    if pattern is None:
        raise ValueError(f"no split pattern for {name!r}")
    return pattern


def encoding_name_for_model(model: str) -> str:
    """The encoding name of an OpenAI model (tiktoken's exact names, then its prefix rules)."""
    if model in MODEL_TO_ENCODING:
        return MODEL_TO_ENCODING[model]
    for prefix, name in MODEL_PREFIX_TO_ENCODING.items():
        if model.startswith(prefix):
            return name
    import difflib

    candidates = list(MODEL_TO_ENCODING) + [p.rstrip("-") for p in MODEL_PREFIX_TO_ENCODING]
    close = difflib.get_close_matches(model, candidates, n=4, cutoff=0.5)
    hint = f"; close names: {', '.join(map(repr, close))}" if close else ""
    raise KeyError(f"unknown model {model!r}: cannot map it to an encoding{hint}")


def encoding_for_model(model: str) -> Encoding:
    """The encoding an OpenAI model uses; unknown names raise ``KeyError`` with close names."""
    return get_encoding(encoding_name_for_model(model))


def _sha256_of_rank_file(path: Path) -> str:
    import gzip
    import hashlib

    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return hashlib.sha256(data).hexdigest()


def _is_rank_file(path: Path) -> bool:
    """Whether ``path`` holds a ``.tiktoken`` rank file (gzip, or ``<base64> <rank>`` lines)."""
    import re

    with path.open("rb") as f:
        head = f.read(256)
    return head[:2] == b"\x1f\x8b" or re.match(rb"[A-Za-z0-9+/]+=* \d+\r?\n", head) is not None


def load_tokenizer(
    spec: str | Path,
    *,
    pattern: str | None = None,
    special_tokens: Mapping[str, int] | None = None,
) -> Encoding:
    """An encoding from a bundled name, an OpenAI model name, or a file path: a ``.tiktoken``
    rank file, a ``tokenizer.json``, a ``tekken.json`` or a SentencePiece ``.model``
    (recognised by content, see ``Encoding.from_file``).

    A ``.tiktoken`` file needs its split ``pattern``; it may be omitted only when the file is
    byte-identical to a bundled encoding (checked by sha256).
    """
    text = str(spec)
    if isinstance(spec, str):
        if spec in list_encodings():
            return get_encoding(spec)
        try:
            return encoding_for_model(spec)
        except KeyError:
            pass
    path = Path(text)
    if not path.exists():
        raise ValueError(
            f"load_tokenizer({text!r}): not a bundled encoding ({', '.join(list_encodings())}), "
            "not a known OpenAI model name, and no such file"
        )
    if not _is_rank_file(path):
        return Encoding.from_file(path)
    if pattern is None:
        digest = _sha256_of_rank_file(path)
        match = [n for n, h in BUNDLED_SHA256.items() if h == digest]
        if not match:
            raise ValueError(
                f"load_tokenizer({text!r}): a .tiktoken file needs its split pattern "
                "(pass pattern=...); it is not identical to a bundled encoding"
            )
        pattern = _pattern(match[0])
        if special_tokens is None:
            special_tokens = get_encoding(match[0]).special_tokens
    try:
        return Encoding.from_tiktoken(
            path, pattern=pattern, special_tokens=special_tokens, name=path.name.split(".")[0]
        )
    except ValueError as e:
        raise ValueError(f"load_tokenizer({text!r}): {e}") from e
