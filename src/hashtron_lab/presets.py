"""Named settings shared by `conf/` and the estimator.

Option sets (`OPTIONS`): settings the estimator's architectures train with, registered with Hydra
as config group options (`config_schema.register`), so `conf/` selects them by name and the
estimator reads the same objects — one place for their values:

- ``pipeline=backward_all``: every neuron of a layer once per visit (final layer, then the hidden
  layer(s)): what n-tuple networks need, whose RAMs each learn once from local credit;
- ``capacity=fixed``: no capacity law; every update uses ``capacity.fixed_premodulo`` (0 = no
  premodulo step): the capacity ablation, and exact tables;
- ``selection=round_robin``: positions 0, 1, 2, ... per layer;
- ``run=ntuple``: every RAM learns from local credit, a vote for 1 outweighing every vote for 0
  (WiSARD's rule); every update kept and none dropped as a revisit; no early stopping.

Estimator presets: `estimator("mnist")` is an unfitted NTupleClassifier configured as the
experiment config of that data (`conf/experiment/ntuple_<name>.yaml`) says. `tabular` (the default
for unknown numeric tables) is `conf/dataset/tabular.yaml`'s encoding with the breast-cancer
experiment's run settings (capacity off: the support law has not been measured on wide tables).

    from hashtron_lab.presets import estimator
    clf = estimator("mnist").fit(X_train, y_train)      # X: raw pixels 0..255, 784 columns
    clf = estimator("tabular", n_tuples=200)             # overrides are NTupleClassifier parameters
"""
from __future__ import annotations

from typing import Any

BACKWARD_ALL = {"layer_fraction": 1.0, "max_attempts": 1}
CAPACITY_FIXED = {"enabled": False}
ROUND_ROBIN = {"rule": "round_robin"}
NTUPLE_RUN = {"acceptance": {"rule": "always", "reject_revisits": False, "tally": "local",
                             "positive_weight": 1_000_000},
              "validation": {"patience": None}}

#: (group, option) -> the option's overrides (a pipeline option names the pipeline it extends)
OPTIONS = {
    ("pipeline", "backward_all"): {"defaults": ["backward", "_self_"], **BACKWARD_ALL},
    ("capacity", "fixed"): CAPACITY_FIXED,
    ("selection", "round_robin"): ROUND_ROBIN,
    ("run", "ntuple"): NTUPLE_RUN,
}

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
    enc = cfg.dataset["encoding"]
    cap = cfg.capacity
    on = cap.enabled and cap.law == "support"
    shape = enc.get("image_shape")
    return {
        "n_tuples": int(enc["n_tuples"]), "tuple_size": int(enc["tuple_size"]),
        "quantiles": enc.get("quantiles"), "levels": None if enc.get("levels") is None else list(enc["levels"]),
        "window": enc.get("window"), "image_shape": None if shape is None else tuple(shape),
        "select_pool": int(enc.get("select_pool") or 1), "select_columns": enc.get("select_columns"),
        "direction": cfg.direction,
        "load_factor": cap.load_factor if on else None, "bleach": float(cap.bleach) if on else 0.0,
    }


def estimator(name: str = "tabular", **overrides: Any):
    """An unfitted NTupleClassifier with preset `name`'s settings, `overrides` applied on top."""
    from .ntuple import NTupleClassifier

    est = NTupleClassifier(**settings(name))
    return est.set_params(**overrides) if overrides else est
