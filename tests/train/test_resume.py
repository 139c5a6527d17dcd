"""Checkpoints and resume (issues 4, 5 and 19): a run stopped by its budget, or killed with SIGKILL,
and resumed with a fresh Run / pipeline ends with the same model, history, decisions and sum
cache as an uninterrupted run; a damaged checkpoint is refused with a clear CheckpointError; a
crafted one runs nothing (data only, never unpickled); a checkpoint of another run (seed, model,
data, pipeline) is refused naming what differs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hashtron_lab.train.backward import BackwardPipeline
from hashtron_lab.train.checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from hashtron_lab.train.forward import ForwardPipeline
from hashtron_lab.train.run import Split, drive

pytestmark = pytest.mark.usefixtures("one_numba_thread")

# The backward pipeline with every piece of controller state switched on (EMA, moving average,
# clamp, throttle), so a resume that forgets any of it shows.
BACKWARD_CFG = {"config": {"neurons_per_layer": 2},
                "capacity": {"dampening": ["moving_average", "exp_smoothing", "clamp"], "throttle": {"enabled": True}}}
PIPELINES = {
    "forward": lambda: ForwardPipeline(),
    "forward_scheduled": lambda: ForwardPipeline({"schedule": True, "threshold": 0.15}),
    "backward": lambda: BackwardPipeline(**BACKWARD_CFG),
}


def _digits_run(tr, rec=None, **cfg):
    trn, va, _, nc = tr.digits()
    cfg.setdefault("validation", {"patience": 40})  # live early-stopping state that never fires in 121 updates
    return tr.make_run(tr.untrained(tr.mnist_stack(), 7), trn, va, nc, rec, seed=11, **cfg)


def _strip(records, drop=("duration", "wall")):
    return [{k: v for k, v in r.items() if k not in drop} for r in records]


def _cache_rows(pipe):
    if getattr(pipe, "cache", None) is None:
        return None
    rec = pipe.cache.records()
    return [tuple(r[name].item() for name in rec.dtype.names if name not in ("timestamp", "duration")) for r in rec]


def assert_same_run(tr, a, pa, b, pb):
    assert b.net == a.net
    assert tr.model_bytes(b.net) == tr.model_bytes(a.net)
    assert [(h["accepted"], h["premodulo"]) for h in b.history] == [(h["accepted"], h["premodulo"]) for h in a.history]
    assert _strip(b.history) == _strip(a.history)
    assert _strip(b.epochs) == _strip(a.epochs)
    assert b.decisions == a.decisions
    assert (b.n_updates, b.n_accepted, b.epoch, b.best_val, b.best_epoch, b.stopped) == \
           (a.n_updates, a.n_accepted, a.epoch, a.best_val, a.best_epoch, a.stopped)
    assert (b.best_net == a.best_net)
    assert _cache_rows(pb) == _cache_rows(pa)
    assert pb.state().keys() == pa.state().keys()


@pytest.mark.parametrize("kind", sorted(PIPELINES))
def test_resume_after_budget_stop_equals_uninterrupted(tr, tmp_path, kind):
    N = 121
    a = _digits_run(tr, budget={"max_updates": N})
    pa = PIPELINES[kind]()
    drive(a, pa)
    assert a.n_updates == N or a.stopped == "early_stopping"

    ck = tmp_path / "run.ckpt"
    b1 = _digits_run(tr, budget={"max_updates": N // 2}, checkpoint_path=str(ck))
    drive(b1, PIPELINES[kind]())
    assert b1.stopped == "max_updates" and ck.exists()
    assert load_checkpoint(ck)["run"]["n_updates"] == N // 2

    rec = tr.Recorder()
    b = _digits_run(tr, rec, budget={"max_updates": N}, checkpoint_path=str(ck))
    pb = PIPELINES[kind]()
    drive(b, pb, resume=True)
    assert [k for k, _ in rec.events][0] == "resume"
    assert rec.of("resume")[0]["updates"] == N // 2
    assert_same_run(tr, a, pa, b, pb)


def test_resume_in_three_sessions_with_periodic_checkpoints(tr, tmp_path):
    """Stops at 40 and 80 updates (mid-sweep), checkpoints every 7: same end as one session."""
    N = 120
    a = _digits_run(tr, budget={"max_updates": N})
    pa = BackwardPipeline(**BACKWARD_CFG)
    drive(a, pa)
    ck = tmp_path / "deep" / "dir" / "run.ckpt"
    for n in (40, 80, N):
        b = _digits_run(tr, budget={"max_updates": n}, checkpoint_path=str(ck), checkpoint_every=7)
        pb = BackwardPipeline(**BACKWARD_CFG)
        drive(b, pb, resume="if_exists")  # the first session has no checkpoint yet
        assert b.n_updates == n
    assert_same_run(tr, a, pa, b, pb)


def test_resume_from_another_checkpoint_path(tr, tmp_path):
    N = 60
    a = _digits_run(tr, budget={"max_updates": N})
    pa = BackwardPipeline()
    drive(a, pa)
    first = tmp_path / "first.ckpt"
    drive(_digits_run(tr, budget={"max_updates": 25}, checkpoint_path=str(first)), BackwardPipeline())
    second = tmp_path / "second.ckpt"
    b = _digits_run(tr, budget={"max_updates": N}, checkpoint_path=str(second))
    pb = BackwardPipeline()
    drive(b, pb, resume_from=str(first))
    assert_same_run(tr, a, pa, b, pb)
    assert load_checkpoint(second)["run"]["n_updates"] == N  # the continuation writes its own path


def test_early_stopped_run_stays_stopped_on_resume(tr, tmp_path):
    ck = tmp_path / "es.ckpt"
    first = _digits_run(tr, budget={"max_updates": 2000}, acceptance={"rule": "always"},
                        validation={"patience": 2}, checkpoint_path=str(ck))
    drive(first, ForwardPipeline())
    assert first.stopped == "early_stopping"
    again = _digits_run(tr, budget={"max_updates": 4000}, acceptance={"rule": "always"},
                        validation={"patience": 2}, checkpoint_path=str(ck))
    drive(again, ForwardPipeline(), resume=True)
    assert again.stopped == "early_stopping" and again.n_updates == first.n_updates
    assert tr.model_bytes(again.net) == tr.model_bytes(first.net)


# -- crash recovery -------------------------------------------------------------------------
CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {conftest_dir!r})
    import conftest as C
    from hashtron_lab.train.backward import BackwardPipeline
    from hashtron_lab.train.run import Split, drive
    from hashtron_lab.train.events import Hooks

    trn, va, _, nc = C.digits()
    run = C.make_run(C.untrained(C.mnist_stack(), 7), trn, va, nc, None, seed=11,
                     budget={{"max_updates": {updates}}}, validation={{"patience": None}},
                     checkpoint_every=5, checkpoint_path={ck!r})
    # slow the child down (events do not touch the training) so it is killed mid-run
    run.hooks.subscribe(lambda kind, p: time.sleep(0.02) if kind == "update" else None)
    print("started", flush=True)
    drive(run, BackwardPipeline(**{pipe!r}))
    print("finished", flush=True)
""")


