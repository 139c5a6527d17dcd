"""`python -m hashtron_lab` / `hashtron-lab`.

    python -m hashtron_lab [hydra overrides]            train one run (the Hydra app, see cli.py)
    python -m hashtron_lab -m [sweep overrides]         a multirun
    python -m hashtron_lab params [overrides]           regenerate params.yaml from conf/ (for dvc repro)
    python -m hashtron_lab params --check [overrides]   exit 1 when params.yaml and conf/ disagree
    python -m hashtron_lab params --stale [--ok PATH]   exit 1 when conf/ changed since params.yaml was
                                                        written (the first stage of `dvc repro`)
    python -m hashtron_lab phonemize --model PATH [word ...]   phonemes of words (stdin: one per line)
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import sys
from pathlib import Path

STAMP = ".params-stamp.json"  # conf/'s digest and the overrides of the last `params` (machine-local)


def conf_digest(root: Path) -> str:
    """sha256 over every file of conf/ (relative path and bytes, in path order)."""
    h = hashlib.sha256()
    conf = root / "conf"
    for p in sorted(q for q in conf.rglob("*") if q.is_file() and "__pycache__" not in q.parts):
        h.update(p.relative_to(conf).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _stamp(root: Path, overrides: list[str]) -> None:
    (root / STAMP).write_text(json.dumps({"conf_sha256": conf_digest(root), "overrides": overrides}) + "\n")


def stale_command(root: Path) -> int:
    """`dvc repro` reads params.yaml, never conf/: edits to conf/ after the last `params` were
    silently ignored ("Data and pipelines are up to date"). This stage fails then, with the
    command that regenerates it. Inside `dvc exp run` DVC composes params.yaml from conf/ itself."""
    from . import config_schema

    if os.environ.get("DVC_EXP_NAME"):
        print("params.yaml: composed from conf/ by `dvc exp run`")
        return 0
    try:
        stamp = json.loads((root / STAMP).read_text())
    except (OSError, ValueError):
        stamp = None
    if stamp and stamp.get("conf_sha256") == conf_digest(root):
        print("params.yaml: conf/ unchanged since it was written")
        return 0
    overrides = list((stamp or {}).get("overrides") or [])
    path = root / "params.yaml"
    current = path.read_text(encoding="utf-8") if path.is_file() else ""
    text = config_schema.params_text(overrides, root)
    if current == text:
        _stamp(root, overrides)
        print("params.yaml: matches conf/" + (f" with {' '.join(overrides)}" if overrides else ""))
        return 0
    diff = list(difflib.unified_diff(current.splitlines(True), text.splitlines(True), "params.yaml",
                                     "conf/ now" + (f" with {' '.join(overrides)}" if overrides else "")))
    sys.stdout.writelines(diff[:60] + (["...\n"] if len(diff) > 60 else []))
    command = " ".join(["python -m hashtron_lab params", *overrides])
    print(f"\nerror: params.yaml is stale: conf/ changed since it was written, and `dvc repro` reads only "
          f"params.yaml. Regenerate it, then run again:\n    {command} && dvc repro", file=sys.stderr)
    return 1


def params_command(argv: list[str]) -> int:
    from . import config_schema

    check = "--check" in argv
    if "--stale" in argv:  # [--ok PATH]: on success, write PATH (the DVC stage's output)
        code = stale_command(config_schema.project_root())
        if code == 0 and "--ok" in argv:
            ok = Path(argv[argv.index("--ok") + 1])
            ok.parent.mkdir(parents=True, exist_ok=True)
            ok.write_text("params.yaml is up to date with conf/\n")
        return code
    overrides = [a for a in argv if a != "--check"]
    if any(a in ("-h", "--help") for a in overrides):
        print(__doc__.strip())
        return 0
    root = config_schema.project_root()
    try:
        text = config_schema.params_text(overrides, root)
        config_schema.settings_of(__import__("yaml").safe_load(text))
    except Exception as e:  # composition or schema error: say it plainly, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    path = root / "params.yaml"
    if check:
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current == text:
            print(f"{path} matches conf/" + (f" with {' '.join(overrides)}" if overrides else ""))
            return 0
        sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), text.splitlines(True),
                                                   f"{path} (committed)", "composed from conf/"))
        print(f"\n{path} is out of date: run `python -m hashtron_lab params`", file=sys.stderr)
        return 1
    path.write_text(text, encoding="utf-8")
    _stamp(root, overrides)
    print(f"wrote {path}")
    return 0


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "params":
        raise SystemExit(params_command(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "phonemize":
        from .g2p.cli import phonemize_main

        raise SystemExit(phonemize_main(sys.argv[2:]))
    from .cli import main as app

    app()


if __name__ == "__main__":
    main()
