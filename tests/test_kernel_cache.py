"""Where compiled kernels are cached (kernels/__init__.py, D42): one directory per content of all
kernel sources, shared by every copy of them (a DVC experiment workspace, a second checkout)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import hashtron_lab.kernels as K

PACKAGE = Path(K.__file__).resolve().parents[1]


def _copy_kernels(dst: Path) -> Path:
    shutil.copytree(K.HERE, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def test_the_digest_follows_content_not_path(tmp_path):
    a = _copy_kernels(tmp_path / "a")
    b = _copy_kernels(tmp_path / "b")
    assert K.sources_digest(a) == K.sources_digest(b) == K.sources_digest()
    (b / "network.py").write_text((b / "network.py").read_text() + "\n# an edit a sibling kernel inlines\n")
    assert K.sources_digest(b) != K.sources_digest(a)
    (a / "threads.py").write_text((a / "threads.py").read_text() + "\n# no compiled code here\n")
    assert K.sources_digest(a) == K.sources_digest()  # the thread policy is no kernel source


def test_cache_dir_takes_the_first_writable_root(tmp_path):
    env = {"HASHTRON_LAB_NUMBA_CACHE": str(tmp_path / "mine"), "HOME": str(tmp_path)}
    d = K.cache_dir(env=env)
    assert d == tmp_path / "mine" / K.sources_digest()[:16] and d.is_dir()
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a directory should be")
    d = K.cache_dir(env={"HASHTRON_LAB_NUMBA_CACHE": str(blocked), "XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert d == tmp_path / "xdg" / "hashtron_lab" / "numba" / K.sources_digest()[:16]


def test_prune_keeps_the_most_recently_used(tmp_path):
    for i in range(5):
        (tmp_path / f"d{i}").mkdir()
        os.utime(tmp_path / f"d{i}", (1000 + i, 1000 + i))
    K.prune(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d3", "d4"]


CHECK = """
import numpy as np
from hashtron_lab.kernels import CACHE_DIR
from hashtron_lab.kernels.hashing import hash32
assert hash32(np.uint32(7), np.uint32(8), np.uint32(9)) == hash32.py_func(np.uint32(7), np.uint32(8), np.uint32(9))
print(CACHE_DIR, sum(hash32.stats.cache_hits.values()))
"""


def test_a_copy_of_the_package_elsewhere_reuses_the_compiled_kernels(tmp_path):
    """What a DVC experiment workspace is: the same sources at another path. numba's own cache
    (keyed by path) recompiled there; ours finds the machine code the first copy wrote."""
    env = dict(os.environ, HASHTRON_LAB_NUMBA_CACHE=str(tmp_path / "cache"))
    runs = []
    for name in ("one", "two"):
        root = tmp_path / name
        shutil.copytree(PACKAGE, root / "hashtron_lab", ignore=shutil.ignore_patterns("__pycache__"))
        p = subprocess.run([sys.executable, "-c", CHECK], env=dict(env, PYTHONPATH=str(root)), cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        runs.append(p.stdout.split())
    (dir1, hits1), (dir2, hits2) = runs
    assert dir1 == dir2 and Path(dir1).parent == tmp_path / "cache"
    assert hits1 == "0" and hits2 == "1"  # compiled by the first copy, loaded by the second
