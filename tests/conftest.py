"""Shared pytest fixtures.

``tiktoken_offline`` (session-scoped, autouse): fills a temporary ``TIKTOKEN_CACHE_DIR`` from
tokenmill's bundled rank files, so ``tiktoken.get_encoding("cl100k_base" | "o200k_base")`` works
without network. tiktoken names a cached file by the sha1 hex of its download URL.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

_BUNDLED = ("cl100k_base", "o200k_base")
_DATA = Path(__file__).resolve().parents[1] / "python" / "tokenmill" / "data"


@pytest.fixture(scope="session", autouse=True)
def tiktoken_offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("tiktoken_cache")
    for name in _BUNDLED:
        url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
        key = hashlib.sha1(url.encode()).hexdigest()
        (cache / key).write_bytes(gzip.decompress((_DATA / f"{name}.tiktoken.gz").read_bytes()))
    old = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    try:
        yield cache
    finally:
        if old is None:
            os.environ.pop("TIKTOKEN_CACHE_DIR", None)
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = old
