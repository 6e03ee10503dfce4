"""Chat templates: render a model's Jinja chat template as Hugging Face transformers does.

``render(template, messages, ...)`` is what ``Encoding.apply_chat_template`` calls. The template
runs in the environment transformers' ``apply_chat_template`` builds (transformers 5.x):

- Jinja2's ``ImmutableSandboxedEnvironment`` with ``trim_blocks`` and ``lstrip_blocks``, the
  ``loopcontrols`` extension (``break`` / ``continue``) and a ``{% generation %}`` block tag that
  renders its body and, when asked, records where: its start is the length of the text the
  template has yielded so far (Jinja's ``generate``), its end that plus the body's length, as
  transformers computes the spans behind ``return_assistant_tokens_mask``;
- ``tojson`` as ``json.dumps`` (no HTML escaping; ``ensure_ascii=False`` by default, with the
  ``indent``, ``separators`` and ``sort_keys`` options), ``raise_exception(message)``,
  ``strftime_now(format)`` (the local time), ``dict(...)`` and a ``namespace`` that refuses
  underscore-prefixed attributes;
- the variables ``messages``, ``tools``, ``documents``, ``add_generation_prompt``, the
  tokenizer's special tokens as strings (``bos_token``, ``eos_token``, ... from
  ``tokenizer_config.json``), then the caller's keyword arguments (which win).

Messages are plain dicts: keys whose value is ``None`` are dropped (OpenAI's ``content=None``),
and a message's reasoning given as ``reasoning_content``, ``thinking`` or ``reasoning`` is also
offered under ``reasoning_content`` and ``thinking``, as transformers does.

``continue_final_message`` leaves the last message open, as transformers does it: a marker is
appended to the field being continued (``content`` or the field named; the last text block of a
list of blocks), the chat is rendered, and the text is cut where the marker's last occurrence
begins (and right-stripped when the template did not keep the marker's trailing space).

Jinja2 is an optional dependency (``pip install 'tokenmill[chat]'``); it is imported on the
first render.
"""

from __future__ import annotations

import contextvars
import functools
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

__all__ = ["SPECIAL_TOKEN_KEYS", "ChatTemplateError", "Rendered", "render"]

# tokenizer_config.json fields passed to templates as strings (transformers' special_tokens_map).
SPECIAL_TOKEN_KEYS = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)
_REASONING_KEYS = ("reasoning_content", "thinking", "reasoning")
# Appended to the message being continued (continue_final_message) to find where it ends.
_CONTINUE_TAG = "CONTINUE_FINAL_MESSAGE_TAG "
# While a render tracks generation blocks: (the chunks yielded so far, the spans found).
_TRACKING: contextvars.ContextVar[tuple[list[str], list[tuple[int, int]]] | None] = (
    contextvars.ContextVar("generation_spans", default=None)
)


class ChatTemplateError(ValueError):
    """A chat template that does not compile or that raised while rendering (its
    ``raise_exception`` message included), or messages it cannot take."""


