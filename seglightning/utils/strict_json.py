"""Strict JSON for every file the project writes: ``jq`` and a browser's ``JSON.parse`` read them.

A non-finite score (NaN: a class absent from prediction and ground truth, an empty test set) is
written as ``null``; :func:`nan_for_null` reads it back as NaN where a mapping holds scores.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as None and numpy scalars and arrays as Python values."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy scalar or array
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(data: Any) -> str:
    """Indented, key-sorted strict JSON (``allow_nan=False``: a non-finite float can not slip through)."""
    return json.dumps(jsonable(data), indent=2, sort_keys=True, default=str, allow_nan=False)


def nan_for_null(scores: Mapping[str, Any]) -> dict[str, Any]:
    """A score mapping read back from JSON: ``null`` values become NaN."""
    return {k: math.nan if v is None else v for k, v in scores.items()}
