"""The local engine: run a :class:`~tokenmill.engines.ShardJob` shard by shard in this process."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tokenmill.engines import ShardJob

__all__ = ["LocalEngine"]

P = TypeVar("P")


class LocalEngine:
    """Shards one after another; a shard's counting is parallel in Rust (tokenmill's pool)."""

    name = "local"

    def run(self, job: ShardJob[P], shards: Sequence[Any], *, progress: Any = None) -> P:
        job.setup()
        result = job.empty()
        for shard in shards:
            result = job.merge(result, job.run(shard))
            if progress is not None:
                progress.update(job.weight(shard))
        return result

    def __repr__(self) -> str:
        return "LocalEngine()"
