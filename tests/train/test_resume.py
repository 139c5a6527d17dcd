"""Checkpoints and resume (issues 4 and 5): a run stopped by its budget, or killed with SIGKILL,
and resumed with a fresh Run / pipeline ends with the same model, history, decisions and sum
cache as an uninterrupted run; a damaged checkpoint is refused with a clear CheckpointError."""
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
from hashtron_lab.train.checkpoint import CheckpointError, load_checkpoint
from hashtron_lab.train.forward import ForwardPipeline
from hashtron_lab.train.run import drive

pytestmark = pytest.mark.usefixtures("one_numba_thread")

# The backward pipeline with every piece of controller state switched on (EMA, moving average,
# clamp, throttle), so a resume that forgets any of it shows.
BACKWARD_CFG = {"capacity": {"dampening": ["moving_average", "exp_smoothing", "clamp"]},
                "throttle": {"enabled": True}, "neurons_per_layer": 2}
PIPELINES = {
    "forward": lambda: ForwardPipeline(),
    "forward_scheduled": lambda: ForwardPipeline({"schedule": True, "threshold": 0.15}),
    "backward": lambda: BackwardPipeline(BACKWARD_CFG),
}


def _digits_run(tr, rec=None, **cfg):
    trn, va, _, nc = tr.digits()
    cfg.setdefault("validation", {"patience": 40})  # live early-stopping state that never fires in 121 updates
    return tr.make_run(tr.untrained(tr.mnist_stack(), 7), trn, va, nc, rec, seed=11, **cfg)


def _strip(records, drop=("duration", "wall")):
    return [{k: v for k, v in r.items() if k not in drop} for r in records]


def _cache_rows(pipe):
    if not hasattr(pipe, "cache"):
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
    pa = BackwardPipeline(BACKWARD_CFG)
    drive(a, pa)
    ck = tmp_path / "deep" / "dir" / "run.ckpt"
    for n in (40, 80, N):
        b = _digits_run(tr, budget={"max_updates": n}, checkpoint_path=str(ck), checkpoint_every=7)
        pb = BackwardPipeline(BACKWARD_CFG)
        drive(b, pb, resume=True)
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
    from hashtron_lab.train.run import drive
    from hashtron_lab.train.events import Hooks

    trn, va, _, nc = C.digits()
    run = C.make_run(C.untrained(C.mnist_stack(), 7), trn, va, nc, None, seed=11,
                     budget={{"max_updates": {updates}}}, validation={{"patience": None}},
                     checkpoint_every=5, checkpoint_path={ck!r})
    # slow the child down (events do not touch the training) so it is killed mid-run
    run.hooks.subscribe(lambda kind, p: time.sleep(0.02) if kind == "update" else None)
    print("started", flush=True)
    drive(run, BackwardPipeline({pipe!r}))
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
        while not ck.exists():  # no deadline: a loaded machine is slow, not wrong (the child ends or writes)
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
    pb = BackwardPipeline(BACKWARD_CFG)
    drive(b, pb, resume=True)
    assert rec.of("resume")[0]["updates"] == saved

    a = _digits_run(tr, budget={"max_updates": updates}, validation={"patience": None})
    pa = BackwardPipeline(BACKWARD_CFG)
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
    head, _, payload = data.partition(b"\n")
    if how == "flip":
        i = len(payload) // 2
        path.write_bytes(head + b"\n" + payload[:i] + bytes([payload[i] ^ 0x40]) + payload[i + 1:])
    elif how == "truncate":
        path.write_bytes(data[: len(data) * 2 // 3])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "foreign":
        path.write_bytes(b'{"not": "a checkpoint"}\n')
    elif how == "newer":
        parts = head.split(b" ")
        path.write_bytes(b" ".join([parts[0], b"999", parts[2]]) + b"\n" + payload)
    elif how == "header_only":
        path.write_bytes(head + b"\n")


@pytest.mark.parametrize("how, message", [
    ("flip", "damaged"), ("truncate", "damaged"), ("header_only", "damaged"),
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


def test_resume_from_a_missing_file_is_an_error(tr, tmp_path):
    """An explicit resume_from that does not exist must not silently train from scratch."""
    run = _digits_run(tr, budget={"max_updates": 5})
    with pytest.raises(CheckpointError, match="does not exist"):
        drive(run, BackwardPipeline(), resume_from=str(tmp_path / "nope.ckpt"))
    assert run.n_updates == 0


def test_resume_without_a_checkpoint_yet_starts_fresh(tr, tmp_path):
    """`resume=True` with the run's own path not written yet (first session) starts the run."""
    ck = tmp_path / "later.ckpt"
    a = _digits_run(tr, budget={"max_updates": 10})
    drive(a, BackwardPipeline())
    b = _digits_run(tr, budget={"max_updates": 10}, checkpoint_path=str(ck))
    drive(b, BackwardPipeline(), resume=True)
    assert tr.model_bytes(b.net) == tr.model_bytes(a.net) and ck.exists()
