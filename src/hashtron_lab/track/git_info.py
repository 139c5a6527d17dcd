"""The git state a run records, and the rule a `frozen` run enforces.

`git_state(root)` gives commit, branch and whether the *inputs* of a run are dirty. Inputs
are what decides a result — `src/`, `conf/`, `stages/`, `dvc.yaml`, `params.yaml`,
`pyproject.toml` (``SOURCE_PATHS``) — modified, staged or untracked (not ignored). Changes
elsewhere (docs, tests, `dvc.lock` and the outputs DVC writes while `dvc repro` runs) do not
make a run dirty. Outside a git checkout (or without git) the state says so and
`require_clean` refuses a frozen run.

Phases (`phase` in the config): `debug` and `pilot` record the state; `frozen` refuses to
start unless the inputs are clean, so its recorded commit reproduces it.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

SOURCE_PATHS = ("src", "conf", "stages", "dvc.yaml", "params.yaml", "pyproject.toml")
PHASES = ("debug", "pilot", "frozen")


class DirtyTreeError(RuntimeError):
    """A frozen run asked for with uncommitted inputs; the message lists them and the fix."""


@dataclass
class GitState:
    commit: str | None = None          # full sha of HEAD; None outside git
    branch: str | None = None
    dirty: bool | None = None          # inputs differ from HEAD; None when unknown
    dirty_paths: list[str] = field(default_factory=list)
    root: str | None = None
    error: str | None = None           # why the state is unknown

    def as_tags(self) -> dict[str, str]:
        return {"git.commit": self.commit or "unknown", "git.branch": self.branch or "",
                "git.dirty": "unknown" if self.dirty is None else str(self.dirty).lower()}

    def as_dict(self) -> dict:
        return asdict(self)


def _git(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip() or f"git {' '.join(args)} failed")
    return out.stdout


def git_state(root: str | os.PathLike | None = None, paths: tuple[str, ...] = SOURCE_PATHS) -> GitState:
    """Commit, branch and dirtiness of `paths` in the checkout holding `root` (default: cwd)."""
    cwd = Path(root or os.getcwd())
    try:
        top = Path(_git(["rev-parse", "--show-toplevel"], cwd).strip())
        commit = _git(["rev-parse", "HEAD"], cwd).strip()
        branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd).strip()
        present = [p for p in paths if (top / p).exists()]
        status = _git(["status", "--porcelain", "--untracked-files=all", "--", *present], top) if present else ""
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        return GitState(error=str(e).splitlines()[0] if str(e) else type(e).__name__)
    dirty = sorted({line[3:].strip() for line in status.splitlines() if line.strip()})
    return GitState(commit=commit, branch=branch, dirty=bool(dirty), dirty_paths=dirty, root=str(top))


def require_clean(state: GitState, phase: str) -> None:
    """Raise DirtyTreeError when `phase` is frozen and the inputs are not committed."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    if phase != "frozen":
        return
    if state.commit is None:
        raise DirtyTreeError(f"phase=frozen needs a git checkout to record the commit ({state.error}); "
                             f"run inside the project's git repository or use phase=pilot")
    if state.dirty:
        shown = ", ".join(state.dirty_paths[:10]) + (" ..." if len(state.dirty_paths) > 10 else "")
        raise DirtyTreeError(f"phase=frozen refuses uncommitted inputs: {shown}. Commit (or stash) them so the "
                             f"recorded commit reproduces the run, or use phase=pilot")


def checked_state(phase: str, root: str | os.PathLike | None = None) -> GitState:
    """`git_state` after `require_clean` for `phase` (what every entry point calls first)."""
    state = git_state(root)
    require_clean(state, phase)
    return state
