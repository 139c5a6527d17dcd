"""The training stages of the main job: prepare, bootstrap, backward@<pass>, train_forward."""
from __future__ import annotations

import argparse
import shutil

from .common import (PREPARED, RUNS, StageError, for_each_seed, load_params, run_settings, say, seed_dir, train_seed,
                     warm_main)


def prepare() -> None:
    """Stage `prepare`: load and split the dataset once per seed -> data/prepared/seed<k>/. The split
    is seeded like a single run's (`python -m hashtron_lab seed=k` sees the same data), and the
    encoding adapts to the model's first layer (its width = feature count)."""
    from ..data import save_dataset
    from ..experiment import prepare_dataset

    settings = load_params()
    arch = settings.architecture()
    shutil.rmtree(PREPARED, ignore_errors=True)
    for seed in settings.main.seeds:
        ds = prepare_dataset(run_settings(settings, "backward", seed), arch)
        save_dataset(ds, seed_dir(PREPARED, seed))
        say(f"prepared {ds.name} seed {seed}: {len(ds.y_train)} train / {len(ds.y_val)} val / "
            f"{len(ds.y_test)} test, {ds.n_features} features, {ds.n_classes} classes")


def bootstrap() -> None:
    """Stage `bootstrap`: phase 0 of the backward pipeline — the final layer trained first with
    premodulo N (it learns the class prior) -> runs/backward/bootstrap/seed<k>/. The run stops at
    the end of epoch 1 (the bootstrap epoch); `backward@<pass>` stages resume its checkpoint."""
    settings = load_params()
    say(f"bootstrap: {len(settings.main.seeds)} seeds")
    for_each_seed(train_seed, settings.main.seeds, settings.main.n_jobs, settings, "backward",
                  str(RUNS / "backward" / "bootstrap"), max_epochs=1, warm=lambda: warm_main(settings, "backward"))


def backward_pass(argv: list[str] | None = None) -> None:
    """Stage `backward@<pass>`: more backward sweeps, resuming the checkpoint of the stage named by
    `main.passes.<pass>.src` -> runs/backward/<pass>/seed<k>/. Each pass raises the run's epoch
    limit by `main.passes.<pass>.epochs` (within `budget`), so bootstrap -> pass1 -> ... -> last
    trains exactly what one uninterrupted run would."""
    ap = argparse.ArgumentParser(description=backward_pass.__doc__)
    ap.add_argument("--pass", dest="name", required=True, help="a key of main.passes in params.yaml")
    name = ap.parse_args(argv).name
    settings = load_params()
    passes = settings.main.passes
    if name not in passes:
        raise StageError(f"no pass {name!r} in main.passes; passes: {list(passes)}")
    spec = passes[name]
    say(f"backward pass {name}: resume {spec.src}, +{spec.epochs} epochs")
    for_each_seed(train_seed, settings.main.seeds, settings.main.n_jobs, settings, "backward",
                  str(RUNS / "backward" / name), resume_base=str(RUNS / "backward" / spec.src),
                  more_epochs=spec.epochs, warm=lambda: warm_main(settings, "backward"))


def train_forward() -> None:
    """Stage `train_forward`: the forward baseline (the Go library's trainer), same data, seeds and
    budget as the backward chain -> runs/forward/seed<k>/."""
    settings = load_params()
    say(f"train_forward: {len(settings.main.seeds)} seeds")
    for_each_seed(train_seed, settings.main.seeds, settings.main.n_jobs, settings, "forward", str(RUNS / "forward"),
                  warm=lambda: warm_main(settings, "forward"))
