"""The DVC main job (`dvc repro`): its settings (`main` in the settings tree) and its stages.

Layout (a stage's name = its script in `stages/` = its output folder; seeds are subfolders):

    data/prepared/seed<k>/              prepare          (dataset split for seed k)
    runs/backward/bootstrap/seed<k>/    bootstrap        (phase 0: the final layer)
    runs/backward/<pass>/seed<k>/       backward@<pass>  (resumes runs/backward/<src>)
    runs/forward/seed<k>/               train_forward
        model.htl  sum_cache.bin (backward)  checkpoint.npz  record/ (run.json + JSON lines)
    metrics/<direction>.json  plots/<direction>/  reports/<direction>/   evaluate@<direction>
    metrics/compare.json  reports/compare.{md,html,json}  plots/compare/    compare

Stages run with the working directory at the repository root (dvc.yaml's directory) and read
`params.yaml` there; the scripts in `stages/` call `main()` of `hashtron_lab.stages.<stage>`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..settings import SettingError, check_fields, ranged, seed_field
from ..train.backward import BackwardConfig
from ..train.forward import ForwardConfig

SEED_RANGE = seed_field().metadata["range"]


@dataclass
class PassConfig:
    src: str = "bootstrap"                      # the stage this pass resumes from (bootstrap or an earlier pass)
    epochs: int = ranged(1, 1, integer=True)    # backward sweeps this pass adds


def _default_passes() -> dict:
    return {"pass1": PassConfig("bootstrap", 60), "pass2": PassConfig("pass1", 60), "last": PassConfig("pass2", 80)}


@dataclass
class EvaluateConfig:
    # backward "wins" when its mean test accuracy beats forward's by more than this
    success_margin: float = ranged(0.0, 0, 1, note="a difference of accuracies")


@dataclass
class MainConfig:
    """The settings tree's `main` group: both pipelines on the configured dataset, one run per seed
    each; the backward run split into bootstrap + `passes` (each resuming the one before with
    `epochs` more sweeps: the chain equals one long run; the final pass is named `last`)."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    n_jobs: int = ranged(2, 1, integer=True)    # seeds trained in parallel processes (not a stage param)
    passes: dict[str, PassConfig] = field(default_factory=_default_passes)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    backward: BackwardConfig = field(default_factory=BackwardConfig)
    forward: ForwardConfig = field(default_factory=ForwardConfig)

    def __post_init__(self):
        check_fields(self)
        if not self.seeds:
            raise SettingError("seeds", [], "at least one seed", problem="is empty")
        for i, seed in enumerate(self.seeds):
            if not SEED_RANGE.ok(seed):
                raise SettingError(f"seeds[{i}]", seed, SEED_RANGE.describe())
        names = ["bootstrap", *self.passes]
        for key, p in self.passes.items():
            if p.src not in names or names.index(p.src) >= names.index(key):
                raise SettingError(f"passes.{key}.src", p.src, f"chain passes as bootstrap -> {' -> '.join(self.passes)}",
                                   problem="is not an earlier pass")
        if self.passes and "last" not in self.passes:
            raise SettingError("passes", list(self.passes), "a final pass named 'last' (evaluate reads "
                               "runs/backward/last)", problem="has no pass named 'last'")
