"""Reference runs stay byte-identical: the model bytes, the update history, the premodulo
decisions and the sum cache of a few fixed configurations, as recorded in
tests/fixtures/reference_runs.json before the issue-18 redesign (commit 30346a7).

Timings are left out of the digests (durations, wall clock, timestamps); everything else a run
writes is in them. Regenerate only when a change is meant to alter training (say so in the
commit)::

    python tests/test_reference_runs.py [case ...]
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "reference_runs.json"

#: name -> composition overrides (tracking off, no progress bar)
CASES = {
    "ntuple_digits_backward": ["experiment=ntuple_digits"],
    "ntuple_digits_forward": ["experiment=ntuple_digits", "pipeline=forward"],
    "ntuple_breast_cancer_backward": ["experiment=ntuple_breast_cancer"],
    "ntuple_breast_cancer_forward_cell": ["experiment=ntuple_breast_cancer", "pipeline=forward", "capacity=support",
                                          "selection=gold", "pipeline.capacity_control=true",
                                          "pipeline.use_selection=true", "budget.max_updates=300"],
    "mnist_stack_square_backward": ["~experiment", "budget.max_updates=300"],
    "mnist_stack_smoothed_backward": ["~experiment", "capacity=smoothed", "budget.max_updates=150"],
    "mnist_stack_forward": ["~experiment", "pipeline=forward", "budget.max_updates=200"],
}
SLOW = {"ntuple_digits_forward"}  # ~20 s


def _digest(rows, drop=()) -> str:
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps({k: v for k, v in r.items() if k not in drop}, sort_keys=True, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def measure(name: str) -> dict:
    """Train case `name` through the run path; what must not change."""
    from hashtron_lab import config_schema, experiment
    from hashtron_lab.model.files import dumps_model

    settings = config_schema.load_config([*CASES[name], "tracking=none", "run.progress=false"])
    r = experiment.run_experiment(settings)
    out = {"model_sha256": hashlib.sha256(dumps_model(r.net)).hexdigest(),
           "history": _digest(r.run.history, {"duration"}),
           "decisions": _digest(r.run.decisions),
           "epochs": _digest(r.run.curve(), {"wall"}),
           "updates": int(r.metrics["updates"]), "test_accuracy": float(r.metrics["test_accuracy"])}
    cache = getattr(r.pipeline, "cache", None)
    if cache is not None:
        rec = cache.records()
        fields = ("layer", "pos", "epoch", "S", "N", "S_out", "premodulo", "regime", "accepted", "accuracy")
        out["sum_cache"] = _digest([{f: rec[f][i].item() for f in fields} for i in range(len(rec))])
    return out


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in CASES])
def test_reference_run_is_byte_identical(name):
    expected = json.loads(FIXTURE.read_text())[name]
    assert measure(name) == expected


if __name__ == "__main__":
    names = sys.argv[1:] or list(CASES)
    doc = json.loads(FIXTURE.read_text()) if FIXTURE.is_file() else {}
    for n in names:
        doc[n] = measure(n)
        print(n, doc[n], flush=True)
    FIXTURE.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
