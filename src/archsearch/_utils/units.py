"""Numbers as people read them: FLOPs with a unit prefix."""

from __future__ import annotations

import math

__all__ = ["format_flops"]

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def format_flops(value: float | None) -> str:
    """A FLOP count to three significant digits with a prefix; '–' if there is none.

    Example:
        >>> format_flops(4_123_456), format_flops(812), format_flops(None)
        ('4.12 MFLOPs', '812 FLOPs', '–')
    """
    if value is None or isinstance(value, bool) or not math.isfinite(value):
        return "–"
    for size, prefix in _PREFIXES:
        if abs(value) >= size:
            return f"{value / size:.3g} {prefix}FLOPs"
    return f"{value:.3g} FLOPs"
