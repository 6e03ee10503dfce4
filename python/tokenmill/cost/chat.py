"""Chat overhead: the tokens a conversation costs beyond its text, by OpenAI's published recipe.

:func:`chat_pieces` splits a message list into the strings to tokenize and a fixed overhead;
:func:`chat_token_count` counts them with any :class:`~tokenmill.counting.TokenCounter`. Dataset
pricing uses the same split row by row, so a conversation costs the same tokens either way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tokenmill.counting import TokenCounter, count_total, plain_text_counter

__all__ = [
    "REPLY_PRIMER_TOKENS",
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "ChatPieces",
    "Message",
    "chat_pieces",
    "chat_token_count",
]

Message = Mapping[str, Any]

#: OpenAI cookbook, "How to count tokens with tiktoken" (num_tokens_from_messages): every message
#: costs 3 tokens (<|start|>{role/name}\n{content}<|end|>\n), a ``name`` field 1 more, and every
#: reply is primed with <|start|>assistant<|message|>, 3 tokens. Valid for gpt-3.5-turbo-0613 and
#: later, the gpt-4 / gpt-4o / gpt-4.1 families; the cookbook notes it is an estimate for future
#: models. Other providers do not publish their chat formats: we use the same recipe and mark the
#: count approximate.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMER_TOKENS = 3


@dataclass(frozen=True)
class ChatPieces:
    """The strings of a conversation that must be tokenized, plus the fixed overhead tokens."""

    texts: tuple[str, ...]
    overhead: int
    approximate_reason: str | None


def chat_pieces(messages: Sequence[Message]) -> ChatPieces:
    """Split a conversation into the strings to count and the recipe's fixed overhead.

    Every string value of every message is counted (role, content, name, ...), as in the cookbook.
    ``content`` may be a list of parts: text parts are counted; other parts raise. ``None`` values
    (an assistant message with only tool calls) count 0. Non-string values such as ``tool_calls``
    are counted as compact JSON and make the count approximate.
    """
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise TypeError("messages must be a list of {'role': ..., 'content': ...} mappings")
    texts: list[str] = []
    overhead = REPLY_PRIMER_TOKENS
    approx: str | None = None
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise TypeError(f"message {i} must be a mapping, got {type(message).__name__}")
        if "role" not in message:
            raise ValueError(f"message {i} has no 'role'")
        overhead += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if key == "name":
                overhead += TOKENS_PER_NAME
            if value is None:
                continue
            if isinstance(value, str):
                texts.append(value)
            elif key == "content" and isinstance(value, list):
                for j, part in enumerate(value):
                    if isinstance(part, Mapping) and part.get("type") == "text":
                        text = part.get("text")
                        if not isinstance(text, str):
                            raise TypeError(f"message {i} content part {j}: 'text' must be a str")
                        texts.append(text)
                    else:
                        kind = (
                            part.get("type") if isinstance(part, Mapping) else type(part).__name__
                        )
                        raise ValueError(
                            f"message {i} content part {j}: only text parts can be counted, "
                            f"got {kind!r}"
                        )
            else:
                texts.append(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
                approx = f"message {i} field {key!r} counted as JSON text"
    return ChatPieces(tuple(texts), overhead, approx)


def chat_token_count(messages: Sequence[Message], counter: TokenCounter) -> int:
    """Prompt tokens of an OpenAI-style conversation, reply primer included (cookbook recipe)."""
    pieces = chat_pieces(messages)
    return count_total(plain_text_counter(counter), pieces.texts) + pieces.overhead
