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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from tokenmill import _native

if TYPE_CHECKING:  # numpy is imported by the extension on first use; keep this import cheap
    import numpy as np
    import numpy.typing as npt

# The bundled rank files: name -> sha256 of the `.tiktoken` file as tiktoken 0.14 publishes it
# (`tiktoken_ext/openai_public.py`): r50k_base, p50k_base, cl100k_base, o200k_base. The files, the
# encodings built on them (gpt2, p50k_edit, o200k_harmony too) and these hashes live in the
# extension's registry (`rust/bpe/src/registry.rs`).
BUNDLED_SHA256: dict[str, str] = dict(_native.openai_rank_files())

# Model name -> encoding, and prefix rules (facts from tiktoken 0.14's `tiktoken/model.py`).
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
    # GPT-3 era (tiktoken 0.14's `tiktoken/model.py`)
    "text-davinci-003": "p50k_base",
    "text-davinci-002": "p50k_base",
    "text-davinci-001": "r50k_base",
    "text-curie-001": "r50k_base",
    "text-babbage-001": "r50k_base",
    "text-ada-001": "r50k_base",
    "davinci": "r50k_base",
    "curie": "r50k_base",
    "babbage": "r50k_base",
    "ada": "r50k_base",
    "code-davinci-002": "p50k_base",
    "code-davinci-001": "p50k_base",
    "code-cushman-002": "p50k_base",
    "code-cushman-001": "p50k_base",
    "davinci-codex": "p50k_base",
    "cushman-codex": "p50k_base",
    "text-davinci-edit-001": "p50k_edit",
    "code-davinci-edit-001": "p50k_edit",
    "text-similarity-davinci-001": "r50k_base",
    "text-similarity-curie-001": "r50k_base",
    "text-similarity-babbage-001": "r50k_base",
    "text-similarity-ada-001": "r50k_base",
    "text-search-davinci-doc-001": "r50k_base",
    "text-search-curie-doc-001": "r50k_base",
    "text-search-babbage-doc-001": "r50k_base",
    "text-search-ada-doc-001": "r50k_base",
    "code-search-babbage-code-001": "r50k_base",
    "code-search-ada-code-001": "r50k_base",
    "gpt2": "gpt2",
    "gpt-2": "gpt2",
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


_NONE: list[str] = []  # "no special token", passed as is (never mutated)


@dataclass(frozen=True)
class AddedToken:
    """A token outside the BPE merges: its text, id, and whether Hugging Face treats it as
    special (``skip_special_tokens`` drops it)."""

    content: str
    id: int
    special: bool


class UnknownTokenError(KeyError, ValueError):
    """A token id outside the vocabulary: a ``KeyError`` as tiktoken raises, and a
    ``ValueError`` as earlier tokenmill versions did."""


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


def _rank_file_bytes(mergeable_ranks: Mapping[bytes, int]) -> bytes:
    """tiktoken's ``mergeable_ranks`` dict in the ``.tiktoken`` text format (base64 token, rank),
    ordered by rank: the form the native loader parses and checks (gaps, duplicates)."""
    import base64

    items = sorted(mergeable_ranks.items(), key=lambda kv: kv[1])
    return b"".join(base64.b64encode(tok) + b" %d\n" % rank for tok, rank in items)


# transformers' apply_chat_template arguments that shape tensors; tokenmill returns plain lists.
_NOT_CHAT_TEMPLATE_ARGS = frozenset(
    {
        "padding",
        "truncation",
        "max_length",
        "return_tensors",
        "tokenizer_kwargs",
        "sanitize_control_tokens",
    }
)


