"""tokenmill: fast, exact token tooling for people who build and run LLMs.

The inference path (``sample``, ``softmax``, ``get_encoding``) imports only numpy and the native
extension. The pure-Python layers (cost, report, scaling) load on first use, so ``import tokenmill``
stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from tokenmill._native import __version__, get_num_threads, set_num_threads, simd_level
from tokenmill.sampling import Sampler, SampleResult, kept_mask, log_softmax, sample, softmax

# name -> submodule that defines it; loaded on first attribute access (PEP 562).
_LAZY: dict[str, str] = {
    "Encoding": "tokenmill.tokenizer",
    "encoding_for_model": "tokenmill.tokenizer",
    "get_encoding": "tokenmill.tokenizer",
    "list_encodings": "tokenmill.tokenizer",
    "load_tokenizer": "tokenmill.tokenizer",
}

__all__ = [
    "Encoding",
    "SampleResult",
    "Sampler",
    "__version__",
    "encoding_for_model",
    "get_encoding",
    "get_num_threads",
    "kept_mask",
    "list_encodings",
    "load_tokenizer",
    "log_softmax",
    "sample",
    "set_num_threads",
    "simd_level",
    "softmax",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tokenmill' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
