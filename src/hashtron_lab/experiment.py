"""The run path: one training run of the settings tree, for every caller.

`run_experiment(settings)` loads the data the settings name (or takes data given), builds the
network, the pipeline and the run from the tree, trains and measures; `save_outputs` writes what
a run leaves on disk (model.htl, sum_cache.bin, record/). The Hydra app (`cli.py`), the DVC
stages (`stages/`), the ablation and the estimators all train through these two and nothing
else; the module knows nothing of Hydra, DVC or MLflow (those subscribe to its events through
`hooks` or wrap its result).

A new kind of workload plugs in below the run path: a dataset loader registered in
`data.registry.DATASETS` (its keyword arguments are its settings), a model option in
`conf/model/`, and an experiment option in `conf/experiment/` that selects them — or, from
Python, `Data` built from arrays (what the estimators pass).
"""
from __future__ import annotations

import copy
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import Settings
from .model.architecture import Architecture
from .model.network import Network
from .train.backward import BackwardPipeline, order_compliance
from .train.events import Hooks
from .train.forward import ForwardPipeline
from .train.run import Run, Split, drive


@dataclass
class Data:
    """What a run trains and is measured on: the splits (validation and test may be absent, e.g.
    in the estimator) and the number of classes."""

    train: Split
    val: Split | None
    test: Split | None
    n_classes: int
    meta: dict = field(default_factory=dict)


@dataclass
class RunResult:
    settings: Settings
    run: Run
    pipeline: Any
    metrics: dict
    data_meta: dict = field(default_factory=dict)

    @property
    def net(self) -> Network:
        return self.run.net


def build_pipeline(settings: Settings, run_id: str = ""):
    """The pipeline the settings ask for; both kinds take the same four groups."""
    kind = BackwardPipeline if settings.direction == "backward" else ForwardPipeline
    return kind(settings.pipeline, settings.capacity, settings.selection, settings.gold_zone, run_id=run_id)


def run_experiment(settings: Settings, *, data: Data | Any | None = None, hooks: Hooks | None = None,
                   checkpoint_path: str | None = None, resume: bool | str = False,
                   resume_from: str | None = None, net: Network | None = None, init: dict | None = None) -> RunResult:
    """Train one network as `settings` say and measure it on its splits.

    `data`: a `Data`, a prepared `data.Dataset` (the DVC stages), or None to load
    ``settings.dataset`` for ``settings.seed``. `net`: the network to start from (else an
    untrained one, or the one ``settings.init_from`` names); with a starting network (`init` says
    where it came from) the backward pipeline replaces its bootstrap with one tally of every
    neuron, which fills the sum cache (`BackwardPipeline.start_from_import`).
    """
    arch = settings.architecture()
    if net is None and settings.init_from:
        net, init = initial_network(settings.init_from, arch)  # before the data: a wrong path fails at once
    data = load_data(settings, arch) if data is None else as_data(data)
    if net is None:
        net = Network.untrained(arch, np.random.default_rng(np.random.SeedSequence([settings.seed, 1])))
    pipeline = build_pipeline(settings, run_id=str(settings.run_id or ""))
    run = Run(net, data.train, data.val, data.n_classes, settings.run_setup(checkpoint_path), hooks)
    if init is not None:
        run.init = init
        pipeline.start_from_import()
    t0 = time.perf_counter()
    drive(run, pipeline, resume=resume, resume_from=resume_from)
    wall = run.wall()
    metrics = measure(run, data)
    metrics.update({
        "wall_seconds": wall, "updates": run.n_updates, "accepted_updates": run.n_accepted,
        "updates_per_second": run.n_updates / wall if wall > 0 else 0.0, "epochs": run.epoch,
        "stop_reason": run.stopped, "direction": pipeline.name, "session_seconds": time.perf_counter() - t0,
    })
    if pipeline.name == "backward":
        metrics.update(order_compliance(run.history, arch.n_layers, imported=init is not None))
    return RunResult(settings, run, pipeline, metrics, data.meta)


def measure(run: Run, data: Data) -> dict:
    """Accuracy on every split the data has (and the train - test gap)."""
    out = {f"{name}_accuracy": run.accuracy(split) for name, split in
           (("train", data.train), ("val", data.val), ("test", data.test)) if split is not None}
    if data.test is not None:
        out["generalization_gap"] = out["train_accuracy"] - out["test_accuracy"]
    return out


def warm(settings: Settings) -> float:
    """Load or compile the kernels a run of `settings` calls, e.g. once in a parent process before
    its workers start (they then load them from the cache instead of each compiling them); seconds."""
    from .train.warm import run_kernel_groups, warm_kernels

    net = Network.untrained(settings.architecture(), np.random.default_rng(0))
    return warm_kernels(run_kernel_groups(net, settings.run.acceptance.tally) | build_pipeline(settings).kernel_groups())


