"""Forked children get a working thread pool of their own.

A forked child has only the thread that called ``fork``: the parent's pool workers are gone. Once
the parent has used the pool, batch calls in the child must still complete, with the parent's
results. These tests fork for real (``multiprocessing`` with the ``fork`` start method, as
``multiprocessing.Pool`` does by default on Linux) and wait with a timeout, so a regression fails
instead of hanging.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import select
import signal
import sys
from typing import Any

import numpy as np
import pytest

import tokenmill as tm

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork"),
    # Forking a process that runs worker threads is the point of these tests.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

TIMEOUT = 120.0
TEXTS = [f"hello world {i} — héllo wörld {i * 7}" for i in range(500)]

ENC = tm.get_encoding("cl100k_base")
LOGITS = np.random.default_rng(5).standard_normal((64, 32768)).astype(np.float32)


def _counts(_: int) -> list[int]:
    return [int(c) for c in ENC.count_batch(TEXTS)]


def _encodes(_: int) -> list[list[int]]:
    return ENC.encode_batch(TEXTS)


def _samples(_: int) -> list[int]:
    return [int(t) for t in np.asarray(tm.sample(LOGITS, temperature=0.8, top_k=50, seed=11))]


def _resize_then_count(n: int) -> tuple[int, list[int]]:
    tm.set_num_threads(n)
    return tm.get_num_threads(), [int(c) for c in ENC.count_batch(TEXTS)]


def _grandchild(index: int) -> list[int]:
    """Use this child's own pool, fork again and count in the grandchild."""
    ENC.count_batch(TEXTS)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the grandchild
        try:
            os.write(w, json.dumps(_counts(0)).encode())
        finally:
            os._exit(0)
    os.close(w)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([r], [], [], TIMEOUT)
            if not ready:
                raise TimeoutError("the grandchild did not answer")
            chunk = os.read(r, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(r)
        if not chunks:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    out: list[int] = json.loads(b"".join(chunks))
    return out


def _in_forked_pool(fn: Any, args: list[Any]) -> list[Any]:
    ctx = multiprocessing.get_context("fork")
    pool = ctx.Pool(2)
    try:
        return list(pool.map_async(fn, args).get(timeout=TIMEOUT))
    finally:
        pool.terminate()
        pool.join()


@pytest.fixture(autouse=True)
def _parent_used_the_pool() -> None:
    """Every test starts with a parent whose pool has several live workers."""
    tm.set_num_threads(2)
    ENC.count_batch(TEXTS)
    tm.sample(LOGITS, temperature=0.8, top_k=50, seed=11)


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method is the default on Linux")
def test_count_and_encode_batch_in_forked_children() -> None:
    want_counts = _counts(0)
    want_ids = _encodes(0)
    # Reference: the counts are those of tiktoken-compatible single-text encodes.
    assert want_counts == [len(ENC.encode(t)) for t in TEXTS]
    assert _in_forked_pool(_counts, list(range(4))) == [want_counts] * 4
    assert _in_forked_pool(_encodes, list(range(4))) == [want_ids] * 4


def test_batched_sample_in_forked_children() -> None:
    want = _samples(0)
    assert _in_forked_pool(_samples, list(range(3))) == [want] * 3


def test_set_num_threads_in_forked_child() -> None:
    want = _counts(0)
    # Same size as the parent's pool (once this kept the dead pool), and a new size.
    got = _in_forked_pool(_resize_then_count, [2, 3])
    assert got == [(2, want), (3, want)]


def test_fork_twice() -> None:
    want = _counts(0)
    assert _in_forked_pool(_grandchild, [0, 1]) == [want, want]
