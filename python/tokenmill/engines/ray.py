"""The Ray engine: a :class:`~tokenmill.engines.ShardJob` as Ray Data map tasks on an actor pool.

Design notes
------------
* **Data flow.** The driver lists the shards (cheap metadata) and builds a Ray dataset of shard
  indices, one block per shard. ``map_batches`` runs :class:`_ShardWorker`, a class-based UDF:
  its constructor calls ``job.setup()`` (tokenizers load once per actor, not once per batch),
  its ``__call__`` reads each shard itself and returns the pickled partial. Parquet shards are
  read as Arrow record batches and their text columns handed to ``count_batch`` in place. The
  driver folds the partials in shard order with the job's ``merge``: the same fold as the local
  engine, so the result is identical.
* **Why workers read their own shards** instead of ``ray.data.read_json`` / ``read_parquet``: the
  local path names a bad row by file and line, checks each file's schema and fails with the file's
  name, and reads JSONL that Arrow's JSON reader would reject as a whole. Reading inside the UDF
  keeps all of that identical on both engines; the work is still spread by shard (a file, or a
  range of Parquet row groups).
* **Resources.** Each actor asks for ``num_cpus`` (default 0.5) and runs tokenmill's Rust pool
  with ``threads`` threads (default 1). Asking for less than a whole CPU leaves room for Ray
  Data's own tasks: on a 2-CPU machine a pool of 2 actors at 1 CPU each can leave the other
  tasks of a pipeline unscheduled, and the job waits with 0 tasks running. ``workers`` bounds
  the pool (default: the cluster's CPUs, at most the number of shards).
* **Never hang.** The driver waits for partials with a deadline: when no shard finishes for
  ``stall_timeout`` seconds, it raises ``TimeoutError`` saying how many shards finished and what
  the cluster has free against what the pool asked for.
* **Shards travel with the actors.** Every actor receives the list of shards once, in its
  constructor: for ``count`` and ``cost`` these are file descriptors (path, format, row groups,
  filesystem); for the report they hold the corpus's texts, so each actor gets a copy of a
  parallel corpus (tens of MB for FLORES-200).
* **Faults.** Ray restarts a dead actor and retries its task (Ray Data's actor pools default to
  unlimited restarts and task retries); a task that raises (a bad file) fails the job with the
  worker's exception message, which names the file.
"""

from __future__ import annotations

import pickle
import queue
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tokenmill.engines import ShardJob

__all__ = ["RayEngine"]

P = TypeVar("P")
_DONE = object()


