"""Parameter checks that produce the one-line messages users see."""

from __future__ import annotations

import math
from typing import Any

from archsearch.errors import InvalidParameterError

__all__ = ["check_bool", "check_int", "check_float"]


def check_int(owner: str, name: str, value: Any, low: int, high: int | None = None,
              high_name: str | None = None) -> int:
    """Return ``value`` if it is an int in [low, high]; else raise InvalidParameterError."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    ok = ok and (high is None or value <= high)
    if not ok:
        upper = "" if high is None else f", {high_name + '=' if high_name else ''}{high}"
        rule = f">= {low}" if high is None else f"in [{low}{upper}]"
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an int {rule}. Got {value!r} instead."
        )
    return int(value)


def check_float(owner: str, name: str, value: Any, low: float, high: float | None = None,
                *, low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` if it is a finite real number in the range; else raise
    InvalidParameterError (infinity means nothing for any setting checked here)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and (
        high is None or (value < high if high_open else value <= high))
    if not ok:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        rule = f"> {low}" if high is None and low_open else (
            f">= {low}" if high is None else f"in {left}{low}, {high}{right}")
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a number {rule}. Got {value!r} instead."
        )
    return float(value)


def check_bool(owner: str, name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool; else raise InvalidParameterError."""
    if not isinstance(value, bool):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be True or False. Got {value!r} instead."
        )
    return value