def _span_mask(tokens: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> list[int]:
    """1 for each token (character span) that overlaps one of ``spans`` (in order), else 0."""
    mask = [0] * len(tokens)
    k = 0
    for i, (start, end) in enumerate(tokens):
        while k < len(spans) and start >= spans[k][1]:
            k += 1
        if k == len(spans):
            break
        if end > spans[k][0]:
            mask[i] = 1
    return mask


class Encoding:
    """A tokenizer (tiktoken-compatible API plus exact, fast counting).

    ``Encoding(name, *, pat_str, mergeable_ranks, special_tokens, explicit_n_vocab=None)``
    builds one from tiktoken's constructor arguments; ``get_encoding``, ``from_tiktoken`` and
    ``from_tokenizer_json`` are the usual ways in.
    """

    __slots__ = ("_config", "_core", "_origin", "_post", "_special_ids")

    def __init__(
        self,
        name: str | _native.Encoding,
        *,
        pat_str: str | None = None,
        mergeable_ranks: Mapping[bytes, int] | None = None,
        special_tokens: Mapping[str, int] | None = None,
        explicit_n_vocab: int | None = None,
    ) -> None:
        self._special_ids: frozenset[int] | None = None
        # ids the post-processor adds around one sequence (tokenizer.json), and
        # tokenizer_config.json's fields when the encoding was loaded from a model directory
        self._post: tuple[list[int], list[int]] = ([], [])
        self._config: dict[str, Any] = {}
        if isinstance(name, _native.Encoding):
            self._core = name
            self._origin: tuple[object, ...] | None = None
            return
        if pat_str is None or mergeable_ranks is None or special_tokens is None:
            raise TypeError(
                "Encoding(name, *, pat_str=..., mergeable_ranks=..., special_tokens=...) needs "
                "all three keyword arguments (as tiktoken's Encoding)"
            )
        specials = sorted(dict(special_tokens).items(), key=lambda kv: kv[1])
        self._core = _native.Encoding.from_tiktoken_bytes(
            _rank_file_bytes(mergeable_ranks), pat_str, specials, name
        )
        self._origin = ("ranks", name, pat_str, mergeable_ranks, dict(special_tokens))
        if explicit_n_vocab is not None:
            n = len(mergeable_ranks) + len(special_tokens)
            if n != explicit_n_vocab or self.max_token_value != explicit_n_vocab - 1:
                raise ValueError(
                    f"explicit_n_vocab={explicit_n_vocab}, but there are {n} tokens and the "
                    f"largest id is {self.max_token_value}"
                )

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
        enc = cls(core)
        enc._origin = ("tiktoken", str(p.resolve()), pattern, tuple(specials), core.name)
        return enc

    @classmethod
    def from_tokenizer_json(cls, path: str | Path, *, name: str | None = None) -> Encoding:
        """Load a Hugging Face ``tokenizer.json``: byte-level BPE (Llama-3, Qwen, DeepSeek, GLM,
        MiniMax, GPT-2 style) or SentencePiece-style (Metaspace, BPE with ``byte_fallback``,
        Unigram; see ``from_file``), token-for-token identical to HF ``tokenizers``.

        Its normalizer, pre-tokenizer (split regexes run as Oniguruma reads them), merges and
        added tokens are honoured. Special added tokens follow ``allowed_special`` like
        tiktoken's; non-special added tokens (e.g. ``<think>``) are always recognised, as HF
        does; all of them are listed in ``special_tokens``. By default nothing is added around
        the text, which matches HF's ``encode(text, add_special_tokens=False)`` when called with
        ``allowed_special="all"``; ``encode(..., add_special_tokens=True)`` adds what the file's
        post-processor adds (``TemplateProcessing``, ``ByteLevel``, ``Bert/RobertaProcessing``,
        ``Sequence``), as HF's default does. SentencePiece-style files (Metaspace, BPE with
        ``byte_fallback``, Unigram) load too (see ``from_file``). Anything unsupported (an
        unknown post-processor, a WordPiece model, a ``Split`` pre-tokenizer in a
        SentencePiece-style file, ...) raises ``ValueError`` naming the JSON field. ``name``
        defaults to the file's directory name for ``tokenizer.json``.

        The tables built from a byte-level BPE file are cached on disk, keyed by the file's
        sha256, so loading the same file again skips parsing it: in ``TOKENMILL_CACHE_DIR`` if
        set (set and empty: no cache), else ``$XDG_CACHE_HOME/tokenmill`` (``~/.cache``,
        ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows). An entry that fails its
        checksum or checks is rebuilt from the file; an unwritable directory is skipped.
        """
        p = Path(path)
        default = p.parent.name if p.name == "tokenizer.json" and p.parent.name else p.stem
        core, prefix, suffix, _cache = _native.Encoding.from_tokenizer_json(str(p), name or default)
        enc = cls(core)
        enc._post = (prefix, suffix)
        enc._origin = ("tokenizer.json", str(p.resolve()), enc.name)
        return enc

    @classmethod
    def from_file(cls, path: str | Path, *, name: str | None = None) -> Encoding:
        """Load a tokenizer file, recognised by its content (not its name):

        * a Hugging Face ``tokenizer.json``: byte-level BPE (see ``from_tokenizer_json``), or
          SentencePiece-style (``Metaspace`` pre-tokenizer or ``▁`` normalizers, BPE with
          ``byte_fallback``, ``Unigram``), token-for-token identical to HF ``tokenizers``;
        * a Mistral ``tekken.json``, identical to ``mistral_common``'s ``Tekkenizer``;
        * a SentencePiece ``.model`` (BPE or Unigram; its normalization rules, ``nmt_nfkc``
          included), identical to the ``sentencepiece`` package.

        Control, unknown and added special tokens are listed in ``special_tokens`` and follow
        ``allowed_special`` (``sentencepiece`` and ``mistral_common`` never read them from
        text: pass ``disallowed_special=()`` for their behaviour); they decode to their text.
        SentencePiece user-defined symbols are always recognised, as ``sentencepiece`` does.
        Unsupported parts (WordPiece models, ``treat_whitespace_as_suffix``, ...) raise
        ``ValueError`` naming the field or byte offset.

        ``encode(..., add_special_tokens=True)`` adds: for a ``tokenizer.json``, what its
        post-processor adds (as HF's ``encode(text)``); for a ``.model``, the BOS piece before
        the text, as ``sentencepiece``'s ``encode(text, add_bos=True)`` (nothing when the model
        has no BOS control piece; EOS is never added, as Llama-2 / Mistral tokenizers do not);
        for a ``tekken.json``, ``<s>``, as ``mistral_common``'s ``encode(text, bos=True,
        eos=False)``.
        """
        p = Path(path)
        default = p.parent.name if p.name == "tokenizer.json" and p.parent.name else p.stem
        core, fmt = _native.Encoding.from_file(str(p), name or default)
        enc = cls(core)
        if fmt == "tokenizer.json":
            enc._post = _native.Encoding.hf_post_template(str(p))
        elif fmt == "sentencepiece":
            bos, _eos = _native.Encoding.sentencepiece_bos_eos(str(p))
            enc._post = ([bos] if bos is not None else [], [])
        elif fmt == "tekken.json":
            enc._post = ([core.special_tokens["<s>"]], [])
        enc._origin = ("file", str(p.resolve()), enc.name)
        return enc

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
    def max_token_value(self) -> int:
        """The largest token id, regular or special (tiktoken's ``max_token_value``)."""
        return self._core.n_vocab - 1

    def is_special_token(self, token: int) -> bool:
        """Whether ``token`` is the id of a special token (tiktoken's sense: any entry of
        ``special_tokens``, Hugging Face's non-special added tokens included)."""
        ids = self._special_ids
        if ids is None:
            ids = self._special_ids = frozenset(self._core.special_tokens.values())
        return token in ids

    def token_byte_values(self) -> list[bytes]:
        """The bytes of every regular token, sorted bytewise (as tiktoken)."""
        return self._core.token_byte_values()

    # -- Hugging Face's token-level API ------------------------------------------------------

    def token_to_id(self, token: str) -> int | None:
        """The id of a token string as Hugging Face writes it (an added token's content, else
        the bytes in GPT-2's byte-level alphabet: ``"Ġhello"``); ``None`` if there is none."""
        return self._core.token_to_id(token)

    def id_to_token(self, token_id: int) -> str | None:
        """The token string of an id, as Hugging Face's ``id_to_token``; ``None`` outside the
        vocabulary."""
        return self._core.id_to_token(token_id)

    @property
    def added_tokens(self) -> list[AddedToken]:
        """The tokens outside the BPE merges (all special tokens of a tiktoken encoding; the
        ``added_tokens`` of a ``tokenizer.json``), in id order, each with Hugging Face's
        ``special`` flag (``<think>`` in Qwen 3 is not special)."""
        core = self._core
        items = sorted(core.special_tokens.items(), key=lambda kv: (kv[1], kv[0]))
        return [AddedToken(s, i, core.is_hf_special(i)) for s, i in items]

    def _config_token_id(self, key: str) -> int | None:
        tok = self._config.get(key)
        if isinstance(tok, dict):
            tok = tok.get("content")
        return self.token_to_id(tok) if isinstance(tok, str) else None

    @property
    def bos_token_id(self) -> int | None:
        """``tokenizer_config.json``'s ``bos_token`` when the encoding was loaded with one
        (``load_tokenizer`` on a model directory; ``None`` if it names none, as transformers);
        without a config, the first id the post-processor puts before the text, else ``None``."""
        if self._config:
            return self._config_token_id("bos_token")
        prefix = self._post[0]
        return prefix[0] if prefix else None

    @property
    def eos_token_id(self) -> int | None:
        """``tokenizer_config.json``'s ``eos_token`` when loaded with one; without a config, the
        last id the post-processor puts after the text, else ``None``."""
        if self._config:
            return self._config_token_id("eos_token")
        suffix = self._post[1]
        return suffix[-1] if suffix else None

    # -- chat templates ----------------------------------------------------------------------

    @property
    def chat_template(self) -> str | dict[str, str] | None:
        """The chat template from ``tokenizer_config.json`` / ``chat_template.jinja`` (loaded by
        ``load_tokenizer`` from a model directory), or ``None``."""
        tmpl = self._config.get("chat_template")
        if isinstance(tmpl, list):  # the config's list form: [{"name": ..., "template": ...}]
            return {t["name"]: t["template"] for t in tmpl}
        return tmpl if isinstance(tmpl, str | dict) else None

    def apply_chat_template(
        self,
        messages: Sequence[Mapping[str, Any]] | Sequence[Sequence[Mapping[str, Any]]],
        *,
        add_generation_prompt: bool = False,
        continue_final_message: bool | str = False,
        tokenize: bool = True,
        return_dict: bool | None = None,
        return_assistant_tokens_mask: bool = False,
        tools: Sequence[Mapping[str, Any]] | None = None,
        documents: Sequence[Mapping[str, Any]] | None = None,
        chat_template: str | None = None,
        **template_kwargs: Any,
    ) -> Any:
        """Render ``messages`` with the model's chat template, as transformers'
        ``apply_chat_template`` does (same Jinja environment and variables; see
        ``tokenmill.chat``), and tokenize the text unless ``tokenize=False``.

        Returns the ids (``list[int]``), the text with ``tokenize=False``, or with
        ``return_dict=True`` a dict with ``input_ids``, ``attention_mask`` (all ones) and, with
        ``return_assistant_tokens_mask=True``, ``assistant_masks``: 1 for each token that
        overlaps a ``{% generation %}`` block of the template, as transformers marks them
        (``return_dict`` defaults to that flag; transformers 5 defaults it to ``True``).
        A list of conversations (a list of lists of messages) gives a list of each.

        ``continue_final_message=True`` (or the name of the field to continue, such as
        ``"reasoning_content"``) leaves the last message open for the model to continue, as
        transformers does; it cannot be combined with ``add_generation_prompt`` or the mask.
        ``documents`` is passed to the template (retrieval templates read it).

        The text is tokenized like transformers' ``add_special_tokens=False`` call: added tokens
        in it (``<|im_start|>``) become their ids, no BOS is added by the post-processor (the
        template writes its own). ``chat_template`` is a template string, or the name of one of
        the model's named templates; with ``tools`` a ``tool_use`` template is preferred, as in
        transformers. Padding, truncation and tensors are not done here (``padding=`` and the
        like raise ``TypeError``). Needs Jinja2: ``pip install 'tokenmill[chat]'``. Bad messages
        and templates that raise give ``tokenmill.chat.ChatTemplateError`` (a ``ValueError``).
        """
        from tokenmill import chat

        refused = sorted(set(template_kwargs) & _NOT_CHAT_TEMPLATE_ARGS)
        if refused:
            raise TypeError(
                f"apply_chat_template does not take {', '.join(refused)}: tokenmill returns "
                "plain id lists (pad, truncate or convert them afterwards)"
            )
        if return_dict is None:
            return_dict = return_assistant_tokens_mask
        if return_assistant_tokens_mask and not (return_dict and tokenize):
            raise ValueError(
                "return_assistant_tokens_mask=True needs tokenize=True and return_dict=True"
            )
        if continue_final_message and return_assistant_tokens_mask:
            raise ValueError(
                "continue_final_message cannot be combined with return_assistant_tokens_mask"
            )
        batched = (
            isinstance(messages, Sequence)
            and not isinstance(messages, str | bytes)
            and len(messages) > 0
            and isinstance(messages[0], Sequence)
            and not isinstance(messages[0], str | bytes)
        )
        conversations = list(messages) if batched else [messages]
        source = self._template(chat_template, tools is not None)
        specials: dict[str, str] = {}
        for key in chat.SPECIAL_TOKEN_KEYS:
            tok = self._config.get(key)
            if isinstance(tok, dict):
                tok = tok.get("content")
            if isinstance(tok, str):
                specials[key] = tok
        where = str(self._config.get("_chat_template_source", "chat template"))
        outputs: list[Any] = []
        for conversation in conversations:
            text, spans = chat.render(
                source,
                conversation,  # type: ignore[arg-type]
                where=where,
                tools=tools,
                documents=documents,
                add_generation_prompt=add_generation_prompt,
                continue_final_message=continue_final_message,
                track_generation=return_assistant_tokens_mask,
                special_tokens=specials,
                **template_kwargs,
            )
            if not tokenize:
                outputs.append(text)
                continue
            ids = self.encode(text, allowed_special="all")
            if not return_dict:
                outputs.append(ids)
                continue
            out: dict[str, Any] = {"input_ids": ids, "attention_mask": [1] * len(ids)}
            if return_assistant_tokens_mask:
                out["assistant_masks"] = _span_mask(self._char_spans(text, ids), spans)
            outputs.append(out)
        if not batched:
            return outputs[0]
        if return_dict:  # one dict of lists, as transformers' BatchEncoding
            return {key: [o[key] for o in outputs] for key in outputs[0]}
        return outputs

    def _char_spans(self, text: str, ids: Sequence[int]) -> list[tuple[int, int]]:
        """Per token, the characters of ``text`` its bytes touch (``[start, end)``); the tokens
        must spell ``text`` byte for byte."""
        from bisect import bisect_right

        raw = text.encode("utf-8")
        pieces = self.decode_tokens_bytes(ids)
        if b"".join(pieces) != raw:
            raise ValueError(
                f"{self.name!r}: its tokens do not spell the text byte for byte (a SentencePiece-"
                "style model), so token offsets, and the assistant mask, are not available"
            )
        char_starts = [i for i, b in enumerate(raw) if not 0x80 <= b < 0xC0]
        spans = []
        at = 0
        for piece in pieces:
            end = at + len(piece)
            spans.append((bisect_right(char_starts, at) - 1, bisect_right(char_starts, end - 1)))
            at = end
        return spans

    def _template(self, chosen: str | None, with_tools: bool) -> str:
        from tokenmill.chat import ChatTemplateError

        known = self.chat_template
        if isinstance(known, dict):
            if chosen is not None and chosen in known:
                return known[chosen]
            if chosen is None:
                if with_tools and "tool_use" in known:
                    return known["tool_use"]
                if "default" in known:
                    return known["default"]
                raise ChatTemplateError(
                    f"{self.name!r} has several chat templates and none is 'default': pass "
                    f"chat_template= one of {sorted(known)}"
                )
        if chosen is not None:
            return chosen
        if not isinstance(known, str):
            raise ChatTemplateError(
                f"{self.name!r} has no chat template: load the model's directory (with its "
                "tokenizer_config.json) with tokenmill.load_tokenizer, or pass chat_template="
            )
        return known

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
        add_special_tokens: bool = False,
    ) -> list[int]:
        """Token ids of ``text``, with tiktoken's special-token semantics.

        A special token in the text that is disallowed raises ``ValueError``; an allowed one
        becomes its id; any other is encoded as ordinary text. ``add_special_tokens=True`` adds
        what a ``tokenizer.json``'s post-processor adds around one sequence (BOS, EOS, template
        tokens), as Hugging Face's ``encode(text)`` does; the default adds nothing.
        """
        if disallowed_special == "all" and not allowed_special and type(allowed_special) is not str:
            ids = self._core.encode(text, _NONE, None)
        else:
            ids = self._core.encode(
                text,
                _resolve(allowed_special, "allowed_special"),
                _resolve(disallowed_special, "disallowed_special"),
            )
        if add_special_tokens:
            prefix, suffix = self._post
            return [*prefix, *ids, *suffix]
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Token ids of ``text``, treating special tokens as ordinary text."""
        return self._core.encode_ordinary(text)

    def encode_with_unstable(
        self,
        text: str,
        *,
        allowed_special: SpecialArg = frozenset(),
        disallowed_special: SpecialArg = "all",
    ) -> tuple[list[int], list[list[int]]]:
        """The tokens of ``text`` that appending text cannot change, and every token sequence
        the rest (its unstable tail: the last pre-tokenizer piece, widened over the whitespace
        tokens before it) could become once more text is appended: tiktoken's
        ``encode_with_unstable``, the same completions as a set (here sorted).

        ``decode_bytes(stable)`` is a prefix of ``text``'s UTF-8 bytes, and
        ``decode_bytes(stable + c)`` starts with them for every completion ``c``. Special
        tokens follow ``encode``'s rules; a text ending in an allowed special token has no
        unstable tail. Byte-level BPE encodings only (the bundled ones, ``.tiktoken`` files,
        byte-level ``tokenizer.json``); others raise ``ValueError``. The search is brute force
        over the vocabulary, as tiktoken's: milliseconds for a word, more for a long run of
        whitespace at the end.
        """
        return self._core.encode_with_unstable(
            text,
            _resolve(allowed_special, "allowed_special"),
            _resolve(disallowed_special, "disallowed_special"),
        )

    def encode_to_numpy(
        self,
        text: str,
        *,
        allowed_special: SpecialArg = frozenset(),
        disallowed_special: SpecialArg = "all",
    ) -> npt.NDArray[np.uint32]:
        """``encode`` as a uint32 numpy array, built in Rust (no Python int per token)."""
        return self._core.encode_to_numpy(
            text,
            _resolve(allowed_special, "allowed_special"),
            _resolve(disallowed_special, "disallowed_special"),
        )

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        """The id of the one token (regular or special) whose text is ``text_or_bytes``;
        ``KeyError`` if there is none (as tiktoken)."""
        piece = text_or_bytes.encode("utf-8") if isinstance(text_or_bytes, str) else text_or_bytes
        return self._core.encode_single_token(bytes(piece))

    def encode_batch(
        self,
        texts: Sequence[str],
        *,
        num_threads: int = 8,
        allowed_special: SpecialArg = frozenset(),
        disallowed_special: SpecialArg = "all",
        add_special_tokens: bool = False,
    ) -> list[list[int]]:
        """``encode`` of each text, in parallel on tokenmill's pool (``num_threads`` is
        accepted for tiktoken compatibility; the pool's size is ``set_num_threads``)."""
        out = self._core.encode_batch(
            _texts(texts),
            _resolve(allowed_special, "allowed_special"),
            _resolve(disallowed_special, "disallowed_special"),
        )
        if add_special_tokens:
            prefix, suffix = self._post
            return [[*prefix, *ids, *suffix] for ids in out]
        return out

    def encode_ordinary_batch(
        self, texts: Sequence[str], *, num_threads: int = 8
    ) -> list[list[int]]:
        """``encode_ordinary`` of each text, in parallel (``num_threads``: see ``encode_batch``)."""
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
        """The bytes of ``tokens``; an id outside the vocabulary raises ``UnknownTokenError``
        (a ``KeyError``, as tiktoken, and a ``ValueError``)."""
        try:
            return self._core.decode_bytes(list(tokens))
        except ValueError as e:
            raise UnknownTokenError(str(e)) from None

    def decode(
        self, tokens: Sequence[int], errors: str = "replace", *, skip_special_tokens: bool = False
    ) -> str:
        """``decode_bytes(tokens).decode("utf-8", errors)``. ``skip_special_tokens=True`` leaves
        out the special tokens as Hugging Face does: those a ``tokenizer.json`` marks
        ``special`` (not ``<think>``-style added tokens), every special token of a tiktoken
        encoding."""
        if not skip_special_tokens:
            return self.decode_bytes(tokens).decode("utf-8", errors=errors)
        try:
            raw = self._core.decode_bytes_skipping_special(list(tokens))
        except ValueError as e:
            raise UnknownTokenError(str(e)) from None
        return raw.decode("utf-8", errors=errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        """The bytes of one token; ``KeyError`` outside the vocabulary (as tiktoken)."""
        return self._core.decode_single_token_bytes(token)

    def decode_tokens_bytes(self, tokens: Sequence[int]) -> list[bytes]:
        """The bytes of each token."""
        one = self._core.decode_single_token_bytes
        return [one(t) for t in tokens]

    def decode_with_offsets(self, tokens: Sequence[int]) -> tuple[str, list[int]]:
        """The text and, per token, the index of the first character holding its bytes.

        A token that starts inside a character (its first byte is a UTF-8 continuation byte)
        gets that character's index. The text must be valid UTF-8 (``UnicodeDecodeError``
        otherwise), as tiktoken.
        """
        pieces = self.decode_tokens_bytes(tokens)
        offsets: list[int] = []
        chars = 0
        for piece in pieces:
            starts_inside = bool(piece) and 0x80 <= piece[0] < 0xC0
            offsets.append(max(0, chars - starts_inside))
            # every byte that is not a continuation byte starts a character
            chars += sum(not 0x80 <= b < 0xC0 for b in piece)
        return b"".join(pieces).decode("utf-8", errors="strict"), offsets

    def decode_bytes_batch(
        self, batch: Sequence[Sequence[int]], *, num_threads: int = 8
    ) -> list[bytes]:
        """``decode_bytes`` of each sequence, in parallel (``num_threads``: see
        ``encode_batch``)."""
        try:
            return self._core.decode_bytes_batch([list(ids) for ids in batch])
        except ValueError as e:
            raise UnknownTokenError(str(e)) from None

    def decode_batch(
        self, batch: Sequence[Sequence[int]], *, errors: str = "replace", num_threads: int = 8
    ) -> list[str]:
        """``decode`` of each sequence, in parallel."""
        return [b.decode("utf-8", errors=errors) for b in self.decode_bytes_batch(batch)]

    def __repr__(self) -> str:
        return f"<Encoding {self.name!r}>"

    # -- pickling ----------------------------------------------------------------------------
    # An Encoding pickles as the recipe to load it again, never as its tables: a bundled
    # encoding by name; one loaded from a file by path and the file's sha256 (the receiving
    # process loads that file, refuses it if its content changed, and keeps what it loaded, so
    # a process pool pays one load per worker, not one per task); one built from
    # ``mergeable_ranks`` by those arguments, as tiktoken does. Encodings are immutable, so
    # ``copy`` and ``deepcopy`` return the same object.

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        origin = self._origin
        if origin is None:
            if _CACHE.get(self.name) is self:
                return (get_encoding, (self.name,))
            raise TypeError(f"cannot pickle {self!r}: it was not built by a tokenmill loader")
        if origin[0] in ("tiktoken", "tokenizer.json", "file"):
            path = str(origin[1])
            return (_unpickle_file, (origin, _file_sha256(path)))
        _, name, pat_str, ranks, specials = origin
        return (_unpickle_ranks, (name, pat_str, ranks, specials))

    def __copy__(self) -> Encoding:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Encoding:
        return self


# -- pickling ------------------------------------------------------------------------------------

_FILE_SHA: dict[tuple[str, int, int], str] = {}
_UNPICKLED: dict[tuple[object, ...], Encoding] = {}


def _file_sha256(path: str) -> str:
    """The sha256 of a file, remembered per (path, size, mtime) so repeated pickling and
    unpickling in one process reads it once."""
    import hashlib
    import os

    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    digest = _FILE_SHA.get(key)
    if digest is None:
        digest = _FILE_SHA[key] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return digest


def _unpickle_file(origin: tuple[object, ...], sha256: str) -> Encoding:
    key = (*origin, sha256)
    enc = _UNPICKLED.get(key)
    if enc is not None:
        return enc
    kind, path = origin[0], str(origin[1])
    try:
        found = _file_sha256(path)
    except OSError as e:
        raise ValueError(f"cannot unpickle the encoding loaded from {path}: {e}") from None
    if found != sha256:
        raise ValueError(
            f"cannot unpickle the encoding loaded from {path}: the file changed since it was "
            f"pickled (sha256 {found[:12]}…, expected {sha256[:12]}…)"
        )
    if kind == "tiktoken":
        _, _, pattern, specials, name = origin
        enc = Encoding.from_tiktoken(
            path,
            pattern=str(pattern),
            special_tokens=dict(specials),  # type: ignore[call-overload]
            name=str(name),
        )
    elif kind == "file":
        enc = Encoding.from_file(path, name=str(origin[2]))
    else:
        enc = Encoding.from_tokenizer_json(path, name=str(origin[2]))
        if len(origin) > 3:
            _attach_config(enc, [str(f) for f in origin[3]])  # type: ignore[attr-defined]
    with _LOCK:
        return _UNPICKLED.setdefault(key, enc)


def _unpickle_ranks(
    name: str, pat_str: str, ranks: Mapping[bytes, int], specials: Mapping[str, int]
) -> Encoding:
    return Encoding(name, pat_str=pat_str, mergeable_ranks=ranks, special_tokens=specials)


# -- registry ------------------------------------------------------------------------------------

_CACHE: dict[str, Encoding] = {}
_LOCK = threading.Lock()


def list_encodings() -> list[str]:
    """Names ``get_encoding`` accepts (the GPT-2 era ones first, as tiktoken lists them)."""
    return list(_native.openai_encodings())


def rank_file(name: str) -> bytes:
    """The ``.tiktoken`` file of a bundled rank file (``r50k_base``, ``p50k_base``,
    ``cl100k_base``, ``o200k_base``), byte for byte as OpenAI publishes it (its sha256 is
    ``BUNDLED_SHA256[name]``), from the copy embedded in the extension."""
    return _native.openai_rank_file(name)


def list_encoding_names() -> list[str]:
    """tiktoken's name for ``list_encodings``."""
    return list_encodings()


def get_encoding(name: str) -> Encoding:
    """A bundled encoding (offline; loaded once per process)."""
    enc = _CACHE.get(name)
    if enc is not None:
        return enc
    with _LOCK:
        enc = _CACHE.get(name)
        if enc is not None:
            return enc
        if name not in _native.openai_encodings():
            import difflib

            known = list_encoding_names()
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(f"unknown encoding {name!r}: known are {', '.join(known)}{hint}")
        enc = _CACHE[name] = Encoding(_native.Encoding.openai(name))
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


# The most a gzip-compressed rank file may decompress to (the native loader's cap too).
_MAX_DECOMPRESSED = 256 << 20


def _sha256_of_rank_file(path: Path) -> str:
    import gzip
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
        total = 0
        while chunk := stream.read(1 << 20):
            total += len(chunk)
            if gzipped and total > _MAX_DECOMPRESSED:
                raise ValueError(
                    f"{path}: gzip data decompresses to more than {_MAX_DECOMPRESSED >> 20} MiB;"
                    " a rank file is a few MB"
                )
            digest.update(chunk)
    return digest.hexdigest()


def _is_rank_file(path: Path) -> bool:
    """Whether ``path`` holds a ``.tiktoken`` rank file (gzip, or ``<base64> <rank>`` lines)."""
    import re

    with path.open("rb") as f:
        head = f.read(256)
    return head[:2] == b"\x1f\x8b" or re.match(rb"[A-Za-z0-9+/]+=* \d+\r?\n", head) is not None


_CONFIG_FILES = ("tokenizer_config.json", "chat_template.jinja")


def _model_files(spec: str | Path | Sequence[str | Path]) -> tuple[Path, list[Path]] | None:
    """A model's ``tokenizer.json`` and the config files beside it (or given with it), from a
    directory, a ``tokenizer.json`` path or a list of paths; ``None`` for anything else."""
    if isinstance(spec, str | Path):
        path = Path(spec)
        if path.is_dir():
            main = path / "tokenizer.json"
            if not main.is_file():
                raise ValueError(
                    f"load_tokenizer({str(spec)!r}): the directory has no tokenizer.json"
                )
        elif path.name == "tokenizer.json" and path.is_file():
            main = path
        else:
            return None
        return main, [main.parent / f for f in _CONFIG_FILES if (main.parent / f).is_file()]
    paths = [Path(p) for p in spec]
    mains = [p for p in paths if p.name.endswith(".json") and p.name not in _CONFIG_FILES]
    if len(mains) != 1:
        raise ValueError(
            f"load_tokenizer: a list of files needs exactly one tokenizer.json, got {len(mains)}"
        )
    for p in paths:
        if not p.is_file():
            raise ValueError(f"load_tokenizer: no such file {str(p)!r}")
    return mains[0], [p for p in paths if p is not mains[0]]


def _attach_config(enc: Encoding, files: Sequence[str | Path]) -> None:
    """Read ``tokenizer_config.json`` (special tokens, chat template) and ``chat_template.jinja``
    (which wins over the config's template, as in transformers) into ``enc``."""
    import json

    config: dict[str, Any] = {}
    for f in map(Path, files):
        if f.name.endswith(".jinja"):
            config["chat_template"] = f.read_text(encoding="utf-8")
            config["_chat_template_source"] = str(f)
    for f in map(Path, files):
        if f.name.endswith(".json"):
            try:
                loaded = json.loads(f.read_text(encoding="utf-8"))
            except ValueError as e:
                raise ValueError(f"{f}: not valid JSON: {e}") from None
            if not isinstance(loaded, dict):
                raise ValueError(f"{f}: expected a JSON object")
            if "chat_template" in config:
                loaded.pop("chat_template", None)
            elif "chat_template" in loaded:
                loaded["_chat_template_source"] = f"{f}: chat_template"
            config.update(loaded)
    enc._config = config
    origin = enc._origin
    if origin is not None and origin[0] == "tokenizer.json":
        enc._origin = (*origin[:3], tuple(str(Path(f).resolve()) for f in files))


def load_tokenizer(
    spec: str | Path | Sequence[str | Path],
    *,
    pattern: str | None = None,
    special_tokens: Mapping[str, int] | None = None,
) -> Encoding:
    """An encoding from a bundled name, an OpenAI model name, or a file: a ``.tiktoken`` rank
    file, a Hugging Face model (its directory, its ``tokenizer.json``, or a list of its files),
    a ``tekken.json`` or a SentencePiece ``.model`` (other files are recognised by content, see
    ``Encoding.from_file``).

    For a Hugging Face model, ``tokenizer_config.json`` and ``chat_template.jinja`` beside the
    ``tokenizer.json`` (or in the list) are read too: they give ``apply_chat_template`` its
    template and special tokens, and ``bos_token_id`` / ``eos_token_id``.

    A ``.tiktoken`` file needs its split ``pattern``; it may be omitted only when the file is
    byte-identical to a bundled encoding (checked by sha256).
    """
    if not isinstance(spec, str | Path):
        found = _model_files(spec)
        assert found is not None  # a list always resolves or raises
        enc = Encoding.from_tokenizer_json(found[0])
        _attach_config(enc, found[1])
        return enc
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
    found = _model_files(path)
    if found is not None:
        enc = Encoding.from_tokenizer_json(found[0])
        _attach_config(enc, found[1])
        return enc
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
