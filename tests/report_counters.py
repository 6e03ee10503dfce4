"""Token counters whose counts are easy to check by hand, for the report tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class WordCounter:
    """One token per whitespace-separated word."""

    name = "words"

    def count_batch(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([len(t.split()) for t in texts], dtype=np.int64)


class CharCounter:
    """One token per code point."""

    name = "chars"

    def count_batch(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([len(t) for t in texts], dtype=np.int64)


class ByteCounter:
    """One token per UTF-8 byte."""

    name = "bytes"

    def count_batch(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([len(t.encode()) for t in texts], dtype=np.int64)


class HalfByteCounter:
    """One token per two UTF-8 bytes, plus one."""

    name = "bytes/2"

    def count_batch(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([len(t.encode()) // 2 + 1 for t in texts], dtype=np.int64)