# -- data ---------------------------------------------------------------------------------------
def load_data(settings: Settings, arch: Architecture) -> Data:
    return as_data(prepare_dataset(settings, arch))


def as_data(data) -> Data:
    """`Data` from a `data.Dataset` (a split left empty or a class absent from train is refused
    with the sizes) or a `Data`."""
    if isinstance(data, Data):
        return data
    from .data.splits import check_split_sizes

    meta = getattr(data, "meta", None) or {}
    check_split_sizes(data.y_train, data.y_val, data.y_test, data.class_names,
                      f"dataset {getattr(data, 'name', '')!r}", bool(meta.get("open_classes", False)))
    return Data(Split(data.X_train, data.y_train, data.parity_train), Split(data.X_val, data.y_val, data.parity_val),
                Split(data.X_test, data.y_test, data.parity_test), data.n_classes, meta)


def prepare_dataset(settings: Settings, arch: Architecture):
    """Load ``settings.dataset`` for ``settings.seed`` with the feature count layer 1 reads
    (byte-picker encodings adapt to it)."""
    from .data import load_dataset

    dcfg = copy.deepcopy(dict(settings.dataset))
    enc = dcfg.get("encoding") or {}
    if "n_features" in enc and enc.get("n_features") not in (None, arch.n_input_features):
        enc["n_features"] = arch.n_input_features
    ds = load_dataset(dcfg, seed=settings.seed, max_output_bits=arch.output_bits)
    check_fit(arch, ds.n_features, ds.n_classes)
    return ds


def check_fit(arch: Architecture, n_features: int, n_classes: int) -> None:
    if n_features < arch.n_input_features:
        raise ValueError(
            f"the model's first layer reads {arch.n_input_features} features but the dataset has {n_features}; "
            f"set dataset.encoding.n_features={arch.n_input_features} or use a model whose first layer has "
            f"{n_features} neurons"
        )
    if arch.output_code == "onehot" and n_classes > arch.output_bits:
        raise ValueError(
            f"output_code onehot needs one output neuron per class: {n_classes} classes but the last layer "
            f"gives {arch.output_bits} bits"
        )
    if n_classes > 2 ** arch.output_bits:
        raise ValueError(
            f"{n_classes} classes do not fit the model's {arch.output_bits} output bits "
            f"(at most {2 ** arch.output_bits}); add output neurons to the last layer"
        )


def initial_network(path, arch: Architecture) -> tuple[Network, dict]:
    """The trained network a run continues (`init_from`): a Go weights file (zlib text, DESIGN §9)
    or a hashtron-lab model file, told apart by content. Returns it and what identifies it
    (format and a short SHA-256 of the file, part of the run's checkpoint identity)."""
    from .model.files import FORMAT_NAME, loads_model
    from .model.go_weights import import_go_weights

    p = Path(str(path)).expanduser()
    if not p.is_file():
        raise ValueError(f"init_from={str(path)!r} is not a file. Fix: give the path of a Go weights file (the "
                         f"zlib stream the Go library writes) or of a hashtron-lab model (model.htl)")
    data = p.read_bytes()
    if data.startswith(b'{"format":"' + FORMAT_NAME.encode()):
        net, kind = loads_model(data, p)[0], "hashtron-lab"
        if net.architecture.to_spec() != arch.to_spec():
            raise ValueError(f"init_from={str(path)!r} holds a network of layer widths {net.architecture.widths}, "
                             f"not the configured model's {arch.widths}. Fix: choose the model it was trained with")
    else:
        net, kind = import_go_weights(p, arch), "go"
    return net, {"format": kind, "sha256": hashlib.sha256(data).hexdigest()[:16]}


# -- what a run leaves on disk ---------------------------------------------------------------------
def save_outputs(result: RunResult, out_dir: str | os.PathLike, extra: dict | None = None) -> dict:
    """model.htl, sum_cache.bin (backward) and record/ (run.json + history, epochs, decisions) in
    `out_dir`; returns the run record's info (`extra` merged in)."""
    from .model.files import save_model
    from .track.records import record_of, write_run_record

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    s = result.settings
    extra = dict(extra or {})
    meta = {"dataset": s.dataset.get("name"), "direction": result.pipeline.name, "seed": s.seed,
            "run_id": s.run_id, **{k: extra[k] for k in ("git_commit", "stage") if k in extra}}
    save_model(result.net, out / "model.htl", meta)
    cache = getattr(result.pipeline, "cache", None)
    if cache is not None:
        cache.save(out / "sum_cache.bin")
    info = record_of(result, {k: v for k, v in extra.items() if k != "git_commit"})
    write_run_record(out / "record", info, result.run.history, result.run.curve(), result.run.decisions)
    return info