def test_sigkill_mid_run_then_resume_equals_uninterrupted(tr, tmp_path):
    updates = 200
    ck = tmp_path / "crash.ckpt"
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(conftest_dir=str(Path(__file__).parent), updates=updates, ck=str(ck),
                                   pipe=BACKWARD_CFG))
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             cwd=str(tmp_path), env={**os.environ, "PYTHONHASHSEED": "0", "NUMBA_NUM_THREADS": "1"})
    try:
        while not ck.exists():  # no wall-clock deadline: a loaded machine may take minutes to compile
            if child.poll() is not None:
                pytest.fail(f"child ended before its first checkpoint: {child.communicate()}")
            time.sleep(0.02)
        time.sleep(0.3)  # a few more checkpoints
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    out = child.stdout.read().decode()
    assert child.returncode == -signal.SIGKILL and "finished" not in out
    saved = load_checkpoint(ck)["run"]["n_updates"]
    assert 0 < saved < updates and saved % 5 == 0

    rec = tr.Recorder()
    b = _digits_run(tr, rec, budget={"max_updates": updates}, validation={"patience": None},
                    checkpoint_path=str(ck), checkpoint_every=5)
    pb = BackwardPipeline(**BACKWARD_CFG)
    drive(b, pb, resume=True)
    assert rec.of("resume")[0]["updates"] == saved

    a = _digits_run(tr, budget={"max_updates": updates}, validation={"patience": None})
    pa = BackwardPipeline(**BACKWARD_CFG)
    drive(a, pa)
    assert_same_run(tr, a, pa, b, pb)


