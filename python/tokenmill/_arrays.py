"""Reading logits and masks from numpy arrays and array-like objects, without importing torch.

Design notes: the sampling functions take numpy arrays, objects exposing DLPack (a torch CPU
tensor, for example) or ``__array__``. Nothing here imports torch: a torch tensor is recognised
by ``type(x).__module__`` and read through DLPack (or its ``numpy()`` view for dtypes numpy
lacks). The result types follow the input: :class:`Like` remembers where an array came from so
results can be handed back as the same kind of object.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
U16 = npt.NDArray[np.uint16]
T = TypeVar("T")


def torch_of(x: object) -> ModuleType | None:
    """The torch module when ``x`` is a torch tensor (torch is then already imported), else
    ``None``. Never imports torch."""
    mod = type(x).__module__
    if mod == "torch" or mod.startswith("torch."):
        return sys.modules.get("torch")
    return None


def bf16_to_f32(bits: npt.NDArray[np.uint16]) -> F32:
    """bfloat16 values (their 16-bit patterns) as float32: exact, one pass."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _from_torch(torch: ModuleType, x: Any) -> np.ndarray[Any, Any]:
    if x.device.type != "cpu":
        raise ValueError(
            f"tokenmill samples on the CPU, and this tensor is on {x.device}: pass "
            f"tensor.cpu() (the logits of the last position are enough: logits[:, -1].cpu())"
        )
    x = x.detach()  # requires_grad tensors: sampling is not differentiable
    if x.dtype == torch.bfloat16:  # numpy has no bfloat16: its bit patterns, not a copy
        return np.from_dlpack(x.view(torch.int16)).view(np.uint16)
    return np.from_dlpack(x)


def as_numpy(x: object) -> np.ndarray[Any, Any]:
    """``x`` as a numpy array, without a copy where the source allows it (a CPU torch tensor is
    read through DLPack; a bfloat16 one as its uint16 bit patterns)."""
    if isinstance(x, np.ndarray):
        return x
    torch = torch_of(x)
    if torch is not None:
        return _from_torch(torch, x)
    if hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except (TypeError, BufferError, RuntimeError):
            pass  # e.g. a device tensor or a dtype numpy lacks: try __array__ below
    return np.asarray(x)


class Logits(NamedTuple):
    """A 2-D C-contiguous view of the caller's logits (float32, or bfloat16 as uint16 bits) and
    whether they were 1-D."""

    rows: F32 | U16
    one_d: bool


_F32 = np.dtype(np.float32)


def is_bf16(dtype: np.dtype[Any]) -> bool:
    """ml_dtypes' bfloat16 (a user-defined numpy dtype, kind ``V``) or its 16-bit patterns.
    ``dtype.name`` is only read for kind ``V``: numpy computes it in Python, at several µs."""
    return dtype == np.uint16 or (dtype.kind == "V" and dtype.name == "bfloat16")


def logits_2d(x: object) -> Logits:
    """2-D C-contiguous aligned view of ``x`` (copied only if needed) and whether it was 1-D:
    float32, or for bfloat16 logits (torch, ml_dtypes or uint16 bit patterns) their bits, which
    the native kernels widen one row at a time (no float32 copy of the batch)."""
    if type(x) is np.ndarray and x.dtype == _F32:
        # The decode-loop case (float32 rows, C order, aligned): no conversion, a few attribute
        # reads. Everything else takes the general path below.
        nd, flags = x.ndim, x.flags
        if flags.c_contiguous and flags.aligned and (nd == 2 or nd == 1) and x.shape[-1]:
            return Logits(x if nd == 2 else x.reshape(1, -1), nd == 1)
    a = as_numpy(x)
    bf16 = is_bf16(a.dtype)
    if bf16:
        a = a.view(np.uint16)
    kind = "f" if bf16 else a.dtype.kind
    if kind in "iub":
        raise TypeError(f"logits must be floating point, got integer dtype {a.dtype}")
    if kind == "c":
        raise TypeError(f"logits must be real floating point, got complex dtype {a.dtype}")
    if kind != "f":
        raise TypeError(f"logits must be a floating-point array, got dtype {a.dtype}")
    if a.ndim not in (1, 2):
        raise ValueError(f"logits must be 1-D [vocab] or 2-D [batch, vocab], got ndim={a.ndim}")
    if a.shape[-1] == 0:
        raise ValueError("logits has vocab size 0")
    one_d = a.ndim == 1
    a2 = a.reshape(1, -1) if one_d else a
    # C order, float32 (or bfloat16 bits) and aligned (a contiguous but unaligned buffer is
    # copied once).
    return Logits(np.require(a2, np.uint16 if bf16 else np.float32, ("C", "A")), one_d)


def like(source: object, result: T) -> T:
    """``result`` (numpy arrays, possibly inside a tuple) as torch tensors when ``source`` is a
    torch tensor; unchanged otherwise."""
    torch = torch_of(source)
    if torch is None:
        return result
    if isinstance(result, np.ndarray):
        return torch.from_numpy(result)  # type: ignore[no-any-return]
    if isinstance(result, tuple):
        items = [like(source, r) for r in result]
        if hasattr(result, "_fields"):  # a NamedTuple such as SampleResult
            return type(result)(*items)
        return tuple(items)  # type: ignore[return-value]
    return result


def out_numpy(out: object) -> object:
    """An ``out=`` argument as numpy (a torch tensor through DLPack, sharing its memory)."""
    torch = torch_of(out)
    if torch is None:
        return out
    return _from_torch(torch, out)
