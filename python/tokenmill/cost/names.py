"""Model-name spellings: how a name from a log or a user is turned into catalogue keys to try.

Provider responses and users name models in many ways: dated snapshots, provider prefixes
(``azure/``, ``bedrock/``, ``openrouter/``), Bedrock ids with region and vendor prefixes and a
``-v1:0`` version, Vertex's ``@YYYYMMDD``, ``4.5`` for ``4-5``. :func:`name_variants` lists the
spellings to look up, most faithful first, with what each changed (for the estimate's note) and
the maker a match must come from when a maker's prefix was removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

__all__ = ["DATE_SUFFIX", "PROVIDER_ALIASES", "Variant", "maker_ok", "name_variants"]

PROVIDER_ALIASES = {"gemini": "google", "vertex_ai": "google"}
_REGION = re.compile(r"^(?:us|eu|apac|au|ca|jp|global|us-gov)\.")
_VENDOR = re.compile(
    r"^(?:anthropic|meta|amazon|mistral|cohere|ai21|deepseek|qwen|openai|writer)\."
)
_VERSION = re.compile(r"-v\d+(?::\d+)?$")
_AT_DATE = re.compile(r"@(\d{8})$")
_DOTTED = re.compile(r"(?<=\d)\.(?=\d)")
DATE_SUFFIX = re.compile(r"(?:[-@]\d{4}-?\d{2}-?\d{2}|-\d{4})$")


#: Prefixes that name a model's maker: a name stripped of one must resolve to that maker's entry
#: ("anthropic/gpt-4o" is no model). Other prefixes (clouds, routers, hosts: azure/, bedrock/,
#: vertex_ai/, openrouter/ ...) may resolve to the maker's entry, and the note says so.
_MAKERS = frozenset(
    {"openai", "anthropic", "gemini", "google", "mistral", "deepseek", "cohere", "xai", "qwen"}
)


def maker_ok(maker: str | None, provider: str) -> bool:
    return (
        maker is None
        or provider == maker
        or provider == PROVIDER_ALIASES.get(maker)
        or provider.startswith(maker)
    )


class Variant(NamedTuple):
    name: str
    how: str  # what was changed, for the note
    maker: str | None  # the provider a match must have, when a maker's prefix was removed
    prefixes: tuple[str, ...]  # provider prefixes removed
    respelled: bool  # anything other than a provider prefix was changed


def _then(v: Variant, new: str, what: str, maker: str | None = None, prefix: str = "") -> Variant:
    """The variant ``new`` derived from ``v`` by ``what`` (removing ``prefix`` if one)."""
    return Variant(
        new,
        f"{v.how}, {what}" if v.how else what,
        maker if maker is not None else v.maker,
        (*v.prefixes, prefix) if prefix else v.prefixes,
        v.respelled or not prefix,
    )


def name_variants(name: str) -> Iterator[Variant]:
    """Spellings of a model name, most faithful first: the name, without provider prefixes,
    without a region or vendor prefix (Bedrock ids), without a ``-v1:0`` version, with Vertex's
    ``@date`` as ``-date``, with ``4.5`` as ``4-5``."""
    seen: set[str] = set()
    todo = [Variant(name, "", None, (), False)]
    while todo:
        v = todo.pop(0)
        cur = v.name
        if cur in seen or not cur:
            continue
        seen.add(cur)
        yield v

        if "/" in cur:
            p, rest = cur.split("/", 1)
            todo.append(
                _then(v, rest, f"without {p + '/'!r}", p if p in _MAKERS else v.maker, prefix=p)
            )
        m = _REGION.match(cur)
        if m:
            todo.append(_then(v, cur[m.end() :], "without the region prefix"))
        m = _VENDOR.match(cur)
        if m:
            todo.append(_then(v, cur[m.end() :], "without the vendor prefix", cur[: m.end() - 1]))
        if _VERSION.search(cur):
            todo.append(_then(v, _VERSION.sub("", cur), "without the version"))
        if _AT_DATE.search(cur):
            todo.append(_then(v, _AT_DATE.sub(r"-\1", cur), "date as -YYYYMMDD"))
        if _DOTTED.search(cur):  # claude-sonnet-4.5 -> claude-sonnet-4-5
            todo.append(_then(v, _DOTTED.sub("-", cur), "dots as dashes"))
