"""hashtron_lab: hashtron networks trained backward with a sum cache and capacity control.

The stable public surface (see README "Python API"):
hash32, hash_array, QuaternaryFilter, Architecture, Network, HashtronClassifier, NTupleClassifier, Phonemizer,
save_model / load_model, export_go_weights / import_go_weights.

Each name is imported on first use (PEP 562): ``python -m hashtron_lab phonemize`` then loads the
phonemizer without scikit-learn or Hydra.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_WHERE = {
    "HashtronClassifier": ".estimator", "NotFittedError": ".estimator",
    "hash32": ".hashing", "hash_array": ".hashing",
    "Architecture": ".model.architecture", "ArchitectureError": ".model.architecture",
    "default_architecture": ".model.architecture",
    "ModelFileError": ".model.files", "load_model": ".model.files", "save_model": ".model.files",
    "QuaternaryFilter": ".model.filter",
    "export_go_weights": ".model.go_weights", "import_go_weights": ".model.go_weights",
    "Network": ".model.network",
    "NTupleClassifier": ".ntuple",
    "Phonemizer": ".g2p.phonemizer", "PhonemizerFileError": ".g2p.phonemizer",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'hashtron_lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
