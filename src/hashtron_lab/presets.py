"""Named estimator settings: `estimator("mnist")` is an unfitted NTupleClassifier configured as
the experiment config of that data (`conf/experiment/ntuple_<name>.yaml`) says — one source for
the command line and the Python API. `tabular` (the default for unknown numeric tables) is
`conf/dataset/tabular.yaml`'s encoding with the breast-cancer experiment's run settings
(capacity off: the support law has not been measured on wide tables).

    from hashtron_lab.presets import estimator
    clf = estimator("mnist").fit(X_train, y_train)      # X: raw pixels 0..255, 784 columns
    clf = estimator("tabular", n_tuples=200)             # overrides are NTupleClassifier parameters
"""
from __future__ import annotations

from typing import Any

from .ntuple import NTupleClassifier

#: preset name -> the overrides that compose its settings from conf/
SOURCES = {
    "digits": ["experiment=ntuple_digits"],
    "breast_cancer": ["experiment=ntuple_breast_cancer"],
    "mnist": ["experiment=ntuple_mnist"],
    "tabular": ["experiment=ntuple_breast_cancer", "dataset=tabular"],
}


def names() -> list[str]:
    return sorted(SOURCES)


def settings(name: str) -> dict[str, Any]:
    """NTupleClassifier parameters of preset `name`, read from the composed config."""
    if name not in SOURCES:
        raise ValueError(f"unknown preset {name!r}; valid: {names()}")
    from .config_schema import load_config

    cfg = load_config(SOURCES[name])
    enc = cfg["dataset"]["encoding"]
    cap = cfg["capacity"]
    on = bool(cap.get("enabled")) and cap.get("law") == "support"
    shape = enc.get("image_shape")
    return {
        "n_tuples": int(enc["n_tuples"]), "tuple_size": int(enc["tuple_size"]),
        "quantiles": enc.get("quantiles"), "levels": None if enc.get("levels") is None else list(enc["levels"]),
        "window": enc.get("window"), "image_shape": None if shape is None else tuple(shape),
        "select_pool": int(enc.get("select_pool") or 1), "select_columns": enc.get("select_columns"),
        "direction": cfg["pipeline"]["direction"],
        "load_factor": cap.get("load_factor") if on else None, "bleach": float(cap.get("bleach", 0.0)) if on else 0.0,
    }


def estimator(name: str = "tabular", **overrides: Any) -> NTupleClassifier:
    """An unfitted NTupleClassifier with preset `name`'s settings, `overrides` applied on top."""
    est = NTupleClassifier(**settings(name))
    return est.set_params(**overrides) if overrides else est
