"""One sweep point of the G2P experiment: a language × pipeline × seed, trained, scored, saved, tracked.

The Hydra app calls `train_and_save` for every ``dataset=lexicon`` job (cli.py), the sweep runner
(`sweep.py`, the DVC stage) for every point of its grid. The job writes into its directory::

    model.htl        the Phonemizer (Phonemizer.load reads it)
    sum_cache.bin    the backward pipeline's sum cache (backward runs)
    record/          run.json + history / epochs / decisions (JSON lines), as every run
    result.json      the metrics the report reads

and, unless ``tracking=none``, one MLflow run (a child of the sweep's parent when given).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_bytes
from ..jsonable import jsonable
from .data import G2PData, cached_lexicon, prepare
from .evaluate import score_parts
from .phonemizer import Phonemizer
from .settings import PHONEMIZER_KEYS

RESULT = "result.json"
TRACKED_KEYS = ("seed", "phase", "language", "dataset", "pipeline", "g2p", "tracking", "alerts", "run_id")
TIMED_WORDS = 1000


def _plain(cfg) -> dict:
    """A settings tree (config.Settings) or a mapping as plain dicts."""
    from ..config import plain

    return plain(cfg)


def phonemizer_of(cfg) -> Phonemizer:
    """The Phonemizer a composed config asks for (settings: the `g2p` group; direction, seed)."""
    cfg = _plain(cfg)
    g = dict(cfg.get("g2p") or {})
    kw = {k: g[k] for k in PHONEMIZER_KEYS if k in g}
    if "levels" in kw:
        kw["levels"] = tuple(kw["levels"])
    from ..data.lexicon import language_of

    return Phonemizer(language=str(language_of(cfg)), direction=cfg["pipeline"]["direction"],
                      seed=int(cfg.get("seed", 0)), **kw)


def data_of(cfg) -> G2PData:
    from ..data.lexicon import check_dataset_config, language_of

    cfg = _plain(cfg)
    check_dataset_config(cfg)
    ds = cfg["dataset"]
    return prepare(str(language_of(cfg)), int(cfg.get("seed", 0)), ds.get("n_words", 20000),
                   ds.get("alignment", "lexicon"), int((cfg.get("g2p") or {}).get("em_iterations", 5)))


def timed_predict(path: Path, words: list[str], n: int = TIMED_WORDS) -> float:
    """Seconds to phonemize `n` words (the test words, repeated if fewer) with a model just loaded."""
    ph = Phonemizer.load(path)
    batch = (words * (n // max(1, len(words)) + 1))[:n]
    ph.predict(batch[:5])  # the kernels are loaded once per process: not part of a call's cost
    t0 = time.perf_counter()
    ph.predict(batch)
    return time.perf_counter() - t0


def fit_and_score(cfg, data: G2PData, out: Path, hooks=None) -> tuple[Phonemizer, dict]:
    """Train, save to `out`/model.htl and score one phonemizer; the metrics as a flat dict."""
    cfg = _plain(cfg)
    ph = phonemizer_of(cfg)
    ph.fit(data.train.words, data.train.prons, data.val.words, data.val.prons, hooks=hooks,
           letter_labels=data.train.labels, val_letter_labels=data.val.labels)
    path = ph.save(out / "model.htl")
    m: dict[str, Any] = {"fit_seconds": ph.fit_seconds_, "model_bytes": path.stat().st_size}
    for p, scores in score_parts(ph.predict_labels, data).items():
        m.update({f"{p}_{k}": v for k, v in scores.items()})
    m["predict_1000_seconds"] = timed_predict(path, data.test.words)
    m.update({k: ph.fit_info_[k] for k in ("letters", "ranks", "slots", "rams", "updates", "train_accuracy",
                                           "best_val_accuracy")})
    m["direction"] = ph.pipeline_
    m["stop_reason"] = ph.stop_reason_
    return ph, m


def train_and_save(cfg, out_dir: str | os.PathLike, *, group: str, source: str,
                   parent_run_id: str | None = None, root: str | os.PathLike | None = None,
                   tracking_root: str | os.PathLike | None = None, data: G2PData | None = None) -> dict:
    """Train the phonemizer `cfg` describes into `out_dir` and track it as the config says;
    returns the result (metrics, ids, alerts) that `result.json` holds. The MLflow run (unless
    ``tracking=none``) ends FINISHED, FAILED or KILLED as `track.mlflow_sink.tracked` decides."""
    cfg = _plain(cfg)
    from ..track.alerts import AlertMonitor, ConsoleAlerts
    from ..track.git_info import checked_state
    from ..track.mlflow_sink import run_tags, tracked
    from ..track.records import write_run_record
    from ..train.events import Hooks

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    git = checked_state(cfg.get("phase", "debug"), root)
    cfg = dict(cfg)
    from ..data.lexicon import language_of

    language = language_of(cfg)
    direction, seed = cfg["pipeline"]["direction"], int(cfg.get("seed", 0))
    cfg["run_id"] = cfg.get("run_id") or f"g2p-{language}-{direction}-s{seed}-{os.urandom(4).hex()}"
    if data is None:
        data = data_of(cfg)
    hooks = Hooks()
    monitor = AlertMonitor(cfg.get("alerts"), emit=hooks.emit)
    hooks.subscribe(monitor)
    hooks.subscribe(ConsoleAlerts())
    params = {k: cfg[k] for k in TRACKED_KEYS if k in cfg}
    tags = run_tags({**params, "model": {"name": "phonemizer"}}, git.as_tags(),
                    **{"hashtron.group": group, "source": source, "run_id": cfg["run_id"], "language": language,
                       "workload": "g2p"})
    with tracked(params, hooks, run_name=f"{language}-{direction}-s{seed}", tags=tags, parent_run_id=parent_run_id,
                 root=tracking_root) as tracker:
        ph, metrics = fit_and_score(cfg, data, out, hooks)
        if ph.sum_cache_ is not None:
            ph.sum_cache_.save(out / "sum_cache.bin")
        info = {"workload": "g2p", "language": language, "direction": direction, "seed": seed,
                "dataset": "lexicon", "run_id": cfg["run_id"], "group": group, "metrics": metrics,
                "data": data.info, "params": params, "git": git.as_dict(), "alerts": monitor.alerts,
                "mlflow_run_id": tracker.run_id if tracker else None,
                "sum_cache_records": len(ph.sum_cache_) if ph.sum_cache_ is not None else 0,
                "decisions": len(ph.decisions_)}
        write_run_record(out / "record", info, ph.history_, ph.epochs_, ph.decisions_)
        atomic_write_bytes(out / RESULT, (json.dumps(jsonable(info), indent=1, sort_keys=True) + "\n").encode())
        if tracker is not None:
            tracker.log_metrics(metrics, step=len(ph.history_))
            if (cfg.get("tracking") or {}).get("log_models", True):
                for name in ("model.htl", "sum_cache.bin", RESULT):
                    tracker.log_artifact(out / name, "model" if name != RESULT else None)
                tracker.log_artifact(out / "record", "record")
    return info


def read_result(directory: str | os.PathLike) -> dict:
    p = Path(directory) / RESULT
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"G2P result {p} is missing or damaged ({e}); rerun its job") from None


__all__ = ["train_and_save", "fit_and_score", "phonemizer_of", "data_of", "read_result", "cached_lexicon"]
