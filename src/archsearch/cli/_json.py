"""JSON printed by ``--json``: strict JSON, which every parser reads."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["dumps"]


def dumps(value: Any) -> str:
    """``value`` as indented JSON; NaN and infinities (not JSON) become null."""
    return json.dumps(_finite(value), indent=2, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
