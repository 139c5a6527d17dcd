"""Atomic, checksummed checkpoint files holding a run's full state.

Layout: one line `hashtron-lab-checkpoint <version> <sha256-of-payload>\n`, then a
pickle payload. Checkpoints are our own files written and read by the same
version, so pickle is acceptable; the checksum refuses truncated or altered files.
"""
from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

from ..atomic import atomic_write_bytes

MAGIC = b"hashtron-lab-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    pass


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(payload).hexdigest().encode()
    atomic_write_bytes(path, MAGIC + b" %d " % VERSION + digest + b"\n" + payload)


def load_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; start the run without resume")
    data = path.read_bytes()
    head, _, payload = data.partition(b"\n")
    parts = head.split(b" ")
    if len(parts) != 3 or parts[0] != MAGIC:
        raise CheckpointError(f"{path} is not a hashtron-lab checkpoint; delete it or point resume elsewhere")
    if int(parts[1]) > VERSION:
        raise CheckpointError(f"{path} was written by a newer version ({int(parts[1])}); upgrade hashtron-lab")
    if hashlib.sha256(payload).hexdigest().encode() != parts[2]:
        raise CheckpointError(
            f"checkpoint {path} is damaged (checksum mismatch); delete it to restart the run from scratch"
        )
    return pickle.loads(payload)
