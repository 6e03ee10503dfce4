# Hand-written stubs for the native extension; checked against it by tests/test_package.py.

from typing import Any, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "Encoding",
    "__version__",
    "get_num_threads",
    "kept_mask_into",
    "sample_into",
    "sample_one",
    "set_num_threads",
    "set_piece_cache",
    "simd_level",
    "softmax_into",
]
__version__: str

def simd_level() -> str: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def set_piece_cache(enabled: bool) -> None: ...

# --- sampling (wrapped by tokenmill.sampling; `params` is its _RowArgs, `procs` its CSR tuple) ---
def softmax_into(
    logits: npt.NDArray[np.float32],
    temperatures: npt.NDArray[np.float64],
    log: bool,
    out: npt.NDArray[np.float32],
) -> None: ...
def sample_one(
    logits: npt.NDArray[np.float32],
    temperature: float,
    top_k: int,
    top_p: float,
    min_p: float,
    seed: int,
    step: int,
) -> int: ...
def sample_into(
    logits: npt.NDArray[np.float32],
    params: Any,
    procs: Any,
    tokens: npt.NDArray[np.int64],
    logprobs: npt.NDArray[np.float32] | None = None,
    top_ids: npt.NDArray[np.int64] | None = None,
    top_logprobs: npt.NDArray[np.float32] | None = None,
) -> None: ...
def kept_mask_into(
    logits: npt.NDArray[np.float32],
    params: Any,
    procs: Any,
    out: npt.NDArray[np.bool_],
) -> None: ...

# --- tokenizer (tokenmill-bpe) ---

@final
class Encoding:
    @staticmethod
    def from_tiktoken(
        path: str, pattern: str, special_tokens: list[tuple[str, int]], name: str
    ) -> Encoding: ...
    @staticmethod
    def from_tokenizer_json(path: str, name: str) -> Encoding: ...
    @staticmethod
    def openai(name: str) -> Encoding: ...
    @staticmethod
    def openai_pattern(name: str) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def n_vocab(self) -> int: ...
    @property
    def special_tokens(self) -> dict[str, int]: ...
    def encode_ordinary(self, text: str) -> list[int]: ...
    def encode(
        self, text: str, allowed: list[str] | None, disallowed: list[str] | None
    ) -> list[int]: ...
    def encode_batch(
        self, texts: list[str], allowed: list[str] | None, disallowed: list[str] | None
    ) -> list[list[int]]: ...
    def count(self, text: str, allowed: list[str] | None, disallowed: list[str] | None) -> int: ...
    def count_ordinary(self, text: str) -> int: ...
    def count_batch(
        self, texts: list[str], allowed: list[str] | None, disallowed: list[str] | None
    ) -> npt.NDArray[np.int64]: ...
    def count_arrow(
        self, array: object, allowed: list[str] | None, disallowed: list[str] | None
    ) -> npt.NDArray[np.int64]: ...
    def count_till_limit(
        self, text: str, limit: int, allowed: list[str] | None, disallowed: list[str] | None
    ) -> int | None: ...
    def decode_bytes(self, tokens: list[int]) -> bytes: ...
    def decode_single_token_bytes(self, token: int) -> bytes: ...
