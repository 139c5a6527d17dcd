"""numpy values inside dicts/lists → plain Python, so a structure can go through `json.dumps`."""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np


def jsonable(obj: Any, nonfinite_as_none: bool = False) -> Any:
    """Recursively: mapping keys to str, tuples to lists, numpy scalars and arrays to Python;
    with `nonfinite_as_none`, NaN and ±inf become None (strict JSON has no such numbers)."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v, nonfinite_as_none) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, nonfinite_as_none) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist(), nonfinite_as_none) if nonfinite_as_none else obj.tolist()
    if isinstance(obj, np.generic):
        obj = obj.item()
    if nonfinite_as_none and isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
