# Hand-written stubs for the native extension; checked against it by tests/test_package.py.

from typing import Any, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "DecodeStream",
    "DecodeStreams",
    "Encoding",
    "Requests",
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
    outs: Any,
) -> None: ...
def kept_mask_into(
    logits: npt.NDArray[np.float32],
    params: Any,
    procs: Any,
    out: npt.NDArray[np.bool_],
) -> None: ...

@final
class Requests:
    def __init__(self) -> None: ...
    def add(
        self,
        id: int,
        params: Any,
        history: npt.NDArray[np.int64],
        bias_ids: npt.NDArray[np.int64],
        bias_values: npt.NDArray[np.float32],
    ) -> None: ...
    def remove(self, id: int) -> None: ...
    def extend(self, id: int, tokens: npt.NDArray[np.int64]) -> None: ...
    def contains(self, id: int) -> bool: ...
    def step_of(self, id: int) -> int: ...
    def ids(self) -> list[int]: ...
    def __len__(self) -> int: ...
    def sample(
        self,
        logits: npt.NDArray[np.float32],
        ids: npt.NDArray[np.uint64],
        mask: npt.NDArray[np.uint32] | None,
        outs: Any,
        advance: bool,
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
    def from_file(path: str, name: str) -> tuple[Encoding, str]: ...
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
    def decode_bytes_batch(self, batch: list[list[int]]) -> list[bytes]: ...
    def encode_single_token(self, piece: bytes) -> int: ...
    def token_byte_values(self) -> list[bytes]: ...
    def encode_to_numpy(
        self, text: str, allowed: list[str] | None, disallowed: list[str] | None
    ) -> npt.NDArray[np.uint32]: ...
    @staticmethod
    def from_tiktoken_bytes(
        data: bytes, pattern: str, special_tokens: list[tuple[str, int]], name: str
    ) -> Encoding: ...
    def is_hf_special(self, token: int) -> bool: ...

# --- streaming detokenization (tokenmill-bpe `stream`) ---

@final
class DecodeStream:
    def __new__(
        cls,
        encoding: object,
        *,
        skip_special_tokens: bool = False,
        prompt_ids: list[int] | None = None,
        stop: str | list[str] | None = None,
        stop_token_ids: list[int] | None = None,
        include_stop_str_in_output: bool = False,
    ) -> DecodeStream: ...
    def step(self, token_id: int) -> str | None: ...
    def flush(self) -> str: ...
    @property
    def finished(self) -> bool: ...
    @property
    def stop_reason(self) -> str | int | None: ...
    @property
    def stop_index(self) -> int | None: ...
    @property
    def num_tokens(self) -> int: ...

@final
class DecodeStreams:
    def __new__(
        cls,
        encoding: object,
        batch_size: int,
        *,
        skip_special_tokens: bool = False,
        prompt_ids: list[list[int]] | None = None,
        stop: str | list[str] | None = None,
        stop_token_ids: list[int] | None = None,
        include_stop_str_in_output: bool = False,
    ) -> DecodeStreams: ...
    def step(self, token_ids: npt.ArrayLike) -> list[str | None]: ...
    def flush(self) -> list[str]: ...
    @property
    def finished(self) -> list[bool]: ...
    @property
    def stop_reasons(self) -> list[str | int | None]: ...
    @property
    def stop_indices(self) -> list[int | None]: ...
    def __len__(self) -> int: ...
