"""`python -m hashtron_lab` / `hashtron-lab`.

    python -m hashtron_lab [hydra overrides]            train one run (the Hydra app, see cli.py)
    python -m hashtron_lab -m [sweep overrides]         a multirun
    python -m hashtron_lab params [overrides]           regenerate params.yaml from conf/ (for dvc repro)
    python -m hashtron_lab params --check [overrides]   exit 1 when params.yaml and conf/ disagree
    python -m hashtron_lab phonemize --model PATH [word ...]   phonemes of words (stdin: one per line)
"""
from __future__ import annotations

import difflib
import sys


def params_command(argv: list[str]) -> int:
    from . import config_schema

    check = "--check" in argv
    overrides = [a for a in argv if a != "--check"]
    if any(a in ("-h", "--help") for a in overrides):
        print(__doc__.strip())
        return 0
    root = config_schema.project_root()
    try:
        text = config_schema.params_text(overrides, root)
        config_schema.check(__import__("yaml").safe_load(text))
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