def _jinja() -> Any:
    try:
        import jinja2
    except ImportError:
        raise ImportError(
            "apply_chat_template needs Jinja2, an optional dependency: "
            "pip install 'tokenmill[chat]'"
        ) from None
    return jinja2


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@functools.cache
def _environment() -> Any:
    jinja2 = _jinja()
    from jinja2 import nodes
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationBlock(Extension):
        """``{% generation %}...{% endgeneration %}``: renders the body unchanged, and records
        its span while a render tracks them (see the module notes)."""

        tags = {"generation"}  # noqa: RUF012 (Jinja's class attribute)

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            call = self.call_method("_body")
            return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

        def _body(self, caller: Any) -> str:
            body = str(caller())
            tracking = _TRACKING.get()
            if tracking is not None:
                chunks, spans = tracking
                start = sum(map(len, chunks))
                spans.append((start, start + len(body)))
            return body

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    class PlainDict:
        """``dict(...)`` in templates, without the class's other attributes."""

        def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict(*args, **kwargs)

        def fromkeys(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict.fromkeys(*args, **kwargs)

    def refuse_private(name: object) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(
                f"a chat template cannot set the underscore-prefixed attribute {name!r} on a "
                "namespace"
            )

    base: Any = jinja2.utils.Namespace

    class Namespace(base):  # type: ignore[misc]
        def __init__(*args: Any, **kwargs: Any) -> None:
            self, rest = args[0], args[1:]
            attrs = dict(*rest, **kwargs)
            for key in attrs:
                refuse_private(key)
            base.__init__(self, attrs)

        def __setitem__(self, name: str, value: Any) -> None:
            refuse_private(name)
            base.__setitem__(self, name, value)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationBlock, loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.globals["dict"] = PlainDict()
    env.globals["namespace"] = Namespace
    return env


@functools.lru_cache(maxsize=32)
def _compile(source: str, where: str) -> Any:
    jinja2 = _jinja()
    try:
        return _environment().from_string(source)
    except jinja2.TemplateSyntaxError as e:
        raise ChatTemplateError(f"{where}: line {e.lineno}: {e.message}") from e


def _plain(value: Any, where: str) -> Any:
    """JSON-like data only (str, int, float, bool, None, dicts, lists, tuples), rebuilt, so the
    template never sees a caller's object and its methods."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, Mapping):
        return {_plain(k, where): _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _plain(value.item(), where)
    raise ChatTemplateError(f"{where}: a {type(value).__name__} cannot be passed to a template")


def _messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise ChatTemplateError("messages must be a list of dicts with 'role' and 'content'")
    if not messages:
        raise ChatTemplateError("messages is empty: a chat needs at least one message")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            raise ChatTemplateError(f"messages[{i}] must be a dict, got {type(m).__name__}")
        msg = {k: v for k, v in m.items() if v is not None}
        role = msg.get("role")
        if not isinstance(role, str):
            got = "missing" if role is None else f"a {type(role).__name__}"
            raise ChatTemplateError(f"messages[{i}]['role'] must be a str ({got})")
        reasoning = next((msg[k] for k in _REASONING_KEYS if msg.get(k) is not None), None)
        if reasoning is not None:
            msg = {"thinking": reasoning, **msg, "reasoning_content": reasoning}
        out.append(_plain(msg, f"messages[{i}]"))
    return out


def _continue_fields(
    template: str, message: dict[str, Any], field: str
) -> tuple[str, list[str], dict[str, Any]]:
    """Mark the end of the message to continue: (its text, the fields marked, the message)."""
    final = message.get(field)
    if final is None:
        raise ChatTemplateError(
            f"continue_final_message: the final message has no {field!r} to continue"
        )
    fields = [field]
    if field in _REASONING_KEYS:  # reasoning is offered under several names: mark each copy
        fields = [k for k in _REASONING_KEYS if message.get(k) == final]
    if not any(k in template for k in fields):
        raise ChatTemplateError(
            f"continue_final_message: the chat template never reads the field {field!r}"
        )
    if isinstance(final, list | tuple):
        for block in reversed(final):
            if isinstance(block, dict) and "text" in block:
                text = block["text"]
                block["text"] = text + _CONTINUE_TAG
                return str(text), fields, message
        raise ChatTemplateError(
            "continue_final_message: the final message has no text block to continue"
        )
    for k in fields:
        message[k] = message[k] + _CONTINUE_TAG
    return str(final), fields, message


class Rendered(NamedTuple):
    """A rendered chat: its text, and the character spans ``[start, end)`` of the template's
    ``{% generation %}`` blocks (empty unless the render tracked them)."""

    text: str
    generation: list[tuple[int, int]]


def render(
    template: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    where: str = "chat template",
    tools: Sequence[Mapping[str, Any]] | None = None,
    documents: Sequence[Mapping[str, Any]] | None = None,
    add_generation_prompt: bool = False,
    continue_final_message: bool | str = False,
    track_generation: bool = False,
    special_tokens: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Rendered:
    """``template`` rendered for ``messages`` (see the module notes), with the spans of its
    ``{% generation %}`` blocks when ``track_generation``. ``continue_final_message`` (``True``
    for ``content``, or a field name) leaves the last message open; it cannot be combined with
    ``add_generation_prompt``.

    ``where`` names the template's source in errors. A template that raises (its
    ``raise_exception``) or fails raises ``ChatTemplateError`` with its message.
    """
    jinja2 = _jinja()
    compiled = _compile(template, where)
    if tools is not None:
        for i, tool in enumerate(tools):
            if not isinstance(tool, Mapping):
                raise ChatTemplateError(
                    f"tools[{i}] must be a JSON schema dict, got {type(tool).__name__}"
                )
    if documents is not None:
        for i, doc in enumerate(documents):
            if not isinstance(doc, Mapping):
                raise ChatTemplateError(f"documents[{i}] must be a dict, got {type(doc).__name__}")
    if continue_final_message and add_generation_prompt:
        raise ChatTemplateError(
            "continue_final_message and add_generation_prompt cannot both be set: the first "
            "continues the last message, the second starts a new assistant message"
        )
    chat = _messages(messages)
    final = None
    if continue_final_message:
        field = continue_final_message if isinstance(continue_final_message, str) else "content"
        final, _, chat[-1] = _continue_fields(template, chat[-1], field)
    variables = {**dict(special_tokens or {}), **kwargs}
    context = {
        "messages": chat,
        "tools": _plain(tools, "tools"),
        "documents": _plain(documents, "documents"),
        "add_generation_prompt": add_generation_prompt,
        **_plain(variables, "template_kwargs"),
    }
    spans: list[tuple[int, int]] = []
    try:
        if track_generation:
            chunks: list[str] = []
            token = _TRACKING.set((chunks, spans))
            try:
                for chunk in compiled.generate(**context):
                    chunks.append(chunk)
            finally:
                _TRACKING.reset(token)
            text = "".join(chunks)
        else:
            text = str(compiled.render(**context))
    except jinja2.TemplateError as e:
        raise ChatTemplateError(f"{where} raised: {e.message or e}") from e
    if final is not None:
        tag = _CONTINUE_TAG.strip()
        if final.strip() not in text or tag not in text:
            raise ChatTemplateError(
                "continue_final_message: the final message does not appear in the rendered "
                "chat (the template changes or drops it)"
            )
        at = text.rindex(tag)
        kept_space = text[at : at + len(_CONTINUE_TAG)] == _CONTINUE_TAG
        text = text[:at] if kept_space else text[:at].rstrip()
    return Rendered(text, spans)
