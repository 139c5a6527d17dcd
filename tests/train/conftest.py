"""Shared data, networks and helpers for the training-pipeline tests (run, forward, backward, resume).

Everything here is small so the default test set stays fast: is-alnum (256 bytes), 3-bit
parity (8 patterns), 8-bit parity (256 patterns), breast cancer (341 training rows) and
scikit-learn's digits (1,078 training rows) with the Go MNIST stack. Datasets are loaded
once per session. Helpers reach the tests through the `tr` fixture (a namespace), not by
import, so another conftest.py elsewhere cannot shadow them.
"""
from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from hashtron_lab.model.architecture import Architecture
from hashtron_lab.model.files import dumps_model
from hashtron_lab.model.network import Network
from hashtron_lab.train.events import Hooks, Recorder
from hashtron_lab.train.run import Run, Split

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"


def conf(group: str, name: str) -> dict:
    """A config file of conf/<group>/<name>.yaml as a dict."""
    return yaml.safe_load((CONF / group / f"{name}.yaml").read_text())


# -- architectures ----------------------------------------------------------------------
def one_neuron() -> Architecture:
    return Architecture.from_spec({"layers": [{"type": "hashtron", "neurons": 1}]})


def parity_net(hidden: int = 8) -> Architecture:
    """`hidden` neurons -> full (all their bits packed into one feature) -> 1 output neuron."""
    return Architecture.from_spec({"layers": [
        {"type": "hashtron", "neurons": hidden},
        {"type": "full", "size": hidden, "bits": 1, "maxbits": hidden},
        {"type": "hashtron", "neurons": 1},
    ]})


def mnist_stack() -> Architecture:
    return Architecture.from_spec(conf("model", "mnist_stack"))


def untrained(arch: Architecture, seed: int = 0) -> Network:
    return Network.untrained(arch, np.random.default_rng(np.random.SeedSequence([seed, 1])))


# -- data -------------------------------------------------------------------------------
def isalnum_all() -> Split:
    """All 256 bytes, label = ASCII letter or digit (the reference's sanity task)."""
    b = np.arange(256)
    y = (((b >= ord("a")) & (b <= ord("z"))) | ((b >= ord("A")) & (b <= ord("Z")))
         | ((b >= ord("0")) & (b <= ord("9")))).astype(np.int64)
    return Split(b[:, None].astype(np.uint32), y)


def parity3(hidden: int = 8) -> Split:
    """The 8 patterns of 3 bits; every feature is the raw 3-bit integer (repeated `hidden` times)."""
    n = np.arange(8)
    y = np.array([bin(int(i)).count("1") & 1 for i in n], dtype=np.int64)
    return Split(np.tile(n[:, None], (1, hidden)).astype(np.uint32), y)


def splits(ds) -> tuple[Split, Split, Split]:
    return (Split(ds.X_train, ds.y_train, ds.parity_train), Split(ds.X_val, ds.y_val, ds.parity_val),
            Split(ds.X_test, ds.y_test, ds.parity_test))


_DATA: dict = {}


def dataset(name: str, max_output_bits: int, **overrides):
    """A dataset from conf/dataset/<name>.yaml (seed 0), cached for the session."""
    from hashtron_lab.data import load_dataset

    key = (name, max_output_bits, tuple(sorted(overrides.items())))
    if key not in _DATA:
        cfg = {**conf("dataset", name), **overrides}
        _DATA[key] = load_dataset(cfg, seed=0, max_output_bits=max_output_bits)
    return _DATA[key]


def digits(name: str = "digits_threshold"):
    """(train, val, test, n_classes) of a digits encoding with 80 features, for the MNIST stack."""
    ds = dataset(name, 5)
    return (*splits(ds), ds.n_classes)


# -- runs -------------------------------------------------------------------------------
RUN_KEYS = ("acceptance", "validation", "checkpoint_every", "progress")


def make_run(net: Network, train: Split, val: Split | None, n_classes: int | None, recorder: Recorder | None = None,
             **cfg) -> Run:
    """A Run from flat keywords: seed, budget, checkpoint_path and the `run` group's keys."""
    cfg.setdefault("seed", 0)
    setup = {k: v for k, v in cfg.items() if k not in RUN_KEYS}
    setup["run"] = {k: v for k, v in cfg.items() if k in RUN_KEYS}
    return Run(net, train, val, n_classes, setup, Hooks([recorder]) if recorder is not None else None)


def model_bytes(net: Network) -> bytes:
    return dumps_model(net)


def decisions_of(rec: Recorder) -> list[dict]:
    return rec.of("decision")


@contextlib.contextmanager
def deadline(seconds: float):
    """Fail (instead of hanging) if the block runs longer than `seconds` (main thread, POSIX)."""
    def _alarm(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: the loop does not end")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def one_numba_thread():
    """One numba thread for a test module: these batches are small, and parallel kernels on cores
    shared with other processes run several times slower (results do not depend on it)."""
    import numba

    old = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(old)


@pytest.fixture(scope="session")
def tr() -> SimpleNamespace:
    """Helpers of this conftest (see the module docstring)."""
    return SimpleNamespace(
        conf=conf, one_neuron=one_neuron, parity_net=parity_net, mnist_stack=mnist_stack, untrained=untrained,
        isalnum_all=isalnum_all, parity3=parity3, splits=splits, dataset=dataset, digits=digits,
        make_run=make_run, model_bytes=model_bytes, decisions_of=decisions_of, deadline=deadline,
        Recorder=Recorder, root=ROOT,
    )
