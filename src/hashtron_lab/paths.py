"""Where the project is: the directory holding `conf/config.yaml` (its settings) and the default
MLflow store. Used by the Hydra side (`config_schema`), tracking and the stages alike, so none of
them imports another for it."""
from __future__ import annotations

import os
from pathlib import Path


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The project directory: the nearest ancestor of `start` (default: the current
    directory) holding `conf/config.yaml`, else the checkout this package was installed from
    (editable install), else the current directory. (MLflow's default store uses
    ``$DVC_ROOT`` first; see `track.mlflow_sink.tracking_root`.)"""
    here = Path(start or os.getcwd()).resolve()
    for d in (here, *here.parents):
        if (d / "conf" / "config.yaml").is_file():
            return d
    pkg = Path(__file__).resolve().parents[2]
    if (pkg / "conf" / "config.yaml").is_file():
        return pkg
    return here


def conf_dir(root: str | os.PathLike | None = None) -> Path:
    """`conf/` of the project (``$HASHTRON_LAB_CONF`` overrides)."""
    env = os.environ.get("HASHTRON_LAB_CONF")
    if env:
        return Path(env).resolve()
    if root is not None:
        return Path(root).resolve() / "conf"
    return project_root() / "conf"
