"""Datasets behind one interface: `load_dataset(cfg, seed, max_output_bits)` -> `Dataset`.

Datasets (``DATASETS``): digits, breast_cancer, isalnum, parity, csv, phonemizer
(epitran + wordfreq, optional ``[langs]`` extra), cmudict. Encodings are chosen in the
config (``encoding.kind``: byte_picker, thermometer, raw, context); see
`hashtron_lab.data.encoders`. `save_dataset` / `read_dataset` store a dataset as
npz + meta.json, atomically and checksummed.
"""
from .dataset import Dataset, read_dataset, save_dataset
from .errors import DatasetError
from .registry import DATASETS, load_dataset



def supported_languages() -> list[str]:
    """Epitran codes of every language epitran and wordfreq both support (see `.languages`)."""
    from .languages import supported_languages as computed
    return computed()


__all__ = ["Dataset", "DatasetError", "DATASETS", "load_dataset", "read_dataset", "save_dataset",
           "supported_languages"]
