"""PEP 562 lazy attributes for package fronts (``tokenmill``, ``tokenmill.cost``).

A front lists ``name -> defining module``; :func:`lazy_getattr` builds the module ``__getattr__``
that imports the defining module on first use and caches the object in the front's globals.
Type checkers read the front's ``TYPE_CHECKING`` imports instead. Standard library only, so the
front stays as cheap to import as before.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(
    front: str, table: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """The ``__getattr__`` of module ``front`` resolving ``table``'s names into ``namespace``."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {front!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
