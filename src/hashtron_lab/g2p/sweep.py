"""The G2P sweep outside Hydra (the DVC stages and `python -m hashtron_lab.g2p sweep`): every
language × pipeline × seed in joblib processes under one MLflow parent run, and the baselines
of every language × seed, each kept as a JSON file so a rerun computes only what is missing.

The Hydra app does the same grid with ``-m experiment=g2p`` (cli.py); both write the same
job directories (`job.train_and_save`), which `report.py` reads.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from pathlib import Path

from ..atomic import atomic_write_bytes
from ..jsonable import jsonable
from .data import G2PData, prepare


def _parallel(n_jobs: int, calls) -> list:
    """joblib processes; their workers are shut down after (loky keeps idle ones otherwise)."""
    from joblib import Parallel
    from joblib.externals.loky import get_reusable_executor

    try:
        return Parallel(n_jobs=n_jobs, backend="loky")(calls)
    finally:
        get_reusable_executor().shutdown(wait=True)


def installed_or(languages) -> list[str]:
    """`languages`, or every installed gruut language when None/empty."""
    from ..data.lexicon import installed_languages, lexicon_path

    if not languages:
        return installed_languages()
    for lang in languages:
        lexicon_path(lang)  # not installed: a LexiconError naming the package
    return list(languages)


def fingerprint(data: G2PData) -> str:
    """Which words a result was computed on (a baseline file from another sample is stale)."""
    h = hashlib.sha256()
    for part in (data.train, data.val, data.test):
        h.update("\n".join(part.words).encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


def point_config(base: dict, language: str, direction: str, seed: int) -> dict:
    cfg = copy.deepcopy(base)
    cfg["language"] = language
    cfg["dataset"] = {**{k: v for k, v in cfg.get("dataset", {}).items() if k != "language"}, "name": "lexicon"}
    cfg["pipeline"] = {"direction": direction}
    cfg["seed"] = int(seed)
    cfg["run_id"] = None
    return cfg


def job_dir(root: str | os.PathLike, language: str, direction: str, seed: int) -> Path:
    return Path(root) / language / f"{direction}-s{seed}"


def _run_points(cfgs: list[dict], outs: list[str], group: str, parent: str | None, n_jobs: int,
                tracking_root: str | None) -> list[dict]:
    """The points of one language and seed (its pipelines): the split is prepared once for all."""
    from ..kernels import share_cores
    from .job import data_of, train_and_save

    share_cores(n_jobs)
    t0 = time.perf_counter()
    data = data_of(cfgs[0])
    prepared = time.perf_counter() - t0
    done = []
    for cfg, out in zip(cfgs, outs):
        t0 = time.perf_counter()
        info = train_and_save(cfg, out, group=group, source="g2p-sweep", parent_run_id=parent,
                              tracking_root=tracking_root, data=data)
        done.append({"language": info["language"], "direction": info["direction"], "seed": info["seed"],
                     "wall_seconds": time.perf_counter() - t0, "prepare_seconds": prepared,
                     "test_word_accuracy": info["metrics"]["test_word_accuracy"]})
    return done


def run_sweep(base: dict, out_root: str | os.PathLike, languages=None, seeds=None, directions=None,
              n_jobs: int | None = None, tracking_root: str | os.PathLike | None = None) -> dict:
    """Train every point into `out_root`/<language>/<direction>-s<seed>, one process task per
    language and seed (its pipelines share the prepared split; language-major, so a worker
    reuses the lexicon it read); returns the timing summary."""
    from joblib import delayed

    g = base.get("g2p") or {}
    languages = installed_or(languages if languages is not None else g.get("languages"))
    seeds = list(seeds if seeds is not None else g.get("seeds", [0, 1, 2]))
    directions = list(directions if directions is not None else g.get("directions", ["backward", "forward"]))
    n_jobs = int(n_jobs if n_jobs is not None else g.get("n_jobs", 2))
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    group = f"g2p-sweep:{out_root.resolve()}"
    parent, client = None, None
    tracking = base.get("tracking") or {}
    if (tracking.get("backend") or "none") == "mlflow":
        from ..track.mlflow_sink import TAG_GROUP, client_and_experiment

        client, exp = client_and_experiment(tracking, tracking_root)
        parent = client.create_run(exp, run_name=f"g2p sweep {len(languages)} languages", tags={
            TAG_GROUP: group, "source": "g2p-sweep", "workload": "g2p", "languages": ",".join(languages),
            "seeds": ",".join(map(str, seeds)), "directions": ",".join(directions)}).info.run_id
    points = [(lang, d, s) for lang in languages for s in seeds for d in directions]
    t0 = time.perf_counter()
    status = "FAILED"
    try:
        done = _parallel(n_jobs, (
            delayed(_run_points)([point_config(base, lang, d, s) for d in directions],
                                 [str(job_dir(out_root, lang, d, s)) for d in directions], group, parent,
                                 n_jobs, None if tracking_root is None else str(tracking_root))
            for lang in languages for s in seeds))
        done = [job for pair in done for job in pair]
        status = "FINISHED"
    finally:
        if client is not None:
            client.set_terminated(parent, status)
    summary = {"languages": languages, "seeds": seeds, "directions": directions, "n_jobs": n_jobs,
               "points": len(points), "wall_seconds": time.perf_counter() - t0, "jobs": done,
               "mlflow_parent_run_id": parent, "cpu_count": os.cpu_count()}
    atomic_write_bytes(out_root / "sweep.json", (json.dumps(jsonable(summary), indent=1) + "\n").encode())
    return summary


# -- baselines -----------------------------------------------------------------------------------
def baseline_file(directory: str | os.PathLike, language: str, seed: int, name: str) -> Path:
    return Path(directory) / f"{language}-s{seed}-{name}.json"


def _baselines_of(language: str, seed: int, names: list[str], directory: str, data_kw: dict) -> list[str]:
    from .evaluate import run_baseline

    data, done = None, []
    for name in names:
        path = baseline_file(directory, language, seed, name)
        if data is None:
            data = prepare(language, seed, **data_kw)
        fp = fingerprint(data)
        if path.is_file():
            try:
                if json.loads(path.read_text()).get("data_fingerprint") == fp:
                    continue
            except (OSError, json.JSONDecodeError):
                pass
        r = run_baseline(name, data)
        r["data_fingerprint"] = fp
        atomic_write_bytes(path, (json.dumps(jsonable(r), indent=1, ensure_ascii=False) + "\n").encode())
        done.append(name)
    return done


def run_baselines(directory: str | os.PathLike, languages=None, seeds=(0, 1, 2), names=None, n_jobs: int = 1,
                  n_words: int | None = 20000, alignment: str = "lexicon", em_iterations: int = 5) -> dict:
    """Every baseline of every language × seed into `directory` (a file whose words still match is kept)."""
    from joblib import delayed

    from .baselines import BASELINES

    names = list(names or BASELINES)
    languages = installed_or(languages)
    Path(directory).mkdir(parents=True, exist_ok=True)
    kw = {"n_words": n_words, "alignment": alignment, "em_iterations": em_iterations}
    t0 = time.perf_counter()
    done = _parallel(n_jobs, (delayed(_baselines_of)(lang, int(s), names, str(directory), kw)
                              for lang in languages for s in seeds))
    return {"computed": sum(len(d) for d in done), "wall_seconds": time.perf_counter() - t0}


def baselines_of(cfg: dict, directory: str | os.PathLike, n_jobs: int | None = None) -> dict:
    """`run_baselines` with a composed G2P config's settings (`g2p`: languages, seeds, baselines,
    n_jobs, em_iterations; `dataset`: n_words, alignment); `n_jobs` overrides the config's."""
    g, ds = cfg["g2p"], cfg["dataset"]
    return run_baselines(directory, g["languages"], g["seeds"], g["baselines"], n_jobs or g["n_jobs"],
                         ds["n_words"], ds["alignment"], g["em_iterations"])
