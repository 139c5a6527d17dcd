"""What the stage scripts share: reading params.yaml, the per-seed layout, running seeds.

Layout (the stage name = its script = its output folder; seeds are subfolders):

    data/prepared/seed<k>/              prepare          (dataset split for seed k)
    runs/backward/bootstrap/seed<k>/    bootstrap        (phase 0: the final layer)
    runs/backward/<pass>/seed<k>/       backward@<pass>  (resumes runs/backward/<src>)
    runs/forward/seed<k>/               train_forward
        model.htl  sum_cache.bin (backward)  checkpoint.npz  record/ (run.json + JSON lines)
    metrics/<direction>.json  plots/<direction>/  reports/<direction>/   evaluate@<direction>
    metrics/compare.json  reports/compare.{md,html,json}  plots/compare/    compare

Stages run with the working directory at the repository root (dvc.yaml's directory) and
read `params.yaml` there; MLflow's default store follows $DVC_ROOT (the main repository
even inside `dvc exp` workspaces).
"""
from __future__ import annotations

import copy
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable

from hashtron_lab.config_schema import read_params
from hashtron_lab.kernels import share_cores
from hashtron_lab.track.git_info import checked_state

DIRECTIONS = ("backward", "forward")
PREPARED = Path("data/prepared")
RUNS = Path("runs")


def load_params(path: str | os.PathLike = "params.yaml") -> dict:
    """params.yaml, typed and checked; a frozen phase refuses uncommitted inputs here."""
    params = read_params(path)
    checked_state(params.get("phase", "debug"), Path(path).resolve().parent)
    return params


def config_for(params: dict, direction: str, seed: int) -> dict:
    """The config `experiment.train` takes for one run of the main job."""
    cfg = copy.deepcopy(params)
    cfg["pipeline"] = cfg["main"][direction]
    cfg["seed"] = int(seed)
    cfg["run_id"] = f"{cfg['dataset']['name']}-{direction}-s{seed}"
    return cfg


def seed_dir(base: str | os.PathLike, seed: int) -> Path:
    return Path(base) / f"seed{int(seed)}"


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def for_each_seed(fn: Callable[..., Any], seeds: list[int], n_jobs: int, *args,
                  warm: Callable[[], Any] | None = None, **kw) -> list[Any]:
    """`fn(seed, *args, **kw)` for every seed, in up to `n_jobs` fresh processes (spawned, so no
    numba or thread state is inherited); results in seed order. One seed, or n_jobs <= 1:
    in this process. The processes share the cores (D30): each runs its numba kernels on
    cores // processes threads, not on every core, which oversubscribed them and made wall
    times swing several-fold. `warm` runs here first when processes are spawned (e.g.
    `warm_main`: the workers then load the kernels it compiled instead of each compiling them)."""
    n = max(1, min(int(n_jobs), len(seeds), os.cpu_count() or 1))
    if n == 1:
        return [fn(s, *args, **kw) for s in seeds]
    if warm is not None:
        warm()
    with ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn"), initializer=share_cores,
                             initargs=(n,)) as pool:
        futures = [pool.submit(fn, s, *args, **kw) for s in seeds]
        return [f.result() for f in futures]


def warm_main(params: dict, direction: str) -> None:
    """Compile (or load) the kernels `direction`'s runs call, once, saying how long it took
    (D42: a cold compile prints a line while it runs; its time is in no run's wall time)."""
    from hashtron_lab import experiment

    took = experiment.warm(config_for(params, direction, 0))
    say(f"kernels for {direction} ready in {took:.1f}s")


def train_seed(seed: int, params: dict, direction: str, out_base: str, *, max_epochs: int | None = None,
               resume_base: str | None = None, more_epochs: int | None = None) -> dict:
    """Train one seed of the main job into ``<out_base>/seed<k>``: model, sum cache,
    checkpoint, run record. `max_epochs` caps the run's epochs (the bootstrap is epoch 1).
    With `resume_base`, continue that stage's checkpoint for `more_epochs` more epochs than
    it reached, within the same budget: the chain of stages equals one long run."""
    from hashtron_lab import experiment
    from hashtron_lab.data import read_dataset
    from hashtron_lab.model.files import save_model
    from hashtron_lab.track.records import read_run_record, record_of, write_run_record

    cfg = config_for(params, direction, seed)
    out = seed_dir(out_base, seed)
    out.mkdir(parents=True, exist_ok=True)
    ds = read_dataset(seed_dir(PREPARED, seed))
    resume_from = None
    if resume_base is not None:
        resume_from = seed_dir(resume_base, seed) / "checkpoint.npz"
        if not resume_from.is_file():
            raise SystemExit(f"{resume_from} is missing: rerun the stage that writes {resume_base} "
                             f"(`dvc repro` does it)")
        reached = int(read_run_record(seed_dir(resume_base, seed) / "record")["info"]["metrics"]["epochs"])
        max_epochs = reached + int(more_epochs or 0)
    if max_epochs is not None:
        cap = cfg["budget"].get("max_epochs")
        cfg["budget"]["max_epochs"] = max_epochs if cap is None else min(cap, max_epochs)
    from hashtron_lab.train.warm import stats

    warmed = stats["seconds"]
    result = experiment.train(cfg, checkpoint_path=str(out / "checkpoint.npz"), dataset=ds,
                              resume_from=str(resume_from) if resume_from else None)
    meta = {"dataset": cfg["dataset"]["name"], "direction": direction, "seed": int(seed), "run_id": cfg["run_id"],
            "stage": os.environ.get("DVC_STAGE", "")}
    save_model(result.net, out / "model.htl", meta)
    cache = getattr(result.pipeline, "cache", None)
    if cache is not None:
        cache.save(out / "sum_cache.bin")
    info = record_of(result, cfg, {"run_id": cfg["run_id"], "stage": meta["stage"],
                                   "resumed_from": str(resume_from) if resume_from else None})
    write_run_record(out / "record", info, result.run.history, result.run.curve(), result.run.decisions)
    if os.environ.get("HASHTRON_LAB_FAIL_STAGE") and os.environ.get("HASHTRON_LAB_FAIL_STAGE") == meta["stage"]:
        raise SystemExit(f"HASHTRON_LAB_FAIL_STAGE={meta['stage']}: injected failure (tests of stage recovery)")
    m = result.metrics
    say(f"{direction} seed {seed}: epoch {m['epochs']}, {m['updates']} updates, train {m['train_accuracy']:.4f} "
        f"val {m['val_accuracy']:.4f} test {m['test_accuracy']:.4f}, stop {m['stop_reason']} "
        f"(trained in {m['wall_seconds']:.1f}s; kernels loaded in {stats['seconds'] - warmed:.1f}s)")
    return {"seed": int(seed), "epochs": int(m["epochs"]), "updates": int(m["updates"])}


def group_key(params_path: str = "params.yaml") -> str:
    """The MLflow group of this pipeline execution: runs logged from the same params.yaml
    (in the same DVC experiment) belong together."""
    import hashlib

    digest = hashlib.sha256(Path(params_path).read_bytes()).hexdigest()[:12]
    return f"dvc:{os.environ.get('DVC_EXP_NAME') or 'workspace'}:{digest}"


def main_guard() -> None:
    """Stage scripts are run from the repository root; say so plainly otherwise."""
    if not Path("params.yaml").is_file() or not Path("dvc.yaml").is_file():
        sys.exit("run the stages through DVC (`dvc repro`) or from the repository root")
