"""The dataset config files the data tests load, with overrides (shared by the data test modules)."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

CONF = Path(__file__).resolve().parents[2] / "conf" / "dataset"


def conf(option: str, **overrides) -> dict:
    """conf/dataset/<option>.yaml as a dict; a dict override updates that section, others replace."""
    cfg = copy.deepcopy(yaml.safe_load((CONF / f"{option}.yaml").read_text(encoding="utf-8")))
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k].update(v)
        else:
            cfg[k] = v
    return cfg
