"""tokenmill: fast, exact token tooling for people who build and run LLMs.

``import tokenmill`` loads only the native extension. Everything else loads on first use (PEP 562):
the inference path (``sample``, ``softmax``, ``get_encoding``) pulls in numpy and nothing more; the
pure-Python layers (cost, report, scaling) load only when one of their names is used.
"""

from __future__ import annotations

import importlib
from typing import Any

from tokenmill._native import (
    DecodeStream,
    DecodeStreams,
    __version__,
    get_num_threads,
    set_num_threads,
    set_piece_cache,
    simd_level,
)

# name -> submodule that defines it; loaded on first attribute access (PEP 562).
_LAZY: dict[str, str] = {
    "Sampler": "tokenmill.sampling",
    "SampleResult": "tokenmill.sampling",
    "kept_mask": "tokenmill.sampling",
    "log_softmax": "tokenmill.sampling",
    "sample": "tokenmill.sampling",
    "softmax": "tokenmill.sampling",
    "Catalogue": "tokenmill.cost",
    "CostEstimate": "tokenmill.cost",
    "MissingPriceError": "tokenmill.cost",
    "ModelPrice": "tokenmill.cost",
    "UnknownModelError": "tokenmill.cost",
    "Usage": "tokenmill.cost",
    "chat_token_count": "tokenmill.cost",
    "estimate_cost": "tokenmill.cost",
    "load_catalogue": "tokenmill.cost",
    "load_litellm": "tokenmill.cost",
    "price_usage": "tokenmill.cost",
    "DatasetCost": "tokenmill.pricing.dataset",
    "ShardCount": "tokenmill.pricing.dataset",
    "count_rows": "tokenmill.pricing.dataset",
    "merge_counts": "tokenmill.pricing.dataset",
    "price_dataset": "tokenmill.pricing.dataset",
    "Report": "tokenmill.report",
    "ReportRow": "tokenmill.report",
    "load_corpus": "tokenmill.report",
    "token_length_report": "tokenmill.report",
    "compute_optimal": "tokenmill.scaling",
    "gpus_for_deadline": "tokenmill.scaling",
    "inference_memory": "tokenmill.scaling",
    "param_count": "tokenmill.scaling",
    "predicted_loss": "tokenmill.scaling",
    "training_estimate": "tokenmill.scaling",
    "training_flop": "tokenmill.scaling",
    "Encoding": "tokenmill.tokenizer",
    "encoding_for_model": "tokenmill.tokenizer",
    "get_encoding": "tokenmill.tokenizer",
    "list_encodings": "tokenmill.tokenizer",
    "load_tokenizer": "tokenmill.tokenizer",
}

__all__ = [
    "Catalogue",
    "CostEstimate",
    "DatasetCost",
    "DecodeStream",
    "DecodeStreams",
    "Encoding",
    "MissingPriceError",
    "ModelPrice",
    "Report",
    "ReportRow",
    "SampleResult",
    "Sampler",
    "ShardCount",
    "UnknownModelError",
    "Usage",
    "__version__",
    "chat_token_count",
    "compute_optimal",
    "count_rows",
    "encoding_for_model",
    "estimate_cost",
    "get_encoding",
    "get_num_threads",
    "gpus_for_deadline",
    "inference_memory",
    "kept_mask",
    "list_encodings",
    "load_catalogue",
    "load_corpus",
    "load_litellm",
    "load_tokenizer",
    "log_softmax",
    "merge_counts",
    "param_count",
    "predicted_loss",
    "price_dataset",
    "price_usage",
    "sample",
    "set_num_threads",
    "set_piece_cache",
    "simd_level",
    "softmax",
    "token_length_report",
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
