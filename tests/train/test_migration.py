"""Migration (issue 19, seed 000 rollout): continue a Go-trained network backward.

A network is trained, exported in the Go library's weights format (read back by the model of
Go's own reader in tests/go_reader.py, so it is a file Go accepts), then imported with
`init_from`: the run starts from it, its first epoch tallies every neuron once and fills the sum
cache with those sums (no bootstrap), and training goes on from there."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from go_reader import as_read, read_go_file
from hashtron_lab import config_schema, experiment
from hashtron_lab.estimator import HashtronClassifier
from hashtron_lab.model.go_weights import export_go_weights, import_go_weights
from hashtron_lab.train.events import Hooks, Recorder
from hashtron_lab.train.forward import ForwardPipeline
from hashtron_lab.train.run import Budget, Run, drive
from hashtron_lab.train.tally import tally

pytestmark = pytest.mark.usefixtures("one_numba_thread")
OVERRIDES = ["experiment=quick", "tracking=none", "dataset.max_samples=null", "budget.max_updates=60"]


@pytest.fixture(scope="module")
def cfg():
    return config_schema.load_config(OVERRIDES)


@pytest.fixture(scope="module")
def go_file(cfg, tmp_path_factory):
    """A network trained 150 forward updates, written as a Go weights file."""
    arch = cfg.architecture()
    ds = experiment.prepare_dataset(cfg, arch)
    data = experiment.as_data(ds)
    net = experiment.Network.untrained(arch, np.random.default_rng(5))
    run = Run(net, data.train, data.val, ds.n_classes, {"seed": 5, "budget": {"max_updates": 150}})
    drive(run, ForwardPipeline())
    path = tmp_path_factory.mktemp("go") / "w.zlib"
    export_go_weights(run.net, path)
    assert read_go_file(path.read_bytes(), arch.n_neurons) == as_read(run.net)  # Go would load it
    return path, run.net, ds


def test_init_from_a_go_file_fills_the_sum_cache_and_trains_on(cfg, go_file):
    path, trained, ds = go_file
    rec = Recorder()
    res = experiment.run_experiment(replace(cfg, init_from=str(path)), hooks=Hooks([rec]), data=ds)
    run, pipe = res.run, res.pipeline
    arch = trained.architecture
    data = experiment.as_data(ds)
    tr, va = data.train, data.val
    records = pipe.cache.records()

    # the first epoch is the import tally: one record per neuron, the sums of the imported network
    [imp] = rec.of("import_tally")
    assert imp["neurons"] == arch.n_neurons == imp["records"]
    trace = trained.trace(tr.X)
    targets = tr.targets_for(run.code)
    for layer, width in enumerate(arch.widths):
        for pos in range(width):
            first = records[(records["layer"] == layer) & (records["pos"] == pos)][0]
            t = tally(trained, trace, targets, layer, pos)
            assert (int(first["epoch"]), int(first["S"]), int(first["N"])) == (0, t.S, t.N)
            assert int(first["premodulo"]) == trained.neuron(layer, pos).premodulo
    first_epoch = run.epochs[0]
    assert first_epoch["updates"] == 0
    assert first_epoch["train_accuracy"] == pytest.approx(np.mean(tr.predict_from_outputs(trace.out, run.code) == tr.y))
    assert first_epoch["val_accuracy"] == pytest.approx(
        np.mean(va.predict_from_outputs(trained.forward(va.X), run.code) == va.y))

    # no bootstrap: the first update is the backward sweep's, on the final layer
    assert run.history[0]["phase"] == "backward" and run.history[0]["layer"] == arch.n_layers - 1
    assert res.metrics["final_first"] and res.metrics["backward_order"]
    assert run.n_updates == 60 and any(h["accepted"] for h in run.history)
    # acceptance (not_worse on training accuracy) never goes below the imported network's accuracy
    assert run.accept.rule == "not_worse" and run.accept.objective == "accuracy"
    assert min(h["train_accuracy"] for h in run.history) >= first_epoch["train_accuracy"]


def test_the_imported_start_is_part_of_the_checkpoint_identity(cfg, go_file, tmp_path):
    from hashtron_lab.train.checkpoint import CheckpointError, read_checkpoint

    path, _, ds = go_file
    ck = tmp_path / "ck.npz"
    experiment.run_experiment(replace(cfg, init_from=str(path)), data=ds, checkpoint_path=str(ck))
    ident = read_checkpoint(ck)["identity"]
    assert ident["init"]["format"] == "go" and len(ident["init"]["sha256"]) == 16
    longer = replace(cfg, budget=Budget(max_updates=80))
    with pytest.raises(CheckpointError, match=r"init: checkpoint .*, this run null"):
        experiment.run_experiment(longer, data=ds, checkpoint_path=str(ck), resume=True)
    res = experiment.run_experiment(replace(longer, init_from=str(path)), data=ds, checkpoint_path=str(ck),
                                    resume=True)
    assert res.run.n_updates == 80


def test_init_from_refuses_a_missing_file_and_another_architecture(cfg, go_file, tmp_path):
    path, _, ds = go_file
    with pytest.raises(config_schema.ConfigError, match=r"invalid config at init_from: '.*nope.zlib' is not a file"):
        config_schema.load_config(OVERRIDES + [f"init_from={tmp_path / 'nope.zlib'}"])
    with pytest.raises(ValueError, match=r"holds 20 hashtron entries but the architecture has 105 neurons"):
        experiment.run_experiment(replace(cfg, init_from=str(path), model=config_schema.load_config(
            ["~experiment", "tracking=none"]).model), data=ds)


def test_the_estimator_continues_an_imported_network(go_file):
    path, trained, ds = go_file
    clf = HashtronClassifier(trained.architecture, init_from=str(path), budget={"max_updates": 30},
                             run={"acceptance": {}})
    clf.fit(ds.X_train, ds.y_train)
    assert clf.sum_cache_ is not None and len(clf.sum_cache_) >= trained.architecture.n_neurons
    assert clf.history_[0]["phase"] == "backward"
    assert clf.epochs_[0]["train_accuracy"] == pytest.approx(
        np.mean(clf.run_.train.predict_from_outputs(trained.forward(ds.X_train), clf.run_.code) == ds.y_train))
    same = HashtronClassifier(trained.architecture, init_from=import_go_weights(path, trained.architecture),
                              budget={"max_updates": 30}, run={"acceptance": {}}).fit(ds.X_train, ds.y_train)
    assert same.network_ == clf.network_


def test_the_command_line_continues_a_go_file(go_file, tmp_path):
    """`python -m hashtron_lab init_from=w.zlib ...` (the README's migration command)."""
    path, _, _ = go_file
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "hashtron_lab", *OVERRIDES, f"init_from={path}",
                        f"hydra.run.dir={out}"], cwd=config_schema.project_root(), capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    from hashtron_lab.track.records import read_run_record

    rec = read_run_record(out / "record")
    assert rec["info"]["params"]["init_from"] == str(path)
    assert rec["history"][0]["phase"] == "backward" and rec["epochs"][0]["updates"] == 0
