"""tokenmill: fast, exact token tooling for people who build and run LLMs.

``import tokenmill`` loads only the native extension. Everything else loads on first use (PEP 562):
the inference path (``sample``, ``softmax``, ``get_encoding``) pulls in numpy and nothing more; the
pure-Python layers (cost, report, scaling) load only when one of their names is used. Type checkers
read the ``TYPE_CHECKING`` imports instead, so they see each name's real type; a test keeps those
imports and the lazy table equal. Nothing inside the package imports this module's names: each
module imports from the module that defines a name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenmill._lazy import lazy_front
from tokenmill._native import (
    DecodeStream,
    DecodeStreams,
    __version__,
    get_num_threads,
    set_num_threads,
    set_piece_cache,
    simd_level,
)

if TYPE_CHECKING:  # the objects the lazy table resolves, for type checkers (tests/test_typing.py)
    from tokenmill.batching import BatchSampler
    from tokenmill.cost.catalogue import (
        Catalogue,
        MissingPriceError,
        ModelPrice,
        UnknownModelError,
        load_catalogue,
    )
    from tokenmill.cost.chat import chat_token_count
    from tokenmill.cost.dataset import (
        DatasetCost,
        ShardCount,
        count_rows,
        merge_counts,
        price_dataset,
    )
    from tokenmill.cost.estimate import estimate_cost
    from tokenmill.cost.litellm import load_litellm
    from tokenmill.cost.usage import CostEstimate, Usage, price_usage
    from tokenmill.dataset.count import DatasetCount, count_tokens
    from tokenmill.report.corpus import load_corpus
    from tokenmill.report.model import Report, ReportRow, token_length_report
    from tokenmill.sampling import (
        Sampler,
        SampleResult,
        SamplingParams,
        kept_mask,
        log_softmax,
        sample,
        softmax,
    )
    from tokenmill.scaling.architecture import inference_memory, param_count
    from tokenmill.scaling.fits import compute_optimal, predicted_loss
    from tokenmill.scaling.hardware import gpus_for_deadline, training_estimate
    from tokenmill.scaling.units import training_flop
    from tokenmill.speculative import rejection_sample
    from tokenmill.tokenizer import (
        Encoding,
        UnknownTokenError,
        encoding_for_model,
        encoding_name_for_model,
        get_encoding,
        list_encoding_names,
        list_encodings,
        load_tokenizer,
    )

# name -> submodule that defines it; loaded on first attribute access (PEP 562).
_LAZY: dict[str, str] = {
    "BatchSampler": "tokenmill.batching",
    "Sampler": "tokenmill.sampling",
    "SamplingParams": "tokenmill.sampling",
    "SampleResult": "tokenmill.sampling",
    "kept_mask": "tokenmill.sampling",
    "log_softmax": "tokenmill.sampling",
    "sample": "tokenmill.sampling",
    "softmax": "tokenmill.sampling",
    "rejection_sample": "tokenmill.speculative",
    "Catalogue": "tokenmill.cost.catalogue",
    "CostEstimate": "tokenmill.cost.usage",
    "MissingPriceError": "tokenmill.cost.catalogue",
    "ModelPrice": "tokenmill.cost.catalogue",
    "UnknownModelError": "tokenmill.cost.catalogue",
    "Usage": "tokenmill.cost.usage",
    "chat_token_count": "tokenmill.cost.chat",
    "estimate_cost": "tokenmill.cost.estimate",
    "load_catalogue": "tokenmill.cost.catalogue",
    "load_litellm": "tokenmill.cost.litellm",
    "price_usage": "tokenmill.cost.usage",
    "DatasetCost": "tokenmill.cost.dataset",
    "DatasetCount": "tokenmill.dataset.count",
    "count_tokens": "tokenmill.dataset.count",
    "ShardCount": "tokenmill.cost.dataset",
    "count_rows": "tokenmill.cost.dataset",
    "merge_counts": "tokenmill.cost.dataset",
    "price_dataset": "tokenmill.cost.dataset",
    "Report": "tokenmill.report.model",
    "ReportRow": "tokenmill.report.model",
    "load_corpus": "tokenmill.report.corpus",
    "token_length_report": "tokenmill.report.model",
    "compute_optimal": "tokenmill.scaling.fits",
    "gpus_for_deadline": "tokenmill.scaling.hardware",
    "inference_memory": "tokenmill.scaling.architecture",
    "param_count": "tokenmill.scaling.architecture",
    "predicted_loss": "tokenmill.scaling.fits",
    "training_estimate": "tokenmill.scaling.hardware",
    "training_flop": "tokenmill.scaling.units",
    "Encoding": "tokenmill.tokenizer",
    "encoding_for_model": "tokenmill.tokenizer",
    "get_encoding": "tokenmill.tokenizer",
    "list_encodings": "tokenmill.tokenizer",
    "list_encoding_names": "tokenmill.tokenizer",
    "encoding_name_for_model": "tokenmill.tokenizer",
    "UnknownTokenError": "tokenmill.tokenizer",
    "load_tokenizer": "tokenmill.tokenizer",
}

__all__ = [
    "BatchSampler",
    "Catalogue",
    "CostEstimate",
    "DatasetCost",
    "DatasetCount",
    "DecodeStream",
    "DecodeStreams",
    "Encoding",
    "MissingPriceError",
    "ModelPrice",
    "Report",
    "ReportRow",
    "SampleResult",
    "Sampler",
    "SamplingParams",
    "ShardCount",
    "UnknownModelError",
    "UnknownTokenError",
    "Usage",
    "__version__",
    "chat_token_count",
    "compute_optimal",
    "count_rows",
    "count_tokens",
    "encoding_for_model",
    "encoding_name_for_model",
    "estimate_cost",
    "get_encoding",
    "get_num_threads",
    "gpus_for_deadline",
    "inference_memory",
    "kept_mask",
    "list_encoding_names",
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
    "rejection_sample",
    "sample",
    "set_num_threads",
    "set_piece_cache",
    "simd_level",
    "softmax",
    "token_length_report",
    "training_estimate",
    "training_flop",
]


if not TYPE_CHECKING:  # hidden from type checkers, so that a misspelt name is an error there
    __getattr__, __dir__ = lazy_front(__name__, _LAZY, globals(), __all__)
