"""SIGTERM as an exception, so a terminated run closes its MLflow run KILLED with its metrics.

Python's default SIGTERM ends the process at once: no `finally`, no `except BaseException`, so an
MLflow run stayed RUNNING with whatever had been flushed (issue 19). `raise_on_sigterm` makes
SIGTERM raise `Terminated` (a `SystemExit` with the shell's exit code 143) in the main thread:
cleanup runs, and an uncaught one still ends the process quietly with status 143. SIGKILL cannot
be caught; metrics are written at every epoch's end, and a multirun's parent marks children
still RUNNING when it closes as KILLED.
"""
from __future__ import annotations

import signal
import threading


class Terminated(SystemExit):
    """The process received SIGTERM."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(128 + int(signum))
        self.signum = int(signum)


received: list[int] = []  # signals turned into `Terminated` in this process


def _raise(signum, frame):
    received.append(int(signum))
    raise Terminated(signum)


def raise_on_sigterm() -> bool:
    """Install the handler (main thread only; elsewhere Python refuses it). True when installed."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) is not _raise:
        signal.signal(signal.SIGTERM, _raise)
    return True
