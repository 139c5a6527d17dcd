"""`python -m hashtron_lab`: the Hydra app around `experiment.train`.

One job = one training run of the composed config: checked against the schema, git state
recorded (a ``phase=frozen`` run refuses uncommitted inputs), trained with the alert
watcher and — unless ``tracking=none`` — an MLflow run as event sinks, then written to the
job's output directory::

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

from . import config_schema
from .track.git_info import checked_state

log = logging.getLogger("hashtron_lab")
PARENT_FILE = ".mlflow_parent_run"


def _backend(cfg) -> str:
    value = OmegaConf.select(cfg, "tracking.backend") if isinstance(cfg, DictConfig) else \
        (cfg.get("tracking") or {}).get("backend")
    return getattr(value, "value", value) or "none"


def make_run_id(cfg: dict) -> str:
    return (f"{cfg['dataset'].get('name', 'data')}-{cfg['pipeline']['direction']}-s{cfg.get('seed', 0)}-"
            f"{uuid.uuid4().hex[:8]}")


def train_and_save(cfg: dict, out_dir: str | os.PathLike, *, group: str, source: str,
                   parent_run_id: str | None = None, root: str | os.PathLike | None = None,
                   tracking_root: str | os.PathLike | None = None, dataset=None) -> dict:
    """Train `cfg` (a checked plain config) into `out_dir`, tracked as the config says.

    `root`: the checkout whose git state is recorded; `tracking_root`: where the default
    sqlite store lives (default: `track.mlflow_sink.tracking_root()`). Returns the run
    record's info (metrics, ids, alerts).
    """
    from . import experiment
    from .model.files import save_model
    from .track.alerts import AlertMonitor, ConsoleAlerts
    from .track.mlflow_sink import MlflowRun, run_name, run_tags
    from .track.records import record_of, write_run_record
    from .train.events import Hooks

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    git = checked_state(cfg.get("phase", "debug"), root)
    cfg = dict(cfg)
    cfg["run_id"] = cfg.get("run_id") or make_run_id(cfg)
    hooks = Hooks()
    monitor = AlertMonitor(cfg.get("alerts"), emit=hooks.emit)
    hooks.subscribe(monitor)
    hooks.subscribe(ConsoleAlerts())
    tracker = None
    if _backend(cfg) == "mlflow":
        name = run_name(cfg["pipeline"]["direction"], cfg.get("seed", 0))
        tracker = MlflowRun(cfg, run_name=name, parent_run_id=parent_run_id, root=tracking_root,
                            tags=run_tags(cfg, git.as_tags(), **{"hashtron.group": group, "source": source,
                                                                 "run_id": cfg["run_id"]}))
        hooks.subscribe(tracker)
    try:
        result = experiment.train(cfg, hooks=hooks, checkpoint_path=str(out / "checkpoint.npz"), dataset=dataset)
        meta = {"dataset": cfg["dataset"].get("name"), "direction": result.pipeline.name,
                "seed": int(cfg.get("seed", 0)), "run_id": cfg["run_id"], "git_commit": git.commit}
        save_model(result.net, out / "model.htl", meta)
        cache = getattr(result.pipeline, "cache", None)
        if cache is not None:
            cache.save(out / "sum_cache.bin")
        from .kernels.threads import GOVERNOR

        extra = {"run_id": cfg["run_id"], "git": git.as_dict(), "alerts": monitor.alerts, "group": group,
                 "mlflow_run_id": tracker.run_id if tracker else None, "numba_threads": GOVERNOR.ceiling()}
        info = record_of(result, cfg, extra)
        write_run_record(out / "record", info, result.run.history, result.run.curve(), result.run.decisions)
        if tracker is not None:
            tracker.log_metrics(result.metrics, step=result.run.n_updates)
            if cfg["tracking"].get("log_models", True):
                for name in ("model.htl", "sum_cache.bin"):
                    tracker.log_artifact(out / name, "model")
                tracker.log_artifact(out / "record", "record")
            tracker.finish("FINISHED")
        return info
    except Exception:
        if tracker is not None:
            tracker.finish("FAILED")
        raise
    except BaseException:  # KeyboardInterrupt, SystemExit, SIGTERM (track/signals.py)
        if tracker is not None:
            tracker.finish("KILLED")
        raise


def _group_and_parent(cfg: dict) -> tuple[str, str | None]:
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
    return Path(env) if env else config_schema.project_root(cwd)


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


@hydra.main(version_base=None, config_path=str(config_schema.conf_dir()), config_name="config")
def main(cfg: DictConfig) -> float:
    """Train one run of the composed config; returns its validation accuracy (for sweepers)."""
    from .track.signals import raise_on_sigterm

    raise_on_sigterm()  # a terminated job closes its MLflow run KILLED, metrics flushed
    plain = config_schema.check(cfg)
    hc = HydraConfig.get()
    share_cores(hc)
    group, parent = _group_and_parent(plain)
    if plain["dataset"].get("name") == "lexicon":  # words, not feature rows: a Phonemizer (hashtron_lab/g2p)
        return _g2p_job(plain, hc, group, parent)
    info = train_and_save(plain, hc.runtime.output_dir, group=group, parent_run_id=parent,
                          source="hydra", root=config_schema.project_root(hc.runtime.cwd),
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
                     root=config_schema.project_root(hc.runtime.cwd), tracking_root=_tracking_root(hc.runtime.cwd))
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
    killed outright) are closed KILLED. The end prints the MLflow link comparing the children."""

    def __init__(self) -> None:
        self.parent: str | None = None
        self.tracking: dict[str, Any] | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if _backend(config) != "mlflow":
            return
        import atexit
        import time

        from .track.mlflow_sink import TAG_GROUP, client_and_experiment
        from .track.signals import raise_on_sigterm

        sweep = Path(os.getcwd()) / str(config.hydra.sweep.dir)
        sweep.mkdir(parents=True, exist_ok=True)
        self.tracking = OmegaConf.to_container(config.tracking, resolve=True, enum_to_str=True)
        client, exp_id = client_and_experiment(self.tracking, _tracking_root(os.getcwd()))
        overrides = " ".join(config.hydra.overrides.task)
        run = client.create_run(exp_id, run_name=f"sweep {time.strftime('%Y-%m-%d %H:%M')}: {overrides}"[:250], tags={
            TAG_GROUP: f"multirun:{sweep.resolve()}", "source": "hydra-multirun", "overrides": overrides,
            "dataset": str(OmegaConf.select(config, "dataset.name")),
            "phase": str(getattr(config.phase, "value", config.phase))})
        self.parent, self._client, self._exp_id = run.info.run_id, client, exp_id
        (sweep / PARENT_FILE).write_text(self.parent + "\n")
        raise_on_sigterm()
        atexit.register(self._close_abandoned)

    def _children(self) -> list:
        from .track.mlflow_sink import _retry

        return _retry(self._client.search_runs, [self._exp_id],
                      filter_string=f"tags.mlflow.parentRunId = '{self.parent}'", max_results=10000)

    def close(self, status: str) -> str:
        """End the parent (once): FAILED instead of FINISHED when a child failed or was killed;
        children still RUNNING are closed KILLED. Returns the parent's status."""
        if self.parent is None:
            return status
        from .track.mlflow_sink import _retry, compare_url

        children = self._children()
        for r in children:
            if r.info.status == "RUNNING":
                _retry(self._client.set_terminated, r.info.run_id, "KILLED")
        if status == "FINISHED" and any(r.info.status in ("FAILED", "KILLED") for r in children):
            status = "FAILED"
        _retry(self._client.set_terminated, self.parent, status)
        if children:
            log.info("MLflow: %d runs of this sweep side by side: %s", len(children),
                     compare_url([r.info.run_id for r in children], self._exp_id))
        self.parent = None
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
