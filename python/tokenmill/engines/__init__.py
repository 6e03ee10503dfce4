"""Engines: where the per-shard work of ``count``, ``report`` and ``cost`` runs.

Design notes
------------
Every corpus job is written once as a :class:`ShardJob`: ``setup()`` (load the tokenizers, once
per worker), ``run(shard) -> partial`` (a pure function of one shard) and ``merge(a, b)`` (an
associative merge with ``empty()`` as identity). An engine only decides where ``run`` executes:

* :class:`~tokenmill.engines.local.LocalEngine` runs the shards one after another in this
  process (each shard's counting is itself parallel in Rust on tokenmill's thread pool);
* :class:`~tokenmill.engines.ray.RayEngine` runs them as Ray Data map tasks on a pool of actors
  (a class-based UDF: the tokenizers load once per actor) and returns the partials to the driver.

Both fold the partials in shard order with the same ``merge``, so the result of a job is the same
object on either engine; the statistics are sums and exact histograms, so nothing is approximate.

``engine=`` accepts ``"local"``, ``"ray"`` (Ray with the default address: a running ``ray start``
cluster if there is one, else a local one), an address string such as ``"ray://head:10001"`` or
``"auto"``, or an engine object. Ray is imported only by the Ray engine; without the
``tokenmill[ray]`` extra it raises an ``ImportError`` naming the extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from tokenmill.engines.local import LocalEngine

__all__ = ["Engine", "LocalEngine", "ShardJob", "TokenizerJob", "resolve_engine"]

P = TypeVar("P")


class ShardJob(Protocol[P]):
    """A corpus job split into shards (see the module notes)."""

    def setup(self) -> None: ...

    def run(self, shard: Any) -> P: ...

    def merge(self, a: P, b: P) -> P: ...

    def empty(self) -> P: ...

    def weight(self, shard: Any) -> int: ...


class TokenizerJob:
    """Base of jobs that count with tokenizers: the specs (names, paths, picklable objects)
    travel to the workers, and each worker resolves them once in :meth:`setup`. Counters the
    caller already resolved are used in this process and never pickled."""

    def __init__(self, tokenizers: Sequence[Any], counters: Sequence[Any] = ()) -> None:
        self.tokenizers = list(tokenizers)
        self._counters: list[Any] | None = list(counters) or None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_counters"] = None
        return state

    def setup(self) -> None:
        if self._counters is None:
            from tokenmill.counting import resolve_tokenizer

            self._counters = [resolve_tokenizer(t) for t in self.tokenizers]

    @property
    def counters(self) -> list[Any]:
        self.setup()
        return self._counters or []


@runtime_checkable
class Engine(Protocol):
    """Runs a :class:`ShardJob` over shards and returns the merged partial."""

    @property
    def name(self) -> str: ...

    def run(self, job: ShardJob[P], shards: Sequence[Any], *, progress: Any = None) -> P: ...


def resolve_engine(engine: str | Engine | None = None, *, address: str | None = None) -> Engine:
    """``None``/``"local"`` -> :class:`LocalEngine`; ``"ray"`` -> a Ray engine on ``address``
    (``None``: Ray's default, ``"auto"``: a cluster started with ``ray start``); an address such as
    ``"auto"`` or ``"ray://host:10001"`` given as ``engine`` is taken as ``ray`` on it."""
    if engine is None or engine == "local":
        if address is not None:
            raise ValueError("address= is only used with engine='ray'")
        return LocalEngine()
    if isinstance(engine, str):
        if engine == "ray":
            from tokenmill.engines.ray import RayEngine

            return RayEngine(address=address)
        if engine == "auto" or "://" in engine:
            from tokenmill.engines.ray import RayEngine

            return RayEngine(address=engine)
        raise ValueError(f"unknown engine {engine!r} (expected 'local' or 'ray')")
    if isinstance(engine, Engine):
        return engine
    raise TypeError(
        f"engine must be 'local', 'ray' or an engine object, got {type(engine).__name__}"
    )
