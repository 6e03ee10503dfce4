"""Token economics: a dated price catalogue, exact counts, chat overhead, cache and batch prices,
and dataset pricing.

Rooms
-----
* :mod:`~tokenmill.cost.catalogue` — price records (exact ``Decimal`` per 1M tokens, ``None`` for a
  price the provider does not offer), the bundled catalogue, user overrides;
* :mod:`~tokenmill.cost.litellm` — LiteLLM's price file read as a catalogue;
* :mod:`~tokenmill.cost.chat` — the tokens a conversation costs beyond its text;
* :mod:`~tokenmill.cost.usage` — five disjoint usage buckets, :func:`price_usage`, the exact
  :class:`CostEstimate` (estimates add with ``+``);
* :mod:`~tokenmill.cost.estimate` — count with the model's own tokenizer, then price;
* :mod:`~tokenmill.cost.dataset` — stream JSONL / CSV / Parquet files, count on all cores, price;
* :mod:`~tokenmill.cost.usage_log` — price JSONL logs of provider responses by model and day.

Nothing here touches the network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenmill._lazy import lazy_front

if TYPE_CHECKING:  # the objects the lazy table below resolves, for type checkers
    from tokenmill.cost.catalogue import (
        Catalogue,
        LongContextPrices,
        MissingPriceError,
        ModelPrice,
        TokenizerSpec,
        UnknownModelError,
        bundled_catalogue,
        iter_catalogue,
        load_catalogue,
    )
    from tokenmill.cost.chat import ChatPieces, chat_pieces, chat_token_count
    from tokenmill.cost.dataset import (
        BadRow,
        DatasetCost,
        ShardCount,
        count_dataset,
        count_rows,
        merge_counts,
        price_counts,
        price_dataset,
    )
    from tokenmill.cost.estimate import (
        CountedTokens,
        ResolvedCounter,
        count_tokens_for_model,
        estimate_cost,
        resolve_counter,
    )
    from tokenmill.cost.litellm import litellm_catalogue, load_litellm
    from tokenmill.cost.usage import CostEstimate, Usage, price_usage
    from tokenmill.cost.usage_log import UsageReport, price_usage_logs
    from tokenmill.counting import TokenCounter

# name -> defining module, imported on first use (PEP 562): `tokenmill.cost.catalogue` alone
# (as `tokenmill models` needs) does not load dataset pricing, numpy or the usage-log reader.
_LAZY: dict[str, str] = {
    "BadRow": "tokenmill.cost.dataset",
    "Catalogue": "tokenmill.cost.catalogue",
    "ChatPieces": "tokenmill.cost.chat",
    "CostEstimate": "tokenmill.cost.usage",
    "CountedTokens": "tokenmill.cost.estimate",
    "DatasetCost": "tokenmill.cost.dataset",
    "LongContextPrices": "tokenmill.cost.catalogue",
    "MissingPriceError": "tokenmill.cost.catalogue",
    "ModelPrice": "tokenmill.cost.catalogue",
    "ResolvedCounter": "tokenmill.cost.estimate",
    "ShardCount": "tokenmill.cost.dataset",
    "TokenCounter": "tokenmill.counting",
    "TokenizerSpec": "tokenmill.cost.catalogue",
    "UnknownModelError": "tokenmill.cost.catalogue",
    "Usage": "tokenmill.cost.usage",
    "UsageReport": "tokenmill.cost.usage_log",
    "bundled_catalogue": "tokenmill.cost.catalogue",
    "chat_pieces": "tokenmill.cost.chat",
    "chat_token_count": "tokenmill.cost.chat",
    "count_dataset": "tokenmill.cost.dataset",
    "count_rows": "tokenmill.cost.dataset",
    "count_tokens_for_model": "tokenmill.cost.estimate",
    "estimate_cost": "tokenmill.cost.estimate",
    "iter_catalogue": "tokenmill.cost.catalogue",
    "litellm_catalogue": "tokenmill.cost.litellm",
    "load_catalogue": "tokenmill.cost.catalogue",
    "load_litellm": "tokenmill.cost.litellm",
    "merge_counts": "tokenmill.cost.dataset",
    "price_counts": "tokenmill.cost.dataset",
    "price_dataset": "tokenmill.cost.dataset",
    "price_usage": "tokenmill.cost.usage",
    "price_usage_logs": "tokenmill.cost.usage_log",
    "resolve_counter": "tokenmill.cost.estimate",
}

__all__ = [
    "BadRow",
    "Catalogue",
    "ChatPieces",
    "CostEstimate",
    "CountedTokens",
    "DatasetCost",
    "LongContextPrices",
    "MissingPriceError",
    "ModelPrice",
    "ResolvedCounter",
    "ShardCount",
    "TokenCounter",
    "TokenizerSpec",
    "UnknownModelError",
    "Usage",
    "UsageReport",
    "bundled_catalogue",
    "chat_pieces",
    "chat_token_count",
    "count_dataset",
    "count_rows",
    "count_tokens_for_model",
    "estimate_cost",
    "iter_catalogue",
    "litellm_catalogue",
    "load_catalogue",
    "load_litellm",
    "merge_counts",
    "price_counts",
    "price_dataset",
    "price_usage",
    "price_usage_logs",
    "resolve_counter",
]


if not TYPE_CHECKING:  # hidden from type checkers, so that a misspelt name is an error there
    __getattr__, __dir__ = lazy_front(__name__, _LAZY, globals(), __all__)
