"""PEP 562 lazy attributes for package fronts (``tokenmill``, ``tokenmill.cost``).

A front lists ``name -> defining module``; :func:`lazy_front` builds the module ``__getattr__``
that imports the defining module on first use and caches the object in the front's globals, and
the ``__dir__`` that lists the front's public names before they are loaded.
Type checkers read the front's ``TYPE_CHECKING`` imports instead. Standard library only, so the
front stays as cheap to import as before.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_front"]


def lazy_front(
    front: str, table: Mapping[str, str], namespace: dict[str, Any], names: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` of module ``front``: ``table``'s names resolved into
    ``namespace`` (the front's globals) on first use; ``names`` (its ``__all__``) listed."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {front!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
