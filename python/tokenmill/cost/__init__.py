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
* :mod:`~tokenmill.cost.dataset` — stream JSONL / CSV / Parquet files, count on all cores, price.

Nothing here touches the network.
"""

from __future__ import annotations

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
from tokenmill.counting import TokenCounter

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
    "resolve_counter",
]
