"""MLflow tracking as a `Hooks` sink.

Nothing here imports mlflow at module import: `MlflowRun` imports it when a run starts, so
``tracking.backend=none`` runs never load it.

Store. `tracking_uri(tracking, root)`: ``tracking.uri`` when set, else
``$MLFLOW_TRACKING_URI`` (a shared server), else ``sqlite:///<root>/mlflow.db`` where root is
``$DVC_ROOT`` when DVC runs us (so `dvc exp` workspaces write the project's database, not a
throw-away copy) or the project directory. Local artifacts go to ``<root>/mlruns``. A file
lock serialises creating the database and the experiment, so parallel jobs (Hydra's joblib
launcher, ``dvc queue start -j 2``) can share one sqlite file; writes are batched
(`MlflowClient.log_batch`), and a locked database is retried.

What a run logs (see docs/pipeline.md for the full list):
- params: the resolved config, flattened (``capacity.throttle.window``...);
- tags: dataset, direction, seed, phase, model, group, git commit/branch/dirty, alerts;
- metrics with steps: per update (step = update index) ``train_accuracy``,
  ``premodulo/<layer.pos>``, ``margin/<layer.pos>``; per premodulo decision
  ``decision/final|raw|target_capacity|alpha|margin`` and ``premodulo_raw/<layer.pos>``; per
  epoch (step = epoch) ``epoch/train_accuracy``, ``epoch/val_accuracy``,
  ``gold_zone/layer<l>`` (neurons in the gold zone), ``margin_mean/layer<l>``, and the
  returned model's ``epoch/*`` at the epoch the run ended in (``final`` event); final
  ``train_accuracy``/``val_accuracy``/``test_accuracy`` (also as ``acc/train|val|test``, which
  sort first) and the rest of the result metrics. Written at every epoch's end;
- alerts (``alert`` events, e.g. from `track.alerts.AlertMonitor`): tags ``alert.<rule>``
  (count and latest message) and ``alerts`` (total);
- artifacts: ``tables/decisions.json`` (one row per decision, MLflow table), ``events.json``
  (skips, alerts, early stop), and what the caller adds (model, sum cache, run record).
Finished runs can be logged after the fact by feeding `track.alerts.events_of_record(record)`
to the sink (the DVC evaluate stage does).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..settings import check_fields, one_of, to_mapping
from ..train.gold_zone import GoldZone

BATCH = 900                     # entities per log_batch (MLflow allows 1000)
TAG_GROUP = "hashtron.group"    # runs of one pipeline execution share it
# MLflow 3's UI opens an experiment by its kind; without this tag it guessed GenAI (traces pages)
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
# the result accuracies again under names that sort before every other metric (MLflow's run
# table and compare view list metrics alphabetically)
SORT_FIRST = {"test_accuracy": "acc/test", "val_accuracy": "acc/val", "train_accuracy": "acc/train"}
UI = "http://127.0.0.1:5000"    # where the README's `mlflow ui` line serves


@dataclass
class TrackingConfig:
    """The settings tree's `tracking` group."""

    backend: str = one_of("mlflow", ("mlflow", "none"))  # none: mlflow is not even imported
    experiment_name: str = "hashtron-lab"
    uri: str | None = None   # None: $MLFLOW_TRACKING_URI when set, else sqlite:///<project>/mlflow.db
    log_models: bool = True  # model, sum cache and run record as run artifacts

    def __post_init__(self):
        check_fields(self)


# -- where -------------------------------------------------------------------------------------
def tracking_uri(tracking: Mapping[str, Any] | None = None, root: str | os.PathLike | None = None) -> str:
    tracking = tracking or {}
    if tracking.get("uri"):
        return str(tracking["uri"])
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(Path(root or tracking_root()) / 'mlflow.db').resolve()}"


def tracking_root() -> Path:
    """Where the default store lives: $DVC_ROOT (set by DVC for every stage, and pointing at
    the main repository inside `dvc exp` workspaces), else the project directory."""
    env = os.environ.get("DVC_ROOT")
    if env:
        return Path(env).resolve()
    from ..paths import project_root

    return project_root()


def _sqlite_path(uri: str) -> Path | None:
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):])
    return None


