"""Shared pytest configuration.

tiktoken offline: at start-up (``pytest_configure``, so it also covers test modules that load an
encoding at import time) a temporary ``TIKTOKEN_CACHE_DIR`` is filled with the rank files
embedded in tokenmill's extension, so ``tiktoken.get_encoding(...)`` works without network.
tiktoken names a cached file by the sha1 hex of its download URL. The ``tiktoken_cache`` fixture
returns that directory.

``TOKENMILL_CACHE_DIR`` points at another temporary directory for the session, so loads of the
same ``tokenizer.json`` after the first come through the table cache (and the user's cache
directory is left alone).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_BUNDLED = ("cl100k_base", "o200k_base")
_STATE: dict[str, str | None] = {}


def fill_tiktoken_cache(cache: Path) -> None:
    """Write the bundled rank files where tiktoken looks for its downloads (tiktoken checks
    their sha256 itself)."""
    from tokenmill.tokenizer import rank_file

    for name in _BUNDLED:
        url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
        key = hashlib.sha1(url.encode()).hexdigest()
        (cache / key).write_bytes(rank_file(name))
    # r50k_base / p50k_base (and so tiktoken's p50k_edit), from tokenmill's bundled GPT-2 ranks
    from tokenmill.tokenizer import legacy_rank_file

    for name in ("r50k_base", "p50k_base"):
        url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
        key = hashlib.sha1(url.encode()).hexdigest()
        (cache / key).write_bytes(legacy_rank_file(name))


def pytest_configure(config: pytest.Config) -> None:
    cache = Path(tempfile.mkdtemp(prefix="tokenmill-tiktoken-"))
    fill_tiktoken_cache(cache)
    _STATE["dir"] = str(cache)
    _STATE["old"] = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    tables = Path(tempfile.mkdtemp(prefix="tokenmill-tables-"))
    _STATE["tables"] = str(tables)
    _STATE["old_tables"] = os.environ.get("TOKENMILL_CACHE_DIR")
    os.environ["TOKENMILL_CACHE_DIR"] = str(tables)


def pytest_unconfigure(config: pytest.Config) -> None:
    old = _STATE.get("old")
    if old is None:
        os.environ.pop("TIKTOKEN_CACHE_DIR", None)
    else:
        os.environ["TIKTOKEN_CACHE_DIR"] = old
    if _STATE.get("dir"):
        shutil.rmtree(str(_STATE["dir"]), ignore_errors=True)
    old_tables = _STATE.get("old_tables")
    if old_tables is None:
        os.environ.pop("TOKENMILL_CACHE_DIR", None)
    else:
        os.environ["TOKENMILL_CACHE_DIR"] = old_tables
    if _STATE.get("tables"):
        shutil.rmtree(str(_STATE["tables"]), ignore_errors=True)


@pytest.fixture(scope="session")
def tiktoken_cache() -> Path:
    """The offline tiktoken cache directory (already active via ``TIKTOKEN_CACHE_DIR``)."""
    return Path(str(_STATE["dir"]))
