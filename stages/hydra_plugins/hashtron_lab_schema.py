"""Loaded by Hydra's plugin scan when DVC composes `conf/` (`dvc exp run -S ...`).

`.dvc/config` sets `hydra.plugins_path = stages`; DVC puts that directory on sys.path and
scans the `hydra_plugins` namespace, which runs this module: it registers the structured
config schemas, so DVC's composition type-checks exactly like `python -m hashtron_lab`.
(No Plugin class here; importing is the point.)
"""
import hashtron_lab.config_schema  # noqa: F401  (registers the schemas in Hydra's ConfigStore)