# -- damaged checkpoints ---------------------------------------------------------------------
@pytest.fixture()
def checkpoint(tr, tmp_path):
    ck = tmp_path / "good.ckpt"
    drive(_digits_run(tr, budget={"max_updates": 12}, checkpoint_path=str(ck)), BackwardPipeline())
    return ck


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "flip":  # a byte inside the largest member's data (the zip CRC-32 catches it)
        i = len(data) // 2
        path.write_bytes(data[:i] + bytes([data[i] ^ 0x40]) + data[i + 1:])
    elif how == "truncate":
        path.write_bytes(data[: len(data) * 2 // 3])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "foreign":
        path.write_bytes(b'{"not": "a checkpoint"}\n')
    elif how == "newer":
        path.write_bytes(_rewrite(data, lambda d: d.update(version=999)))
    elif how == "config_hash":
        path.write_bytes(_rewrite(data, lambda d: d["identity"].update(seed=12345)))


def _rewrite(data: bytes, edit) -> bytes:
    """The checkpoint `data` with its JSON document edited by `edit(doc)` (arrays kept)."""
    import io
    import json
    import zipfile

    import numpy as np

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            raw = zin.read(info)
            if info.filename == "state.npy":
                doc = json.loads(np.load(io.BytesIO(raw)).tobytes())
                edit(doc)
                b = io.BytesIO()
                np.save(b, np.frombuffer(json.dumps(doc).encode(), np.uint8))
                raw = b.getvalue()
            zout.writestr(info.filename, raw)
    return out.getvalue()


@pytest.mark.parametrize("how, message", [
    ("flip", "is damaged"), ("truncate", "is damaged"), ("config_hash", "config hash does not match"),
    ("empty", "not a hashtron-lab checkpoint"), ("foreign", "not a hashtron-lab checkpoint"),
    ("newer", "newer version"),
])
def test_damaged_checkpoint_raises_checkpoint_error(tr, checkpoint, how, message):
    _damage(checkpoint, how)
    rec = tr.Recorder()
    run = _digits_run(tr, rec, budget={"max_updates": 30}, checkpoint_path=str(checkpoint))
    before = tr.model_bytes(run.net)
    with pytest.raises(CheckpointError, match=message) as err:
        drive(run, BackwardPipeline(), resume=True)
    assert str(checkpoint) in str(err.value)
    assert run.n_updates == 0 and rec.events == [] and tr.model_bytes(run.net) == before


# -- crafted checkpoints run nothing (issue 19, item 10) -------------------------------------
class _Payload:
    """Unpickling this creates a directory: the stand-in for arbitrary code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _crafted(path: Path, marker: Path, kind: str) -> None:
    import hashlib
    import io
    import pickle
    import zipfile

    import numpy as np

    payload = pickle.dumps({"run": _Payload(marker)})
    if kind == "pickle":          # a bare pickle where the checkpoint should be
        path.write_bytes(payload)
    elif kind == "v1":            # the old format exactly, checksum and all (what version 1 unpickled)
        digest = hashlib.sha256(payload).hexdigest().encode()
        path.write_bytes(b"hashtron-lab-checkpoint 1 " + digest + b"\n" + payload)
    elif kind == "object_array":  # an npz whose member is an object (pickled) array
        buf = io.BytesIO()
        np.savez(buf, state=np.array([_Payload(marker)], dtype=object))
        path.write_bytes(buf.getvalue())
    elif kind == "deflated":      # a compressed member (could be a zip bomb)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            b = io.BytesIO()
            np.save(b, np.zeros(10_000, np.uint8))
            zf.writestr("state.npy", b.getvalue())
        path.write_bytes(buf.getvalue())
    # the payload really does run when unpickled: the test's premise
    if kind in ("pickle", "v1"):
        probe = marker.with_name(marker.name + "_probe")
        pickle.loads(pickle.dumps(_Payload(probe)))
        assert probe.is_dir()


@pytest.mark.parametrize("kind, message", [
    ("pickle", "is a Python pickle, not a hashtron-lab checkpoint; pickles are never loaded"),
    ("v1", "old pickle format \\(version 1\\), which is never loaded"),
    ("object_array", "object \\(pickled\\) array, which is never loaded"),
    ("deflated", "is compressed; checkpoints store members uncompressed"),
])
def test_a_crafted_checkpoint_runs_nothing(tr, tmp_path, kind, message):
    """A file planted at the checkpoint path (a `dvc pull`, a shared folder) is data, never code:
    resuming refuses it with a clear error and the payload never runs."""
    ck, marker = tmp_path / "run" / "checkpoint.npz", tmp_path / "pwned"
    ck.parent.mkdir()
    _crafted(ck, marker, kind)
    run = _digits_run(tr, budget={"max_updates": 5}, checkpoint_path=str(ck))
    with pytest.raises(CheckpointError, match=message):
        drive(run, BackwardPipeline(), resume=True)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(ck)
    assert not marker.exists() and run.n_updates == 0


def test_no_pickle_anywhere_in_the_package():
    """Nothing the package reads from disk goes through pickle (issue 19: files are data)."""
    import re

    import hashtron_lab

    src = Path(hashtron_lab.__file__).parent
    hits = [f"{p.relative_to(src)}:{i}" for p in src.rglob("*.py")
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if re.search(r"\bimport (c?pickle|joblib|dill|marshal|shelve)\b|pickle\.loads?\(|allow_pickle=True"
                         r"|torch\.load\(|joblib\.load\(", line)]
    assert hits == []


# -- a checkpoint continues only the run that wrote it (issue 19, item 11) ------------------
@pytest.fixture()
def backward_checkpoint(tr, tmp_path):
    ck = tmp_path / "b.ckpt"
    drive(_digits_run(tr, budget={"max_updates": 12}, checkpoint_path=str(ck)), BackwardPipeline(**BACKWARD_CFG))
    return ck


def test_resume_with_another_seed_is_refused_naming_it(tr, backward_checkpoint):
    run = _digits_run(tr, budget={"max_updates": 30}, checkpoint_path=str(backward_checkpoint))
    run.cfg.seed = 12
    with pytest.raises(CheckpointError, match=r"written by another run \(config hash [0-9a-f]{16}, this run "
                                              r"[0-9a-f]{16}\); what differs: seed: checkpoint 11, this run 12\."):
        drive(run, BackwardPipeline(**BACKWARD_CFG), resume=True)
    assert run.n_updates == 0


def test_resume_with_another_model_or_data_is_refused_naming_them(tr, backward_checkpoint):
    trn, va, _, nc = tr.digits()
    other = Split(trn.X[:-1], trn.y[:-1])
    run = tr.make_run(tr.untrained(tr.mnist_stack(), 7), other, va, nc, seed=11, budget={"max_updates": 30},
                      validation={"patience": 40}, checkpoint_path=str(backward_checkpoint))
    with pytest.raises(CheckpointError, match=r"train_data.rows: checkpoint 1078, this run 1077; "
                                              r"train_data.sha256: checkpoint '[0-9a-f]+', this run '[0-9a-f]+'"):
        drive(run, BackwardPipeline(**BACKWARD_CFG), resume=True)
    from hashtron_lab.model.architecture import Architecture

    spec = tr.mnist_stack().to_spec()
    spec["layers"][0]["premodulo"] = 7
    run = tr.make_run(tr.untrained(Architecture.from_spec(spec), 7), trn, va, nc, seed=11,
                      budget={"max_updates": 30}, validation={"patience": 40}, checkpoint_path=str(backward_checkpoint))
    with pytest.raises(CheckpointError, match=r"what differs: architecture.layers\[0\].premodulo: checkpoint 1024, this run 7\."):
        drive(run, BackwardPipeline(**BACKWARD_CFG), resume=True)


def test_resume_with_other_pipeline_settings_is_refused_naming_them(tr, backward_checkpoint):
    run = _digits_run(tr, budget={"max_updates": 30}, checkpoint_path=str(backward_checkpoint))
    with pytest.raises(CheckpointError, match=r"pipeline_settings.capacity.throttle.window: checkpoint 6, this run 8; "
                                              r"pipeline_settings.pipeline.neurons_per_layer: checkpoint 2, this run 1"):
        drive(run, BackwardPipeline({"neurons_per_layer": 1},
                                    {**BACKWARD_CFG["capacity"], "throttle": {"enabled": True, "window": 8}}),
              resume=True)


def test_resume_into_forward_from_a_backward_checkpoint_is_a_clear_error(tr, backward_checkpoint):
    """Was a TypeError deep in ForwardPipeline.load_state."""
    run = _digits_run(tr, budget={"max_updates": 30}, checkpoint_path=str(backward_checkpoint))
    with pytest.raises(CheckpointError, match=r"was written by the backward pipeline; this run uses forward\. .*"
                                              r"Fix: resume with pipeline=backward"):
        drive(run, ForwardPipeline(), resume=True)
    assert run.n_updates == 0


def test_a_larger_budget_and_other_checkpoint_cadence_may_resume(tr, backward_checkpoint):
    run = _digits_run(tr, budget={"max_updates": 20, "max_epochs": 50}, checkpoint_path=str(backward_checkpoint),
                      checkpoint_every=3)
    drive(run, BackwardPipeline(**BACKWARD_CFG), resume=True)
    assert run.n_updates == 20


def test_allow_changes_continues_on_other_data_on_purpose(tr, backward_checkpoint):
    trn, va, _, nc = tr.digits()
    other = Split(trn.X[:-1], trn.y[:-1])
    rec = tr.Recorder()
    run = tr.make_run(tr.untrained(tr.mnist_stack(), 7), other, va, nc, rec, seed=11, budget={"max_updates": 20},
                      validation={"patience": 40}, checkpoint_path=str(backward_checkpoint))
    drive(run, BackwardPipeline(**BACKWARD_CFG), resume=True, allow_changes=("train_data",))
    assert rec.of("resume")[0]["updates"] == 12 and run.n_updates == 20
    # the continuation's checkpoints carry its own identity
    assert read_checkpoint(backward_checkpoint)["identity"]["train_data"]["rows"] == 1077


def test_resume_from_a_missing_file_is_an_error(tr, tmp_path):
    """An explicit resume_from that does not exist must not silently train from scratch."""
    run = _digits_run(tr, budget={"max_updates": 5})
    with pytest.raises(CheckpointError, match="does not exist"):
        drive(run, BackwardPipeline(), resume_from=str(tmp_path / "nope.ckpt"))
    assert run.n_updates == 0


def test_resume_true_without_a_checkpoint_is_an_error(tr, tmp_path):
    """`resume=True` and nothing at the run's checkpoint path: not a silent fresh start."""
    run = _digits_run(tr, budget={"max_updates": 10}, checkpoint_path=str(tmp_path / "later.ckpt"))
    with pytest.raises(CheckpointError, match=r"resume=True but checkpoint .*later\.ckpt does not exist: there is "
                                              r"nothing to resume\. Fix: .*resume='if_exists'"):
        drive(run, BackwardPipeline(), resume=True)
    assert run.n_updates == 0
    with pytest.raises(CheckpointError, match="needs a checkpoint"):
        drive(_digits_run(tr, budget={"max_updates": 10}), BackwardPipeline(), resume=True)


def test_resume_if_exists_without_a_checkpoint_yet_starts_fresh(tr, tmp_path):
    """`resume="if_exists"` (explicit) with the run's own path not written yet starts the run."""
    ck = tmp_path / "later.ckpt"
    a = _digits_run(tr, budget={"max_updates": 10})
    drive(a, BackwardPipeline())
    rec = tr.Recorder()
    b = _digits_run(tr, rec, budget={"max_updates": 10}, checkpoint_path=str(ck))
    drive(b, BackwardPipeline(), resume="if_exists")
    assert rec.events[0][0] == "run_start"
    assert tr.model_bytes(b.net) == tr.model_bytes(a.net) and ck.exists()
    rec = tr.Recorder()
    c = _digits_run(tr, rec, budget={"max_updates": 15}, checkpoint_path=str(ck))
    drive(c, BackwardPipeline(), resume="if_exists")
    assert rec.events[0][0] == "resume" and c.n_updates == 15
