"""Datasets: where they live (:mod:`.sources`), how a shard is read (:mod:`.read`), exactly
mergeable statistics (:mod:`.stats`) and the exact token count of a dataset (:mod:`.count`).

Import cost: numpy only; pyarrow loads when a Parquet file or a remote filesystem is read.
"""

from __future__ import annotations

from tokenmill.dataset.count import CountRow, DatasetCount, count_tokens
from tokenmill.dataset.read import BadRow
from tokenmill.dataset.sources import Shard, list_shards
from tokenmill.dataset.stats import Tally, TokenHistogram

__all__ = [
    "BadRow",
    "CountRow",
    "DatasetCount",
    "Shard",
    "Tally",
    "TokenHistogram",
    "count_tokens",
    "list_shards",
]
