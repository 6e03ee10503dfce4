"""Reading logits and masks from numpy arrays and array-like objects, without importing torch.

Design notes: the sampling functions take numpy arrays, objects exposing DLPack (a torch CPU
tensor, for example) or ``__array__``. Nothing here imports torch: a torch tensor is recognised
by ``type(x).__module__`` and read through DLPack (or its ``numpy()`` view for dtypes numpy
lacks). The result types follow the input: :class:`Like` remembers where an array came from so
results can be handed back as the same kind of object.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


def as_numpy(x: object) -> np.ndarray[Any, Any]:
    """``x`` as a numpy array, without a copy where the source allows it."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except (TypeError, BufferError, RuntimeError):
            pass  # e.g. a device tensor or a dtype numpy lacks: try __array__ below
    return np.asarray(x)


class Logits(NamedTuple):
    """A 2-D C-contiguous float32 view of the caller's logits and whether they were 1-D."""

    rows: F32
    one_d: bool


def logits_2d(x: object) -> Logits:
    """2-D C-contiguous aligned float32 view of ``x`` (copied only if needed) and whether it was
    1-D."""
    a = as_numpy(x)
    kind = a.dtype.kind
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
    # C order, float32 and aligned (a contiguous but unaligned buffer is copied once).
    return Logits(np.require(a2, np.float32, ("C", "A")), one_d)
