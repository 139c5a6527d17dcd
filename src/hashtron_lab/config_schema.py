"""`conf/` through Hydra: the settings tree registered as the schema, composition, params.yaml.

The schema is the settings tree itself (`config.Settings`, the library's own dataclasses):
`register` stores it in Hydra's ConfigStore as ``hashtron_lab_schema`` (first in the root
config's defaults list, so every option file merges *into* a typed node), the two pipeline kinds
as ``pipeline/backward_schema`` and ``pipeline/forward_schema`` (each `conf/pipeline/*.yaml`
extends one), and the option sets defined in Python (`presets.OPTIONS`: pipeline=backward_all,
capacity=fixed, selection=round_robin, run=ntuple — the estimator trains with the same). A
misspelled key, a wrong type fails at composition with the key's full name, e.g.::

    Key 'clamp_factr' not in 'CapacityConfig'
        full_key: capacity.clamp_factr

and a value out of range when the tree is built (`load_config`, `read_params`)::

    invalid config at budget.max_updates: -5 is out of range; allowed: an integer >= 0 (0 trains nothing)

DVC composes `conf/` itself (``dvc exp run -S``): it loads Hydra plugins from ``stages/``
(``hydra.plugins_path`` in `.dvc/config`), where ``stages/hydra_plugins/hashtron_lab_schema.py``
imports this module so the same registrations apply; `params_text` (``python -m hashtron_lab
params``) calls the very function DVC uses, so the committed params.yaml and ``dvc exp run``
agree byte for byte.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .config import ConfigError, Settings, check, plain
from .paths import conf_dir, project_root

__all__ = ["ROOT_SCHEMA", "ConfigError", "compose", "conf_dir", "load_config", "params_text", "project_root",
           "read_params", "register", "typed"]

ROOT_SCHEMA = "hashtron_lab_schema"


def register() -> None:
    """Register the settings tree and the Python-defined options in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    from .presets import OPTIONS
    from .train.backward import BackwardConfig
    from .train.forward import ForwardConfig

    cs = ConfigStore.instance()
    cs.store(name=ROOT_SCHEMA, node=Settings)
    cs.store(group="pipeline", name="backward_schema", node=BackwardConfig)
    cs.store(group="pipeline", name="forward_schema", node=ForwardConfig)
    for (group, name), node in OPTIONS.items():
        cs.store(group=group, name=name, node=node)


register()


def compose(overrides: list[str] | tuple[str, ...] = (), config_dir: str | os.PathLike | None = None,
            config_name: str = "config"):
    """The composed config (an OmegaConf DictConfig, hydra node excluded) for `overrides`."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    directory = Path(config_dir) if config_dir is not None else conf_dir()
    with initialize_config_dir(str(directory.resolve()), version_base=None):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


def params_text(overrides: list[str] | tuple[str, ...] = (), root: str | os.PathLike | None = None) -> str:
    """The `params.yaml` text DVC's Hydra composition writes for `overrides` (same function)."""
    import tempfile

    from dvc.utils.hydra import compose_and_dump

    root = Path(root) if root is not None else project_root()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "params.yaml"
        compose_and_dump(out, str((root / "conf").resolve()), None, "config", str(root / "stages"),
                         list(overrides))
        return out.read_text(encoding="utf-8")


def typed(data: Any):
    """`data` (a dict or DictConfig, e.g. params.yaml) merged into the schema: raises ConfigError
    on an unknown key (also ones added with `+key=...`) or a wrong type, naming the full key."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from .config import PIPELINES

    data = plain(data)
    if not isinstance(data, dict):
        raise ConfigError(f"a config must be a mapping, got {type(data).__name__}")
    direction = (data.get("pipeline") or {}).get("direction", "backward")
    if direction not in PIPELINES:
        raise ConfigError(f"invalid config at pipeline.direction: {direction!r}; valid: {sorted(PIPELINES)}")
    base = OmegaConf.structured(Settings)
    base.pipeline = OmegaConf.structured(PIPELINES[direction])
    try:
        return OmegaConf.merge(base, data)
    except OmegaConfBaseException as e:
        raise ConfigError(f"invalid config: {e}") from None


def settings_of(data: Any) -> Settings:
    """The checked settings tree of a composition or a hand-written mapping."""
    return check(Settings.from_dict(typed(data)))


def load_config(overrides: list[str] | tuple[str, ...] = (), config_dir: str | os.PathLike | None = None) -> Settings:
    """Compose `conf/` with `overrides`: the checked settings tree."""
    return settings_of(compose(overrides, config_dir))


def read_params(path: str | os.PathLike = "params.yaml") -> Settings:
    """params.yaml (written by ``python -m hashtron_lab params`` or `dvc exp run -S`), checked like
    a composition."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p} does not exist; write it with `python -m hashtron_lab params`")
    return settings_of(yaml.safe_load(p.read_text(encoding="utf-8")))