@contextlib.contextmanager
def _store_lock(uri: str):
    """An exclusive lock beside a sqlite store (no-op for servers and other stores)."""
    path = _sqlite_path(uri)
    if path is None:
        yield
        return
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(str(path) + ".lock", "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _import_mlflow():
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    try:
        import mlflow  # noqa: F401
        from mlflow import MlflowClient
    except ImportError as e:  # pragma: no cover - mlflow is a dependency
        raise RuntimeError("tracking.backend=mlflow needs the mlflow package (pip install mlflow); "
                           "or run with tracking=none") from e
    return MlflowClient


def _retry(fn, *args, attempts: int = 8, **kw):
    """Call `fn`, retrying while sqlite reports a locked database (parallel writers)."""
    delay = 0.2
    for i in range(attempts):
        try:
            return fn(*args, **kw)
        except Exception as e:  # MlflowException wraps sqlalchemy's OperationalError
            if "locked" not in str(e).lower() or i == attempts - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 3.0)


def log_artifacts(files: list[str], artifact_path: str, run_id: str | None = None,
                  tracking_uri: str | None = None) -> None:
    """Log ``files`` under ``artifact_path``: to the active run, or to ``run_id`` in ``tracking_uri``."""
    import mlflow

    if run_id is None:
        if mlflow.active_run() is None:
            raise ValueError("no active MLflow run; pass run_id")
        for f in files:
            mlflow.log_artifact(f, artifact_path)
        return
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    for f in files:
        client.log_artifact(run_id, f, artifact_path)


def all_runs(tracking_uri: str) -> list:
    """Every run of every experiment in the store at ``tracking_uri`` (mlflow's Run objects)."""
    import mlflow

    previous = mlflow.get_tracking_uri()
    try:
        mlflow.set_tracking_uri(tracking_uri)
        return mlflow.search_runs(search_all_experiments=True, output_format="list")
    finally:
        mlflow.set_tracking_uri(previous)


def client_and_experiment(tracking: Mapping[str, Any] | None = None, root: str | os.PathLike | None = None):
    """(MlflowClient, experiment_id) for the config's store and experiment, created if needed."""
    MlflowClient = _import_mlflow()
    tracking = tracking or {}
    uri = tracking_uri(tracking, root)
    name = tracking.get("experiment_name") or TrackingConfig.experiment_name
    with _store_lock(uri):
        client = MlflowClient(tracking_uri=uri)
        exp = client.get_experiment_by_name(name)
        if exp is None:
            location = None
            if _sqlite_path(uri) is not None:
                location = (_sqlite_path(uri).parent / "mlruns").resolve().as_uri()
            exp_id = client.create_experiment(name, artifact_location=location)
        else:
            exp_id = exp.experiment_id
            if exp.lifecycle_stage == "deleted":
                client.restore_experiment(exp_id)
        if exp is None or EXPERIMENT_KIND[0] not in (exp.tags or {}):  # a kind someone chose stays
            client.set_experiment_tag(exp_id, *EXPERIMENT_KIND)
    return client, exp_id


def run_name(direction: str, seed) -> str:
    """What a training run is called in the MLflow UI: pipeline and seed at a glance."""
    return f"{direction} · seed {seed}"


def compare_url(run_ids, experiment_id: str, base: str = UI) -> str:
    """The MLflow UI page comparing `run_ids` side by side (one link instead of expanding a
    parent and ticking its children)."""
    from urllib.parse import quote

    runs = json.dumps([str(r) for r in run_ids], separators=(",", ":"))
    exps = json.dumps([str(experiment_id)], separators=(",", ":"))
    return f"{base}/#/compare-runs?runs={quote(runs)}&experiments={quote(exps)}"


