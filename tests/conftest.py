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


# Environment variable -> temporary directory it points at during the session.
_DIRS = {"TIKTOKEN_CACHE_DIR": "tokenmill-tiktoken-", "TOKENMILL_CACHE_DIR": "tokenmill-tables-"}
_OLD: dict[str, str | None] = {}


def pytest_configure(config: pytest.Config) -> None:
    for var, prefix in _DIRS.items():
        path = Path(tempfile.mkdtemp(prefix=prefix))
        _STATE[var] = str(path)
        _OLD[var] = os.environ.get(var)
        os.environ[var] = str(path)
    fill_tiktoken_cache(Path(os.environ["TIKTOKEN_CACHE_DIR"]))
    _STATE["dir"] = _STATE["TIKTOKEN_CACHE_DIR"]


def pytest_unconfigure(config: pytest.Config) -> None:
    for var in _DIRS:
        old = _OLD.get(var)
        if old is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = old
        if _STATE.get(var):
            shutil.rmtree(str(_STATE[var]), ignore_errors=True)


@pytest.fixture(scope="session")
def tiktoken_cache() -> Path:
    """The offline tiktoken cache directory (already active via ``TIKTOKEN_CACHE_DIR``)."""
    return Path(str(_STATE["dir"]))
