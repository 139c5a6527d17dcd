"""`HashedLetterRun`: the phonemizer's training run when its RAMs have a premodulo step
(``Phonemizer(capacity="on")``, the ablation's capacity control).

`credit.LetterRun` keeps its fast path (a RAM's bit per *distinct* window key, the group counts
moved rather than recounted) only for RAMs without a program; a RAM with a premodulo would send
it to the generic path, which recounts every sample's group counts after each RAM (≈10× the
fit). Here a RAM's bit per distinct key comes from the RAM itself — its hash step, then its
filter (`Hashtron.forward`, the network's own evaluation) — so the fast path holds for both
kinds of RAM. RAMs without a program read as in `LetterRun`.
"""
from __future__ import annotations

import numpy as np

from .credit import LetterRun


class HashedLetterRun(LetterRun):
    def _bits(self, pos: int, window: int, neuron=None) -> np.ndarray | None:
        h = self.net.neuron(0, pos) if neuron is None else neuron
        if not h.program:
            return super()._bits(pos, window, neuron)
        if not (self.fast and self._shape_ok) or h.bits != 1:
            return None
        _, uniq, _ = self._window(window)
        return h.forward(uniq).astype(np.uint8)