# -- params -------------------------------------------------------------------------------------
def flatten(cfg: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config -> {"a.b.c": "value"}; lists of mappings by index, other lists as JSON."""
    out: dict[str, str] = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) for v in value):
            for i, v in enumerate(value):
                out.update(flatten(v, f"{name}.{i}."))
        elif isinstance(value, (list, tuple)):
            out[name] = json.dumps(list(value))
        else:
            out[name] = "null" if value is None else str(value)
    return {k: v[:6000] for k, v in out.items()}


def _num(x) -> float | None:
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, (int, float)) and math.isfinite(float(x)):
        return float(x)
    if hasattr(x, "item"):
        return _num(x.item())
    return None


# -- the MLflow run --------------------------------------------------------------------------------
class MlflowRun:
    """One MLflow run fed by training events: call it as a sink, then `finish`.

    ``MlflowRun(cfg, run_name=..., tags=..., parent_run_id=...)`` creates the run at once
    and logs the flattened `cfg` as params. Metrics are buffered and written with
    `log_batch` at the end of every epoch, every ``flush_every`` points and on `finish`. The
    per-epoch gold-zone counts use the config's ``gold_zone``.
    """

    def __init__(self, cfg: Mapping[str, Any], *, run_name: str | None = None,
                 tags: Mapping[str, str] | None = None, parent_run_id: str | None = None,
                 root: str | os.PathLike | None = None, flush_every: int = 5000, run_id: str | None = None,
                 flush_each_epoch: bool = True):
        from mlflow.entities import Param, RunTag  # noqa: F401  (import check before anything is created)

        self.cfg = dict(to_mapping(cfg))  # the settings tree (or its plain form)
        tracking = dict(self.cfg.get("tracking") or {})
        self.client, self.experiment_id = client_and_experiment(tracking, root)
        self.uri = tracking_uri(tracking, root)
        self.flush_every = flush_every
        # live runs write each epoch at once (a killed run keeps its curves); a finished record
        # replayed (the evaluate stage) turns this off and writes full batches instead
        self.flush_each_epoch = flush_each_epoch
        self._metrics: list = []
        self._decisions: list[dict] = []
        self._events: list[dict] = []
        self._alerts: dict[str, int] = {}
        self._latest: dict[str, tuple[int, int]] = {}      # neuron_id -> (S, N)
        self._zone = GoldZone.of_params(self.cfg)
        self._step = 0
        self.finished = False
        all_tags = {str(k): str(v) for k, v in (tags or {}).items()}
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        if run_id is None:
            run = _retry(self.client.create_run, self.experiment_id, run_name=run_name, tags=all_tags)
            self.run_id = run.info.run_id
            self._log_params(flatten(self.cfg))
        else:
            self.run_id = run_id
            self.set_tags(all_tags)

    # -- low level ---------------------------------------------------------------------------------
    def _batch(self, metrics=(), params=(), tags=()) -> None:
        metrics, params, tags = list(metrics), list(params), list(tags)
        while metrics or params or tags:
            p, params = params[:100], params[100:]
            t, tags = tags[:100], tags[100:]
            room = BATCH - len(p) - len(t)
            m, metrics = metrics[:room], metrics[room:]
            _retry(self.client.log_batch, self.run_id, metrics=m, params=p, tags=t, synchronous=True)

    def _log_params(self, params: Mapping[str, str]) -> None:
        from mlflow.entities import Param

        self._batch(params=[Param(k, v) for k, v in params.items()])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        self._batch(tags=[RunTag(str(k), str(v)[:8000]) for k, v in tags.items()])

    def metric(self, key: str, value, step: int | None = None) -> None:
        from mlflow.entities import Metric

        v = _num(value)
        if v is None:
            return
        self._metrics.append(Metric(key, v, int(time.time() * 1000), int(step if step is not None else self._step)))
        if len(self._metrics) >= self.flush_every:
            self.flush()

    def log_metrics(self, values: Mapping[str, Any], step: int | None = None, prefix: str = "") -> None:
        """Numbers become metrics; strings become tags (``prefix`` + key). Without a prefix the
        accuracies are logged a second time under the names that sort first (`SORT_FIRST`)."""
        tags = {}
        for k, v in values.items():
            if _num(v) is not None:
                self.metric(prefix + k, v, step)
                if not prefix and k in SORT_FIRST:
                    self.metric(SORT_FIRST[k], v, step)
            elif isinstance(v, str):
                tags[prefix + k] = v
        if tags:
            self.set_tags(tags)

    def flush(self) -> None:
        if self._metrics:
            batch, self._metrics = self._metrics, []
            self._batch(metrics=batch)

    # -- the sink ------------------------------------------------------------------------------------
    def __call__(self, kind: str, p: Mapping[str, Any]) -> None:
        if kind == "update":
            step = int(p["update"])
            self._step = step
            nid = p["neuron_id"]
            self.metric("update/train_accuracy", p.get("train_accuracy"), step)
            self.metric(f"premodulo/{nid}", p.get("premodulo"), step)
            self.metric(f"margin/{nid}", p.get("margin"), step)
            self.metric("update/accepted", bool(p.get("accepted")), step)
            self.metric("update/duration", p.get("duration"), step)
            if p.get("S") is not None and p.get("N"):
                self._latest[nid] = (int(p["S"]), int(p["N"]))
        elif kind == "decision":
            step = int(p.get("update", self._step))
            row = {k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in p.items()}
            self._decisions.append(row)
            for key in ("final", "raw", "target_capacity", "alpha", "margin", "S_used"):
                self.metric(f"decision/{key}", p.get(key), step)
            self.metric(f"premodulo_raw/{p.get('neuron_id', '?')}", p.get("raw"), step)
        elif kind in ("epoch", "final"):  # the curves end at the returned model (Run.record_final)
            e = int(p["epoch"])
            for key in ("train_accuracy", "val_accuracy", "updates", "accepted"):
                self.metric(f"epoch/{key}", p.get(key), e)
            if kind == "epoch":
                for layer, (gold, mean) in self._layer_stats().items():
                    self.metric(f"gold_zone/layer{layer}", gold, e)
                    self.metric(f"margin_mean/layer{layer}", mean, e)
            if self.flush_each_epoch:
                self.flush()  # every epoch is in the store: a killed run keeps its curves
        elif kind in ("skip", "early_stop", "alert", "resume"):
            self._events.append({"event": kind, **dict(p)})
            if kind == "alert":
                rule = str(p.get("kind", "alert"))
                self._alerts[rule] = self._alerts.get(rule, 0) + 1
                self.set_tags({f"alert.{rule}": f"{self._alerts[rule]}: {p.get('message', '')}"[:4900],
                               "alerts": sum(self._alerts.values())})
            elif kind == "skip":
                self.metric("skips", sum(1 for ev in self._events if ev["event"] == "skip"), p.get("update"))
            elif kind == "early_stop":
                self.set_tags({"early_stop_epoch": p.get("epoch")})
        elif kind == "run_end":
            self.log_metrics({k: v for k, v in p.items() if k != "reason"}, prefix="end/")
            if p.get("reason"):
                self.set_tags({"stop_reason": p["reason"]})

    def _layer_stats(self) -> dict[int, tuple[int, float]]:
        per: dict[int, list[tuple[int, int]]] = {}
        for nid, sn in self._latest.items():
            per.setdefault(int(nid.split(".")[0]), []).append(sn)
        out = {}
        for layer, sums in sorted(per.items()):
            out[layer] = (self._zone.count(sums), sum(abs(S) / N for S, N in sums) / len(sums))
        return out

    # -- artifacts and the end -----------------------------------------------------------------------
    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        p = Path(path)
        if not p.exists():
            return
        if p.is_dir():
            _retry(self.client.log_artifacts, self.run_id, str(p), artifact_path)
        else:
            _retry(self.client.log_artifact, self.run_id, str(p), artifact_path)

    def log_table(self, rows: list[dict], artifact_file: str) -> None:
        if not rows:
            return
        try:
            import pandas as pd

            self.client.log_table(self.run_id, pd.DataFrame(rows), artifact_file)
        except ImportError:
            self.client.log_dict(self.run_id, rows, artifact_file)

    def finish(self, status: str = "FINISHED") -> None:
        """Flush metrics, write the decision table and events, close the run (idempotent).

        A run whose last writes fail is closed FAILED, not `status` (it used to end FINISHED
        with no metrics), and the error is raised."""
        if self.finished:
            return
        self.finished = True
        try:
            self.flush()
            self.log_table(self._decisions, "tables/decisions.json")
            if self._events:
                self.client.log_dict(self.run_id, self._events, "events.json")
        except BaseException as e:
            with contextlib.suppress(Exception):
                self.client.set_tag(self.run_id, "hashtron.error", f"closing the run failed: {e!r}"[:4900])
            with contextlib.suppress(Exception):
                _retry(self.client.set_terminated, self.run_id, "FAILED")
            raise
        _retry(self.client.set_terminated, self.run_id, status)


def run_tags(cfg: Mapping[str, Any], git: Mapping[str, str] | None = None, **extra) -> dict[str, str]:
    """The tags every run gets: dataset, direction, seed, phase, model, git, plus `extra`."""
    tags = {
        "dataset": (cfg.get("dataset") or {}).get("name", ""),
        "direction": (cfg.get("pipeline") or {}).get("direction", ""),
        "seed": str(cfg.get("seed", 0)),
        "phase": str(cfg.get("phase", "debug")),
        "model": (cfg.get("model") or {}).get("name", ""),
    }
    git = dict(git or {})
    tags.update(git)
    if git.get("git.commit") and git["git.commit"] != "unknown":
        tags["mlflow.source.git.commit"] = git["git.commit"]
    tags.update({k: str(v) for k, v in extra.items() if v is not None})
    return tags


# -- a tracked run, and runs grouped under a parent -------------------------------------------------
@contextlib.contextmanager
def tracked(settings: Any, hooks=None, *, run_name: str, tags: Mapping[str, str],
            parent_run_id: str | None = None, root: str | os.PathLike | None = None, flush_each_epoch: bool = True):
    """An `MlflowRun` for the body (subscribed to `hooks` when given), or None when
    ``tracking.backend`` is not mlflow. The run ends FINISHED, FAILED when the body raises, KILLED
    on SIGTERM or Ctrl-C (`track.signals`)."""
    settings = to_mapping(settings)
    if ((settings.get("tracking") or {}).get("backend") or "none") != "mlflow":
        yield None
        return
    tracker = MlflowRun(settings, run_name=run_name, parent_run_id=parent_run_id, root=root, tags=tags,
                        flush_each_epoch=flush_each_epoch)
    if hooks is not None:
        hooks.subscribe(tracker)
    try:
        yield tracker
    except Exception:
        tracker.finish("FAILED")
        raise
    except BaseException:  # KeyboardInterrupt, SystemExit, SIGTERM (track/signals.py)
        tracker.finish("KILLED")
        raise
    tracker.finish("FINISHED")


class ParentRun:
    """One MLflow run that groups others (a multirun's jobs, a DVC execution's evaluate runs):
    children point at it (``mlflow.parentRunId``) and share its ``hashtron.group`` tag, so the UI
    shows and compares them side by side."""

    def __init__(self, tracking: Mapping[str, Any] | None, *, name: str, tags: Mapping[str, str],
                 root: str | os.PathLike | None = None):
        self.client, self.experiment_id = client_and_experiment(tracking, root)
        self.group = str(tags.get(TAG_GROUP, ""))
        run = _retry(self.client.create_run, self.experiment_id, run_name=name[:250],
                     tags={str(k): str(v) for k, v in tags.items()})
        self.run_id = run.info.run_id
        self.closed = False

    def adopt(self, run_id: str) -> None:
        """Make an existing run a child (raises when the run is not in this store)."""
        self.client.set_tag(run_id, "mlflow.parentRunId", self.run_id)
        self.client.set_tag(run_id, TAG_GROUP, self.group)

    def children(self) -> list:
        return _retry(self.client.search_runs, [self.experiment_id],
                      filter_string=f"tags.mlflow.parentRunId = '{self.run_id}'", max_results=10000)

    def log_metric(self, key: str, value: float) -> None:
        _retry(self.client.log_metric, self.run_id, key, float(value))

    def set_tag(self, key: str, value: str, run_id: str | None = None) -> None:
        """A tag on the parent, or on one of its children (`run_id`)."""
        _retry(self.client.set_tag, run_id or self.run_id, key, str(value))

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        if Path(path).exists():
            _retry(self.client.log_artifact, self.run_id, str(path), artifact_path)

    def compare_url(self, run_ids=None) -> str:
        ids = [r.info.run_id for r in self.children()] if run_ids is None else list(run_ids)
        return compare_url(ids, self.experiment_id)

    def close(self, status: str = "FINISHED") -> str:
        """End the parent (once): FAILED instead of FINISHED when a child failed or was killed;
        children still RUNNING (a job process killed outright) are closed KILLED. Returns the
        status it ended with."""
        if self.closed:
            return status
        self.closed = True
        children = self.children()
        for r in children:
            if r.info.status == "RUNNING":
                _retry(self.client.set_terminated, r.info.run_id, "KILLED")
        if status == "FINISHED" and any(r.info.status in ("FAILED", "KILLED") for r in children):
            status = "FAILED"
        if children:
            _retry(self.client.set_tag, self.run_id, "compare_url", self.compare_url([r.info.run_id for r in children]))
        _retry(self.client.set_terminated, self.run_id, status)
        return status
