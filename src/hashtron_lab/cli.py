"""`python -m hashtron_lab`: the Hydra app around `experiment.train`.

One job = one training run of the composed config: the settings tree built and checked, git
state recorded (a ``phase=frozen`` run refuses uncommitted inputs), trained through the run
path (`experiment.run_experiment`) with the alert watcher and — unless ``tracking=none`` — an
MLflow run as event sinks, then written to the job's output directory (`experiment.save_outputs`)::

    <hydra output dir>/model.htl        the trained network (hashtron-lab model file)
                      sum_cache.bin     the backward pipeline's sum cache
                      checkpoint.npz    full state (resume with a larger budget)
                      record/           run.json + history/epochs/decisions (JSON lines)

Multirun (``-m``) works with every Hydra launcher: basic (sequential), joblib (local
processes; the jobs side by side split the cores, D30), Ray. The `MultirunGroup` callback (configured in `conf/config.yaml`) opens one
MLflow parent run per multirun; every job becomes its child and carries the shared
``hashtron.group`` tag, so the MLflow UI compares them side by side.
"""
from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from .config_schema import settings_of
from .paths import conf_dir, project_root
from .track.git_info import checked_state

log = logging.getLogger("hashtron_lab")
PARENT_FILE = ".mlflow_parent_run"


def make_run_id(settings) -> str:
    return f"{settings.dataset.get('name', 'data')}-{settings.direction}-s{settings.seed}-{uuid.uuid4().hex[:8]}"


def train_and_save(settings, out_dir: str | os.PathLike, *, group: str, source: str,
                   parent_run_id: str | None = None, root: str | os.PathLike | None = None,
                   tracking_root: str | os.PathLike | None = None) -> dict:
    """Train `settings` (a checked settings tree) into `out_dir`, tracked as it says.

    `root`: the checkout whose git state is recorded; `tracking_root`: where the default
    sqlite store lives (default: `track.mlflow_sink.tracking_root()`). Returns the run
    record's info (metrics, ids, alerts).
    """
    from dataclasses import replace

    from .experiment import run_experiment, save_outputs
    from .kernels.threads import GOVERNOR
    from .track.alerts import attach
    from .track.mlflow_sink import run_name, run_tags, tracked
    from .train.events import Hooks

    git = checked_state(settings.phase, root)
    settings = replace(settings, run_id=settings.run_id or make_run_id(settings))
    out = Path(out_dir)
    hooks = Hooks()
    monitor = attach(hooks, settings.alerts)
    plain = settings.to_dict()
    tags = run_tags(plain, git.as_tags(), **{"hashtron.group": group, "source": source, "run_id": settings.run_id})
    with tracked(plain, hooks, run_name=run_name(settings.direction, settings.seed), tags=tags,
                 parent_run_id=parent_run_id, root=tracking_root) as tracker:
        result = run_experiment(settings, hooks=hooks, checkpoint_path=str(out / "checkpoint.npz"))
        info = save_outputs(result, out, {"run_id": settings.run_id, "git": git.as_dict(), "git_commit": git.commit,
                                          "alerts": monitor.alerts, "group": group,
                                          "mlflow_run_id": tracker.run_id if tracker else None,
                                          "numba_threads": GOVERNOR.ceiling()})
        if tracker is not None:
            tracker.log_metrics(result.metrics, step=result.run.n_updates)
            if settings.tracking.log_models:
                for name in ("model.htl", "sum_cache.bin"):
                    tracker.log_artifact(out / name, "model")
                tracker.log_artifact(out / "record", "record")
    return info


def _group_and_parent() -> tuple[str, str | None]:
    """The shared group tag and the MLflow parent run (multirun only) of this job."""
    hc = HydraConfig.get()
    if str(hc.mode) == "RunMode.MULTIRUN":
        sweep = Path(hc.runtime.cwd) / hc.sweep.dir
        parent_file = sweep / PARENT_FILE
        parent = parent_file.read_text().strip() if parent_file.is_file() else None
        return f"multirun:{sweep.resolve()}", parent
    return f"run:{Path(hc.runtime.output_dir).resolve()}", None


def _tracking_root(cwd: str) -> Path:
    """$DVC_ROOT, else the project of the directory the app was launched from (jobs of a
    multirun may run elsewhere, e.g. in Ray workers, so it is resolved from hydra.runtime.cwd)."""
    env = os.environ.get("DVC_ROOT")
    return Path(env) if env else project_root(cwd)


def share_cores(hc) -> int | None:
    """Jobs a launcher runs side by side on this machine (joblib's `n_jobs`) split its cores
    instead of each running numba on all of them (D30); launchers that give a job its own
    machine (Ray, SLURM) and single runs are left alone. Returns the threads set, or None."""
    n_jobs = OmegaConf.select(hc, "launcher.n_jobs") if hc.mode == RunMode.MULTIRUN else None
    if not n_jobs:
        return None
    from .kernels import share_cores as split

    cores = os.cpu_count() or 1
    return split(min(cores, int(n_jobs)) if n_jobs > 0 else max(1, cores + 1 + int(n_jobs)))  # joblib: -1 = all


