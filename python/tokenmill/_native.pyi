# Hand-written stubs for the native extension; checked against it by tests/test_package.py.

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "__version__",
    "get_num_threads",
    "kept_mask_into",
    "sample_into",
    "set_num_threads",
    "simd_level",
    "softmax_into",
]
__version__: str

def simd_level() -> str: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...

# --- sampling (wrapped by tokenmill.sampling; `procs` is its _Procs CSR tuple) ---
def softmax_into(
    logits: npt.NDArray[np.float32],
    temperatures: npt.NDArray[np.float64],
    log: bool,
    out: npt.NDArray[np.float32],
) -> None: ...
def sample_into(
    logits: npt.NDArray[np.float32],
    params: npt.NDArray[np.float64],
    keys: npt.NDArray[np.uint64],
    procs: Any,
    tokens: npt.NDArray[np.int64],
    logprobs: npt.NDArray[np.float32] | None = None,
    top_ids: npt.NDArray[np.int64] | None = None,
    top_logprobs: npt.NDArray[np.float32] | None = None,
) -> None: ...
def kept_mask_into(
    logits: npt.NDArray[np.float32],
    params: npt.NDArray[np.float64],
    keys: npt.NDArray[np.uint64],
    procs: Any,
    out: npt.NDArray[np.bool_],
) -> None: ...
