"""Import LiteLLM's ``model_prices_and_context_window.json`` (prices per token) as a catalogue.

LiteLLM's file is read as data: from a path, or from the copy bundled inside an installed
``litellm`` package, located with ``importlib.util.find_spec`` and never imported (importing
litellm fetches a price map from the network by default). OpenAI entries get the bundled encoding
of tiktoken's model table (exact counts); every other entry is marked approximate.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from tokenmill.cost.catalogue import (
    MILLION,
    MONEY,
    Catalogue,
    ModelPrice,
    TokenizerSpec,
    parse_price,
)
from tokenmill.counting import encoding_name_for_model

__all__ = ["litellm_catalogue", "load_litellm"]

_OPENAI_PROVIDERS = frozenset({"openai", "azure", "text-completion-openai"})


def _litellm_tokenizer(name: str, provider: str) -> TokenizerSpec:
    if provider in _OPENAI_PROVIDERS:
        try:
            return TokenizerSpec("exact", encoding=encoding_name_for_model(name.rsplit("/", 1)[-1]))
        except KeyError:
            pass
    return TokenizerSpec(
        "approximate",
        stand_in="o200k_base",
        reason=f"no tokenizer known for LiteLLM entry {name!r}",
    )


def _litellm_per_million(entry: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    value = entry.get(key)
    if value is None:
        return None
    per_token = parse_price(value, f"{where} {key}")
    assert per_token is not None
    return MONEY.multiply(per_token, MILLION).normalize(MONEY)


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
        record: dict[str, Any] = {
            "provider": provider,
            **prices,
            "input": inp,
            "context_window": max_in if isinstance(max_in, int) and max_in >= 0 else None,
            "max_output": max_out if isinstance(max_out, int) and max_out >= 0 else None,
            "tokenizer": _litellm_tokenizer(name, provider).to_dict(),
            "source": source,
            "as_of": as_of,
        }
        models[name] = ModelPrice.from_dict(name, record)
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