@hydra.main(version_base=None, config_path=str(conf_dir()), config_name="config")
def main(cfg: DictConfig) -> float:
    """Train one run of the composed config; returns its validation accuracy (for sweepers)."""
    from .track.signals import raise_on_sigterm

    raise_on_sigterm()  # a terminated job closes its MLflow run KILLED, metrics flushed
    settings = settings_of(cfg)
    hc = HydraConfig.get()
    share_cores(hc)
    group, parent = _group_and_parent()
    if settings.dataset.get("name") == "lexicon":  # words, not feature rows: a Phonemizer (hashtron_lab/g2p)
        return _g2p_job(settings.to_dict(), hc, group, parent)
    info = train_and_save(settings, hc.runtime.output_dir, group=group, parent_run_id=parent,
                          source="hydra", root=project_root(hc.runtime.cwd),
                          tracking_root=_tracking_root(hc.runtime.cwd))
    m = info["metrics"]
    log.info("%s %s seed %s: train %.4f val %.4f test %.4f (%d updates, %.1fs) -> %s",
             info["dataset"], info["direction"], info["seed"], m["train_accuracy"], m["val_accuracy"],
             m["test_accuracy"], m["updates"], m["wall_seconds"], hc.runtime.output_dir)
    if info.get("alerts"):  # the rules' first alerts and counts were printed during the run (ConsoleAlerts)
        counts = {}
        for a in info["alerts"]:
            counts[a["kind"]] = counts.get(a["kind"], 0) + 1
        log.warning("%d alert(s): %s", len(info["alerts"]), ", ".join(f"{k} {n}" for k, n in sorted(counts.items())))
    return float(m["val_accuracy"])


def _g2p_job(plain: dict, hc, group: str, parent: str | None) -> float:
    """One dataset=lexicon job (g2p/job.py); returns its validation word accuracy (for sweepers)."""
    from .g2p.job import train_and_save as train_g2p

    info = train_g2p(plain, hc.runtime.output_dir, group=group, parent_run_id=parent, source="hydra",
                     root=project_root(hc.runtime.cwd), tracking_root=_tracking_root(hc.runtime.cwd))
    m = info["metrics"]
    log.info("g2p %s %s seed %s: word accuracy val %.4f test %.4f, PER test %.4f (%.1fs, %d bytes) -> %s",
             info["language"], info["direction"], info["seed"], m["val_word_accuracy"], m["test_word_accuracy"],
             m["test_per"], m["fit_seconds"], m["model_bytes"], hc.runtime.output_dir)
    return float(m["val_word_accuracy"])


class MultirunGroup(Callback):
    """Opens one MLflow parent run per multirun (in the launching process) and closes it at
    the end; jobs find its id in ``<sweep dir>/.mlflow_parent_run``. With ``tracking=none``
    it does nothing (and imports nothing).

    The parent ends FINISHED when every child did, else FAILED — also when a failed job aborts
    the sweep before `on_multirun_end` (Hydra raises the job's error; an exit handler closes the
    parent then) — or KILLED on SIGTERM; children still RUNNING at that point (a job process
    killed outright) are closed KILLED (`track.mlflow_sink.ParentRun`). The end prints the MLflow
    link comparing the children."""

    def __init__(self) -> None:
        self.parent: str | None = None   # the parent run's id while the sweep runs
        self._run = None                 # its `track.mlflow_sink.ParentRun`

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if OmegaConf.select(config, "tracking.backend") != "mlflow":
            return
        import atexit
        import time

        from .track.mlflow_sink import TAG_GROUP, ParentRun
        from .track.signals import raise_on_sigterm

        sweep = Path(os.getcwd()) / str(config.hydra.sweep.dir)
        sweep.mkdir(parents=True, exist_ok=True)
        overrides = " ".join(config.hydra.overrides.task)
        self._run = ParentRun(OmegaConf.to_container(config.tracking, resolve=True),
                                name=f"sweep {time.strftime('%Y-%m-%d %H:%M')}: {overrides}",
                                root=_tracking_root(os.getcwd()),
                                tags={TAG_GROUP: f"multirun:{sweep.resolve()}", "source": "hydra-multirun",
                                      "overrides": overrides, "dataset": str(OmegaConf.select(config, "dataset.name")),
                                      "phase": str(OmegaConf.select(config, "phase"))})
        self.parent = self._run.run_id
        (sweep / PARENT_FILE).write_text(self.parent + "\n")
        raise_on_sigterm()
        atexit.register(self._close_abandoned)

    def close(self, status: str) -> str:
        """End the parent (once); returns its status."""
        if self.parent is None:
            return status
        parent, self.parent = self._run, None
        status = parent.close(status)
        children = parent.children()
        if children:
            log.info("MLflow: %d runs of this sweep side by side: %s", len(children), parent.compare_url())
        return status

    def _close_abandoned(self) -> None:
        """At exit without `on_multirun_end`: a job's error or a signal ended the sweep."""
        if self.parent is not None:
            from .track import signals

            self.close("KILLED" if signals.received else "FAILED")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.parent is not None:
            import atexit

            atexit.unregister(self._close_abandoned)
            self.close("FINISHED")
