"""hashtron_lab.presets: named estimator settings read from the experiment configs (one source)."""
from __future__ import annotations

import numpy as np
import pytest

from hashtron_lab import config_schema as cs
from hashtron_lab import presets
from hashtron_lab.ntuple import NTupleClassifier


@pytest.mark.parametrize("name", presets.names())
def test_every_preset_is_its_config(name):
    cfg = cs.load_config(presets.SOURCES[name])
    enc, cap = cfg.dataset["encoding"], cfg.capacity
    est = presets.estimator(name)
    assert isinstance(est, NTupleClassifier)
    p = est.get_params()
    for key in ("n_tuples", "tuple_size", "window", "select_columns"):
        assert p[key] == enc.get(key), key
    assert p["levels"] == (None if enc.get("levels") is None else list(enc["levels"]))
    assert p["image_shape"] == (None if enc.get("image_shape") is None else tuple(enc["image_shape"]))
    if cap.enabled and cap.law == "support":
        assert (p["load_factor"], p["bleach"]) == (cap.load_factor, cap.bleach)
    else:
        assert (p["load_factor"], p["bleach"]) == (None, 0.0)


def test_the_chosen_capacity_settings_are_in_the_presets():
    assert presets.settings("digits")["load_factor"] == 0.5
    assert presets.settings("mnist")["load_factor"] == 1.0
    assert presets.settings("mnist")["levels"] == [1, 128] and presets.settings("mnist")["window"] == 3


def test_overrides_and_unknown_names():
    est = presets.estimator("tabular", n_tuples=7, seed=3)
    assert est.n_tuples == 7 and est.seed == 3 and est.select_columns == 20
    with pytest.raises(ValueError, match="unknown preset 'imagenet'; valid: \\['breast_cancer', 'digits'"):
        presets.estimator("imagenet")
    with pytest.raises(ValueError, match="unknown parameter"):
        presets.estimator("digits", tuple_sise=3)


def test_a_preset_trains_with_its_capacity_law():
    """The digits preset sizes its RAM tables by the support law: premodulo > 0 on RAMs."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    est = presets.estimator("digits", n_tuples=20).fit(X[:400], y[:400])
    rams = [h for h in est.model_.history_ if h["layer"] == 0]
    assert rams and all(h["premodulo"] > 0 for h in rams)
    assert est.score(X[400:600], y[400:600]) > 0.6
    assert np.isfinite(est.decision_function(X[:3])).all()
