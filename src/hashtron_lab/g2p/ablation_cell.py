"""A g2p workload's cell of the ablation (`ablation.py`, kind ``g2p``): the Phonemizer settings
of a (workload, cell, seed), whether the workload's lexicon is installed, and one trained cell's
measurements on the split `g2p.data.prepare` gives."""
from __future__ import annotations

import functools
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import yaml

from ..data.lexicon import LexiconError, lexicon_path
from ..settings import SettingError
from .data import prepare
from .phonemizer import Phonemizer

if TYPE_CHECKING:
    from ..ablation import Workload


def g2p_settings(workload: Workload, cell: Mapping[str, str], seed: int) -> dict:
    """The Phonemizer arguments of one g2p (workload, cell, seed): the workload's `overrides`, the
    cell's order / capacity / selection, then (capacity on) the workload's `capacity_on`."""
    kw: dict = {}

    def put(items: Sequence[str], where: str) -> None:
        for item in items:
            key, eq, value = str(item).partition("=")
            if not eq or not key.strip():
                raise SettingError(f"ablation.workloads[{workload.name}].{where}", item,
                                   "key=value Phonemizer settings (e.g. load_factor=0.5)", problem="is not key=value")
            kw[key.strip()] = yaml.safe_load(value)

    put(workload.overrides, "overrides")
    kw.update(language=workload.language, seed=int(seed), direction=cell["order"],
              capacity=cell["capacity"], selection="gold" if cell["selection"] == "gold" else "slot_order")
    if cell["capacity"] == "on":
        put(workload.capacity_on or [], "capacity_on")
    if "levels" in kw:
        kw["levels"] = tuple(kw["levels"])
    return kw


def skip_reason(workload: Workload) -> str | None:
    """Why `workload` cannot run on this machine (its lexicon package is missing), or None."""
    if workload.kind != "g2p":
        return None
    try:
        lexicon_path(workload.language)
    except LexiconError as e:
        return f"skipped: {e}"
    return None


def _g2p_data(workload: Workload, seed: int, lexicon=None):
    if lexicon is not None:
        return prepare(workload.language, int(seed), workload.n_words, lexicon=lexicon)
    return _installed_g2p_data(workload.language, int(seed), workload.n_words)


@functools.lru_cache(maxsize=4)
def _installed_g2p_data(language: str, seed: int, n_words: int | None):
    """One seed's split of an installed lexicon, made once per process (8 cells read it; the
    models only read it)."""
    return prepare(language, seed, n_words)


def run_g2p_cell(workload: Workload, cell: Mapping[str, str], seed: int, lexicon=None) -> dict:
    """Train one g2p (workload, cell, seed) on `g2p.data.prepare`'s split (`lexicon`: a read
    `data.lexicon.Lexicon` instead of the installed package's, for tests); its measurements."""
    t0 = time.perf_counter()
    data = _g2p_data(workload, seed, lexicon)
    ph = Phonemizer(**g2p_settings(workload, cell, seed))
    ph.fit(data.train.words, data.train.prons, data.val.words, data.val.prons,
           letter_labels=data.train.labels, val_letter_labels=data.val.labels)
    with tempfile.TemporaryDirectory() as d:
        model_bytes = ph.save(Path(d) / "model.htl").stat().st_size
    layer1 = [int(e["final"]) for e in ph.decisions_ if int(e["layer"]) == 0]
    return {"workload": workload.name, **cell, "seed": int(seed),
            "test_accuracy": float(ph.score(data.test.words, data.test.prons)),
            "train_accuracy": float(ph.fit_info_["train_accuracy"]),
            "val_accuracy": float(ph.score(data.val.words, data.val.prons)),
            "model_bytes": int(model_bytes), "fit_seconds": float(ph.fit_seconds_),
            # the filters' cells before the file's zlib: hashed buckets shrink them, but look random
            "filter_bytes": int(sum(h.filter.nbytes for layer in ph.network_.neurons for h in layer)),
            "session_seconds": time.perf_counter() - t0, "updates": int(ph.fit_info_["updates"]),
            "decisions": len(ph.decisions_),
            "premodulo_median": float(np.median(layer1)) if layer1 else 0.0}
