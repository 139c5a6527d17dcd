"""One numpy-to-JSON converter for run records, dataset meta and the compare report."""
import json
import math

import numpy as np

from hashtron_lab.jsonable import jsonable


def test_numpy_values_become_plain_python_and_keys_strings():
    obj = {1: np.int64(3), "a": (np.float32(0.5), np.arange(3)), "m": {np.int32(2): [np.bool_(True)]}}
    out = jsonable(obj)
    assert out == {"1": 3, "a": [0.5, [0, 1, 2]], "m": {"2": [True]}}
    assert json.loads(json.dumps(out)) == out


def test_nonfinite_numbers_become_null_only_when_asked():
    obj = {"x": float("nan"), "y": np.float64(np.inf), "z": np.array([1.0, -np.inf]), "ok": 2.5}
    strict = jsonable(obj, nonfinite_as_none=True)
    assert strict == {"x": None, "y": None, "z": [1.0, None], "ok": 2.5}
    json.dumps(strict, allow_nan=False)
    loose = jsonable(obj)
    assert math.isnan(loose["x"]) and loose["y"] == math.inf and loose["z"] == [1.0, -math.inf]
