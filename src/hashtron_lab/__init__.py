"""hashtron_lab: hashtron networks trained backward with a sum cache and capacity control.

The stable public surface (see README "Python API"):
hash32, hash_array, QuaternaryFilter, Architecture, Network, HashtronClassifier, NTupleClassifier, Phonemizer,
save_model / load_model, export_go_weights / import_go_weights.
"""
from .estimator import HashtronClassifier, NotFittedError
from .hashing import hash32, hash_array
from .model.architecture import Architecture, ArchitectureError, default_architecture
from .model.files import ModelFileError, load_model, save_model
from .model.filter import QuaternaryFilter
from .model.go_weights import export_go_weights, import_go_weights
from .model.network import Network
from .ntuple import NTupleClassifier
from .g2p.phonemizer import Phonemizer, PhonemizerFileError

__version__ = "0.1.0"

__all__ = [
    "Architecture", "ArchitectureError", "HashtronClassifier", "ModelFileError", "NTupleClassifier", "Network",
    "NotFittedError", "Phonemizer", "PhonemizerFileError",
    "QuaternaryFilter", "default_architecture", "export_go_weights", "hash32", "hash_array", "import_go_weights",
    "load_model", "save_model",
]
