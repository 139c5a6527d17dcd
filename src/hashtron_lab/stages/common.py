"""What the stages share: params.yaml as the settings tree, the per-seed layout, running seeds."""
from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable

from ..config import Settings

DIRECTIONS = ("backward", "forward")
PREPARED = Path("data/prepared")
RUNS = Path("runs")


class StageError(RuntimeError):
    """A stage that cannot run as called; the message says what to do (the stage script's
    process ends with it, non-zero)."""


def load_params(path: str | os.PathLike = "params.yaml") -> Settings:
    """params.yaml as the checked settings tree; a frozen phase refuses uncommitted inputs here.
    Stages run from the repository root (dvc.yaml's directory): say so plainly otherwise."""
    from ..config_schema import read_params
    from ..track.git_info import checked_state

    if not Path(path).is_file() or not (Path(path).resolve().parent / "dvc.yaml").is_file():
        raise StageError("run the stages through DVC (`dvc repro`) or from the repository root")
    settings = read_params(path)
    checked_state(settings.phase, Path(path).resolve().parent)
    return settings


def run_settings(settings: Settings, direction: str, seed: int) -> Settings:
    """The settings of one run of the main job."""
    return settings.for_run(direction, seed, run_id=f"{settings.dataset['name']}-{direction}-s{int(seed)}")


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
    from ..kernels import share_cores

    n = max(1, min(int(n_jobs), len(seeds), os.cpu_count() or 1))
    if n == 1:
        return [fn(s, *args, **kw) for s in seeds]
    if warm is not None:
        warm()
    with ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn"), initializer=share_cores,
                             initargs=(n,)) as pool:
        futures = [pool.submit(fn, s, *args, **kw) for s in seeds]
        return [f.result() for f in futures]


def warm_main(settings: Settings, direction: str) -> None:
    """Compile (or load) the kernels `direction`'s runs call, once, saying how long it took
    (a cold compile prints a line while it runs; its time is in no run's wall time)."""
    from ..experiment import warm

    took = warm(run_settings(settings, direction, settings.main.seeds[0]))
    say(f"kernels for {direction} ready in {took:.1f}s")


def train_seed(seed: int, settings: Settings, direction: str, out_base: str, *, max_epochs: int | None = None,
               resume_base: str | None = None, more_epochs: int | None = None) -> dict:
    """Train one seed of the main job into ``<out_base>/seed<k>``: model, sum cache,
    checkpoint, run record. `max_epochs` caps the run's epochs (the bootstrap is epoch 1).
    With `resume_base`, continue that stage's checkpoint for `more_epochs` more epochs than
    it reached, within the same budget: the chain of stages equals one long run."""
    from ..data import read_dataset
    from ..experiment import run_experiment, save_outputs
    from ..track.records import read_run_record
    from ..train.warm import stats

    s = run_settings(settings, direction, seed)
    out = seed_dir(out_base, seed)
    resume_from = None
    if resume_base is not None:
        resume_from = seed_dir(resume_base, seed) / "checkpoint.npz"
        if not resume_from.is_file():
            raise StageError(f"{resume_from} is missing: rerun the stage that writes {resume_base} "
                             f"(`dvc repro` does it)")
        reached = int(read_run_record(seed_dir(resume_base, seed) / "record")["info"]["metrics"]["epochs"])
        max_epochs = reached + int(more_epochs or 0)
    if max_epochs is not None:
        cap = s.budget.max_epochs
        s.budget.max_epochs = max_epochs if cap is None else min(cap, max_epochs)
    warmed = stats["seconds"]
    result = run_experiment(s, data=read_dataset(seed_dir(PREPARED, seed)), checkpoint_path=str(out / "checkpoint.npz"),
                            resume_from=str(resume_from) if resume_from else None)
    stage = os.environ.get("DVC_STAGE", "")
    save_outputs(result, out, {"run_id": s.run_id, "stage": stage,
                               "resumed_from": str(resume_from) if resume_from else None})
    if os.environ.get("HASHTRON_LAB_FAIL_STAGE") and os.environ.get("HASHTRON_LAB_FAIL_STAGE") == stage:
        raise StageError(f"HASHTRON_LAB_FAIL_STAGE={stage}: injected failure (tests of stage recovery)")
    m = result.metrics
    say(f"{direction} seed {seed}: epoch {m['epochs']}, {m['updates']} updates, train {m['train_accuracy']:.4f} "
        f"val {m['val_accuracy']:.4f} test {m['test_accuracy']:.4f}, stop {m['stop_reason']} "
        f"(trained in {m['wall_seconds']:.1f}s; kernels loaded in {stats['seconds'] - warmed:.1f}s)")
    return {"seed": int(seed), "epochs": int(m["epochs"]), "updates": int(m["updates"])}


def group_key(params_path: str = "params.yaml") -> str:
    """The MLflow group of this pipeline execution: runs logged from the same params.yaml
    (in the same DVC experiment) belong together."""
    digest = hashlib.sha256(Path(params_path).read_bytes()).hexdigest()[:12]
    return f"dvc:{os.environ.get('DVC_EXP_NAME') or 'workspace'}:{digest}"
