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
    "compute_optimal": "tokenmill.scaling",
    "encoding_for_model": "tokenmill.tokenizer",
    "get_encoding": "tokenmill.tokenizer",
    "gpus_for_deadline": "tokenmill.scaling",
    "inference_memory": "tokenmill.scaling",
    "list_encodings": "tokenmill.tokenizer",
    "load_tokenizer": "tokenmill.tokenizer",
    "param_count": "tokenmill.scaling",
    "predicted_loss": "tokenmill.scaling",
    "training_estimate": "tokenmill.scaling",
    "training_flop": "tokenmill.scaling",
}

__all__ = [
    "Encoding",
    "SampleResult",
    "Sampler",
    "__version__",
    "compute_optimal",
    "encoding_for_model",
    "get_encoding",
    "get_num_threads",
    "gpus_for_deadline",
    "inference_memory",
    "kept_mask",
    "list_encodings",
    "load_tokenizer",
    "log_softmax",
    "param_count",
    "predicted_loss",
    "sample",
    "set_num_threads",
    "simd_level",
    "softmax",
    "training_estimate",
    "training_flop",
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