def import_ray() -> Any:
    """``ray`` and ``ray.data``, or an ``ImportError`` naming the extra to install."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ImportError("--engine ray needs Ray Data: pip install 'tokenmill[ray]'") from None
    return ray


class _ShardWorker:
    """The class-based UDF: one instance per actor, holding the job with its tokenizers."""

    def __init__(self, job: Any, shards: Sequence[Any], threads: int) -> None:
        import tokenmill

        tokenmill.set_num_threads(threads)
        job.setup()
        self.job = job
        self.shards = shards

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        indices = [int(i) for i in batch["shard"]]
        partials, errors = [], []
        for i in indices:
            try:
                partials.append(pickle.dumps(self.job.run(self.shards[i])))
                errors.append(b"")
            except (ValueError, OSError, ImportError) as exc:
                # bad input, not a crash: sent back as data so that the driver raises the same
                # exception as the local engine (Ray would keep only its text)
                partials.append(b"")
                errors.append(pickle.dumps(exc))
        return {"shard": indices, "partial": partials, "error": errors}


class RayEngine:
    """Run shards on a Ray cluster (see the module notes for the parameters)."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int | None = None,
        num_cpus: float = 0.5,
        threads: int = 1,
        stall_timeout: float = 600.0,
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if num_cpus <= 0:
            raise ValueError(f"num_cpus must be > 0, got {num_cpus}")
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if stall_timeout <= 0:
            raise ValueError(f"stall_timeout must be > 0, got {stall_timeout}")
        self.address = address
        self.workers = workers
        self.num_cpus = num_cpus
        self.threads = threads
        self.stall_timeout = stall_timeout

    def __repr__(self) -> str:
        return (
            f"RayEngine(address={self.address!r}, workers={self.workers}, "
            f"num_cpus={self.num_cpus}, threads={self.threads})"
        )

    def _connect(self) -> Any:
        ray = import_ray()
        if not ray.is_initialized():
            ray.init(
                address=self.address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        return ray

    def _pool_size(self, ray: Any, n_shards: int) -> int:
        if self.workers is not None:
            return min(self.workers, n_shards)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        return max(1, min(cpus, n_shards))

    def run(self, job: ShardJob[P], shards: Sequence[Any], *, progress: Any = None) -> P:
        if not shards:
            return job.empty()
        ray = self._connect()
        try:
            ray.cloudpickle.dumps(job)
        except Exception as exc:
            raise ValueError(
                f"engine='ray' sends the job to worker processes and cannot pickle it ({exc}); "
                "give tokenizers by name or path instead of as loaded objects"
            ) from None
        pool = self._pool_size(ray, len(shards))
        items = [{"shard": i} for i in range(len(shards))]
        ds = ray.data.from_items(items, override_num_blocks=len(shards))
        out = ds.map_batches(
            _ShardWorker,
            fn_constructor_kwargs={"job": job, "shards": list(shards), "threads": self.threads},
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=pool),
            num_cpus=self.num_cpus,
        )
        ctx = out.context  # this dataset's copy: the caller's DataContext is left alone
        ctx.enable_progress_bars = False  # tokenmill draws its own bar
        ctx.print_on_execution_start = False
        # an actor pool that cannot start (the cluster lacks the CPUs it asks for) fails here
        # after the stall timeout, and Ray Data shuts its executor down
        ctx.wait_for_min_actors_s = max(1, round(self.stall_timeout))
        partials: dict[int, P] = {}
        for index, blob, error in self._stream(ray, out, pool, len(shards)):
            if error:
                raise pickle.loads(error)
            partials[index] = pickle.loads(blob)
            if progress is not None:
                progress.update(job.weight(shards[index]))
        missing = [i for i in range(len(shards)) if i not in partials]
        if missing:  # pragma: no cover - Ray Data returns every row or raises
            raise RuntimeError(f"the Ray job returned no result for {len(missing)} shard(s)")
        result = job.empty()
        for i in range(len(shards)):
            result = job.merge(result, partials[i])
        return result

    def _stream(self, ray: Any, ds: Any, pool: int, total: int) -> Any:
        """Rows of ``ds`` from a reader thread; raises ``TimeoutError`` after a silent stall."""
        q: queue.Queue[Any] = queue.Queue()

        def consume() -> None:
            try:
                for batch in ds.iter_batches(batch_size=1, batch_format="numpy"):
                    rows = zip(batch["shard"], batch["partial"], batch["error"], strict=True)
                    for index, blob, error in rows:
                        q.put((int(index), bytes(blob), bytes(error)))
            except BaseException as exc:  # handed to the driver thread, re-raised there
                q.put(exc)
            q.put(_DONE)

        thread = threading.Thread(target=consume, name="tokenmill-ray-results", daemon=True)
        thread.start()
        done = 0
        last = time.monotonic()
        while True:
            try:
                item = q.get(timeout=1.0)
            except queue.Empty:
                waited = time.monotonic() - last
                # a pool that cannot start is Ray Data's own check (wait_for_min_actors_s),
                # which also stops the execution; this catches every other stall
                if waited > self.stall_timeout + max(5.0, 0.1 * self.stall_timeout):
                    message = self._stall_message(ray, pool, done, total, waited)
                    raise TimeoutError(message) from None
                continue
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                if "Timed out while starting actors" in str(item):
                    waited = time.monotonic() - last
                    raise TimeoutError(
                        self._stall_message(ray, pool, done, total, waited)
                    ) from None
                raise _worker_error(item) from item
            done += 1
            last = time.monotonic()
            yield item

    def _stall_message(self, ray: Any, pool: int, done: int, total: int, waited: float) -> str:
        try:
            free = ray.available_resources().get("CPU", 0.0)
            have = ray.cluster_resources().get("CPU", 0.0)
            cluster = f"the cluster has {free:g} of {have:g} CPUs free"
        except Exception:  # the cluster itself may be what failed
            cluster = "the cluster's resources could not be read"
        return (
            f"the Ray job made no progress for {waited:.0f} s ({done} of {total} shards "
            f"done): {cluster}; the pool asked for {pool} worker(s) x {self.num_cpus:g} CPU. "
            "Lower num_cpus / workers, add nodes, or check `ray status` for pending tasks"
        )


def _worker_error(exc: BaseException) -> Exception:
    """A failure of the Ray job itself (not bad input, which workers send back as data)."""
    first = str(exc).strip().splitlines()
    return RuntimeError(f"the Ray job failed: {first[-1] if first else type(exc).__name__}")
