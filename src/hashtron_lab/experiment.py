"""One training experiment from a composed config: dataset → network → pipeline → metrics.

This is the testable core behind the Hydra app, the DVC stages and the estimator; it knows
nothing of Hydra, DVC or MLflow (those subscribe to its events or wrap its result).
The config is a plain dict with the groups of `conf/config.yaml`:
`seed`, `dataset`, `model`, `pipeline`, `capacity`, `selection`, `budget`, `run`.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .model.architecture import Architecture
from .model.network import Network
from .train.backward import BackwardPipeline
from .train.events import Hooks
from .train.forward import ForwardPipeline
from .train.run import Run, Split, drive

DIRECTIONS = ("backward", "forward")


@dataclass
class Result:
    run: Run
    pipeline: Any
    metrics: dict
    dataset_meta: dict = field(default_factory=dict)

    @property
    def net(self) -> Network:
        return self.run.net


def make_pipeline(cfg: dict, run_id: str = ""):
    """The pipeline the config asks for; only order and capacity policy differ between the two."""
    pipe = dict(cfg.get("pipeline") or {})
    direction = pipe.pop("direction", "backward")
    if direction == "forward":
        return ForwardPipeline(pipe, capacity=dict(cfg.get("capacity") or {}),
                               selection=dict(cfg.get("selection") or {}), run_id=run_id)
    if direction != "backward":
        raise ValueError(f"pipeline.direction must be one of {DIRECTIONS}, got {direction!r}")
    cap = dict(cfg.get("capacity") or {})
    pipe["capacity_control"] = cap.pop("enabled", True)
    pipe["fixed_premodulo"] = cap.pop("fixed_premodulo", 0)
    pipe["throttle"] = cap.pop("throttle", {}) or {}
    pipe["capacity"] = cap
    pipe["selection"] = dict(cfg.get("selection") or {})
    return BackwardPipeline(pipe, run_id=run_id)


def run_config(cfg: dict, checkpoint_path: str | None = None) -> dict:
    """RunConfig dict from the composed config (seed, budget and the `run` group)."""
    run = dict(cfg.get("run") or {})
    run["seed"] = int(cfg.get("seed", 0))
    run["budget"] = dict(cfg.get("budget") or {})
    if checkpoint_path:
        run["checkpoint_path"] = checkpoint_path
    return run


def splits_of(ds) -> tuple[Split, Split, Split]:
    """The run's splits; a split left empty or a class absent from train is refused with the sizes."""
    from .data.splits import check_split_sizes

    meta = getattr(ds, "meta", None) or {}
    check_split_sizes(ds.y_train, ds.y_val, ds.y_test, ds.class_names, f"dataset {getattr(ds, 'name', '')!r}",
                      bool(meta.get("open_classes", False)))
    return (Split(ds.X_train, ds.y_train, ds.parity_train), Split(ds.X_val, ds.y_val, ds.parity_val),
            Split(ds.X_test, ds.y_test, ds.parity_test))


def prepare_dataset(cfg: dict, arch: Architecture):
    """Load the dataset with the feature count layer 1 reads (byte-picker encodings adapt to it)."""
    from .data import load_dataset

    dcfg = copy.deepcopy(dict(cfg["dataset"]))
    enc = dcfg.get("encoding") or {}
    if "n_features" in enc and enc.get("n_features") not in (None, arch.n_input_features):
        enc["n_features"] = arch.n_input_features
    ds = load_dataset(dcfg, seed=int(cfg.get("seed", 0)), max_output_bits=arch.output_bits)
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
    import hashlib
    from pathlib import Path

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


def train(cfg: dict, hooks: Hooks | None = None, checkpoint_path: str | None = None, resume: bool | str = False,
          dataset=None, net: Network | None = None, resume_from: str | None = None) -> Result:
    """Train one network as the config says and measure it on train / validation / test.

    With ``init_from`` (a Go weights file or a model file) training continues that network: the
    backward pipeline replaces its bootstrap with one tally of every neuron, which fills the sum
    cache (`BackwardPipeline.start_from_import`)."""
    arch = Architecture.from_spec(cfg["model"]["architecture"] if "architecture" in cfg["model"] else cfg["model"])
    init, init_from = None, cfg.get("init_from")
    if net is None and init_from:
        net, init = initial_network(init_from, arch)  # before the data: a wrong path fails at once
    ds = dataset if dataset is not None else prepare_dataset(cfg, arch)
    tr, va, te = splits_of(ds)
    seed = int(cfg.get("seed", 0))
    if net is None:
        net = Network.untrained(arch, np.random.default_rng(np.random.SeedSequence([seed, 1])))
    pipeline = make_pipeline(cfg, run_id=str(cfg.get("run_id", "")))
    run = Run(net, tr, va, ds.n_classes, run_config(cfg, checkpoint_path), hooks)
    if init is not None:
        run.init = init
        if hasattr(pipeline, "start_from_import"):
            pipeline.start_from_import()
    t0 = time.perf_counter()
    drive(run, pipeline, resume=resume, resume_from=resume_from)
    wall = run.wall()
    metrics = evaluate(run, tr, va, te)
    metrics.update({
        "wall_seconds": wall, "updates": run.n_updates, "accepted_updates": run.n_accepted,
        "updates_per_second": run.n_updates / wall if wall > 0 else 0.0, "epochs": run.epoch,
        "stop_reason": run.stopped, "direction": pipeline.name,
        "session_seconds": time.perf_counter() - t0,
    })
    metrics.update(order_metrics(run.history, arch.n_layers, imported=init is not None)
                   if pipeline.name == "backward" else {})
    return Result(run, pipeline, metrics, getattr(ds, "meta", {}))


def warm(cfg: dict) -> float:
    """Load or compile the kernels a run of `cfg` calls, e.g. once in a parent process before its
    workers start (they then load them from the cache instead of each compiling them); seconds."""
    from .train.warm import run_kernel_groups, stats, warm_kernels

    before = stats["seconds"]
    arch = Architecture.from_spec(cfg["model"]["architecture"] if "architecture" in cfg["model"] else cfg["model"])
    make_pipeline(cfg)  # a pipeline warms its own kernels
    tally_mode = ((cfg.get("run") or {}).get("acceptance") or {}).get("tally", "flip")
    warm_kernels(run_kernel_groups(Network.untrained(arch, np.random.default_rng(0)), tally_mode))
    return stats["seconds"] - before


def evaluate(run: Run, tr: Split, va: Split, te: Split) -> dict:
    out = {"train_accuracy": run.accuracy(tr), "val_accuracy": run.accuracy(va), "test_accuracy": run.accuracy(te)}
    out["generalization_gap"] = out["train_accuracy"] - out["test_accuracy"]
    return out


def order_metrics(history: list[dict], n_layers: int, imported: bool = False) -> dict:
    """Seed-000 order compliance of one backward run: the final layer first (its bootstrap, or
    for an imported network the first sweep); layers never ascending within a sweep (the
    bootstrap epoch aside)."""
    if not history:
        return {"final_first": False, "backward_order": False}
    first_phase = "backward" if imported else "bootstrap"
    final_first = history[0]["layer"] == n_layers - 1 and history[0].get("phase") == first_phase
    ok = True
    by_epoch: dict[int, list[int]] = {}
    for rec in history:
        if rec.get("phase") == "backward":
            by_epoch.setdefault(rec["epoch"], []).append(rec["layer"])
    for layers in by_epoch.values():
        if any(b > a for a, b in zip(layers, layers[1:])):
            ok = False
    return {"final_first": bool(final_first), "backward_order": bool(ok)}
