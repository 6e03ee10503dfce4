"""Argument checks shared by the scaling modules: each names the argument in its error."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["choice", "fraction_of_peak", "number", "positive", "positive_int"]


def number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def positive(name: str, value: object) -> float:
    out = number(name, value)
    if out <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return out


def positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def fraction_of_peak(value: object) -> float:
    out = number("mfu", value)
    if not 0 < out <= 1:
        raise ValueError(f"mfu (model FLOP utilisation) must be in (0, 1], got {value!r}")
    return out


def choice(kind: str, key: str, valid: dict[str, Any]) -> Any:
    try:
        return valid[key]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown {kind} {key!r}; valid choices: {', '.join(sorted(valid))}"
        ) from None
