"""Shared pytest configuration.

tiktoken offline: at start-up (``pytest_configure``, so it also covers test modules that load an
encoding at import time) a temporary ``TIKTOKEN_CACHE_DIR`` is filled with the rank files
embedded in tokenmill's extension, so ``tiktoken.get_encoding(...)`` works without network.
tiktoken names a cached file by the sha1 hex of its download URL. The ``tiktoken_cache`` fixture
returns that directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_BUNDLED = ("r50k_base", "p50k_base", "cl100k_base", "o200k_base")
_STATE: dict[str, str | None] = {}


def fill_tiktoken_cache(cache: Path) -> None:
    """Write the bundled rank files where tiktoken looks for its downloads (tiktoken checks
    their sha256 itself)."""
    from tokenmill.tokenizer import rank_file

    for name in _BUNDLED:
        url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
        key = hashlib.sha1(url.encode()).hexdigest()
        (cache / key).write_bytes(rank_file(name))


def pytest_configure(config: pytest.Config) -> None:
    cache = Path(tempfile.mkdtemp(prefix="tokenmill-tiktoken-"))
    fill_tiktoken_cache(cache)
    _STATE["dir"] = str(cache)
    _STATE["old"] = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)


def pytest_unconfigure(config: pytest.Config) -> None:
    old = _STATE.get("old")
    if old is None:
        os.environ.pop("TIKTOKEN_CACHE_DIR", None)
    else:
        os.environ["TIKTOKEN_CACHE_DIR"] = old
    if _STATE.get("dir"):
        shutil.rmtree(str(_STATE["dir"]), ignore_errors=True)


@pytest.fixture(scope="session")
def tiktoken_cache() -> Path:
    """The offline tiktoken cache directory (already active via ``TIKTOKEN_CACHE_DIR``)."""
    return Path(str(_STATE["dir"]))
