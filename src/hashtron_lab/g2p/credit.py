"""How the phonemizer's RAM neurons get their votes (the *margin credit*) and in which order the
backward pipeline visits them.

The network (see phonemizer.py): layer 1 holds, for every argmax group g (a rank) and every
*slot* k, one RAM; a slot is one window of letters and one *level*. RAM (g, k) reads the key of
its window and answers 1 to vote for rank g. Windows are ordered shortest first.

Margin credit of RAM (g, k) whose window is the j-th: each letter sample looks at the votes its
own network already gives it from the windows before j (the argmax group counts restricted to
those slots). If its target rank leads every other rank by more than `margin`, it is
*resolved*: shorter contexts already decide it, and it asks the RAM for silence (vote -1). An
unresolved sample votes for its target: +w_pos on the RAM of its target's group, -w_neg on the
others. So a longer window stores only what the shorter ones leave open (~20x fewer stored
keys than every context, and better validation word accuracy: docs/decisions.md), and a key
never stored answers 0 (keys are even, DESIGN §1), so an unseen context abstains.

Levels set the weights: ``any`` (w_pos = N + 1, w_neg = 1: one unresolved sample of the rank
sets the key), ``majority`` (w_pos = w_neg = N + 1: more unresolved samples of the rank than
of others) and ``strong`` (w_neg = 9 w_pos: more than 90 % of them). A window whose
unresolved samples agree fires on several levels: pure evidence outvotes mixed evidence. Resolved samples' -1 keeps every training context in each RAM's map, so the
filter is sized by all contexts while it stores few 1s: an unseen key rarely hits a 1.

The credit of window j reads only windows before j, so visiting layer 1 slot by slot (every
group's RAM of slot 0, then slot 1, …: `SlotOrder`) makes one backward sweep exact. Any
other order (the forward pipeline's random one) converges only over several visits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..kernels import g2p as KG
from ..kernels.filter import filter_lookup_into, filter_make
from ..kernels.threads import threads_for
from ..model.hashtron import Hashtron
from ..train.run import Run
from ..train.tally import Tally
from .settings import LEVELS

# per level, (w_pos, w_neg) in units of N + 1: any unresolved sample of the rank sets the key;
# more of the rank than of others; more than 9 of the rank for each other (purity > 0.9)
LEVEL_WEIGHTS = {"any": (1, 0), "majority": (1, 1), "strong": (1, 9)}


class LetterRun(Run):
    """A `Run` whose first-layer tallies are the margin credit; every other neuron (the output
    layer) is tallied as usual.

    It also knows its network's shape (first layer = RAMs without a program reading one window
    key each; an argmax; the output layer) and uses it to do the same work in less time: a
    window's keys are read once (contiguous, with their distinct values); a RAM's current bits,
    its new filter's changes and the samples they touch come from lookups of the distinct keys
    (`apply` refreshes only the samples whose bit flips, `kernels.g2p.refresh_rows`); the
    group counts before every window are kept (`_prefix_counts`) and moved, not recounted.
    `fast = False` takes the generic path everywhere (the tests compare the two)."""

    fast = True

    def __init__(self, net, train, val, n_classes, config=None, hooks=None, *, groups: int,
                 slot_window: np.ndarray, slot_level: list[str], margin: int):
        self.groups = int(groups)
        self.slot_window = np.asarray(slot_window, dtype=np.int64)
        self.slot_level = list(slot_level)
        self.margin = int(margin)
        self.slots = int(self.slot_window.shape[0])
        if len(self.slot_level) != self.slots or np.any(np.diff(self.slot_window) < 0):
            raise ValueError(f"give one level per slot ({self.slots}, got {len(self.slot_level)}) and slots in "
                             f"window order")
        bad = sorted(set(self.slot_level) - set(LEVELS))
        if bad:
            raise ValueError(f"unknown level(s) {bad}; valid: {LEVELS}")
        a = net.architecture
        if a.widths[0] != self.groups * self.slots:
            raise ValueError(f"layer 1 has {a.widths[0]} neurons, not groups x slots = "
                             f"{self.groups} x {self.slots}")
        # the shape refresh_rows handles: hashtron -> argmax -> the output layer, no layer premodulo
        self._shape_ok = (a.n_layers == 2 and a.combiners[0] is not None and a.combiners[0].kind == "argmax"
                          and a.output_is_direct and a.layers[0].premodulo == 0)
        self.n_windows = int(self.slot_window[-1]) + 1 if self.slots else 0
        self._prefix: np.ndarray | None = None      # (samples, windows + 1, groups): counts before window w
        self._unresolved: dict[int, np.ndarray] = {}  # window -> per sample, for the current prefix
        self._windows: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._counts: dict[int, np.ndarray] = {}
        super().__init__(net, train, val, n_classes, config, hooks)

    def slot_of(self, pos: int) -> tuple[int, int]:
        """(group, slot) of first-layer neuron `pos`."""
        return divmod(int(pos), self.slots)

    def _window(self, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keys of every sample, contiguous; distinct keys; each sample's index into them)."""
        if window not in self._windows:
            slot = int(np.searchsorted(self.slot_window, window, side="left"))
            col = np.ascontiguousarray(self.train.X[:, slot])
            uniq, inverse = np.unique(col, return_inverse=True)
            self._windows[window] = (col, uniq, inverse.astype(np.int64, copy=False))
        return self._windows[window]

    def _key_counts(self, window: int) -> np.ndarray:
        """int64 per distinct key of `window`: how many training samples carry it."""
        if window not in self._counts:
            _, uniq, inverse = self._window(window)
            self._counts[window] = np.bincount(inverse, minlength=uniq.shape[0])
        return self._counts[window]

    def s_out(self, layer: int, pos: int) -> int:
        """From the RAM's answer per distinct key of its window (no pass over every sample's cell)."""
        if layer == 0:
            window = int(self.slot_window[self.slot_of(pos)[1]])
            bits = self._bits(pos, window)
            if bits is not None:
                return 2 * int(np.dot(self._key_counts(window), bits)) - len(self.train)
        return super().s_out(layer, pos)

    def _bits(self, pos: int, window: int, neuron=None) -> np.ndarray | None:
        """uint8 per distinct key of `window`: what RAM `pos` (or `neuron`) answers — its filter on
        the key, or, for a RAM with a premodulo step (``Phonemizer(capacity="on")``), its own
        evaluation (hash step, then filter); None off the fast path (then only the trace knows)."""
        h = self.net.neuron(0, pos) if neuron is None else neuron
        if not (self.fast and self._shape_ok) or h.bits != 1:
            return None
        _, uniq, _ = self._window(window)
        if h.program:
            return h.forward(uniq).astype(np.uint8)
        out = np.empty(uniq.shape[0], dtype=np.uint8)
        filter_lookup_into(h.filter, uniq, out)
        return out

    # -- the group counts of the windows before a window ------------------------------------
    def _prefix_counts(self) -> np.ndarray:
        """int16 (samples, windows + 1, groups): per sample and group, the first-layer votes of the
        windows before w. Built from the trace once; `apply` moves it as RAMs change."""
        if self._prefix is None or not (self.fast and self._shape_ok):
            self._prefix = np.zeros((len(self.train), self.n_windows + 1, self.groups), dtype=np.int16)
            threads_for(len(self.train))
            KG.prefix_counts_into(self.trace.cells, self.slot_window, self.groups, self.slots, self._prefix)
            self._unresolved = {}
        return self._prefix

    def _unresolved_before(self, window: int) -> np.ndarray:
        """uint8 per sample: unresolved by the slots whose window comes before `window`."""
        prefix = self._prefix_counts()
        if window not in self._unresolved:
            out = np.empty(len(self.train), dtype=np.uint8)
            threads_for(len(self.train))
            KG.unresolved_into(prefix[:, window, :], self.train.y, self.margin, out)
            self._unresolved[window] = out
        return self._unresolved[window]

    # -- the credit ------------------------------------------------------------------------
    def batchable(self, layer: int) -> bool:
        """Never: a RAM's margin credit reads the votes of every RAM of earlier windows, so the
        RAMs of a layer cannot be rebuilt against one trace and put in place together."""
        return False

    def tally(self, layer: int, pos: int) -> Tally:
        if layer != 0:
            return super().tally(layer, pos)
        group, slot = self.slot_of(pos)
        window = int(self.slot_window[slot])
        unresolved = self._unresolved_before(window)
        n = len(self.train)
        a, b = LEVEL_WEIGHTS[self.slot_level[slot]]
        w_pos, w_neg = a * (n + 1), max(1, b * (n + 1))
        bits = self._bits(pos, window)
        if bits is None:
            keys_col, cells_col = self.trace.keys[:, pos], self.trace.cells[:, pos]
        else:
            keys_col, _, inverse = self._window(window)
            cells_col = bits[inverse]
        x_in, votes = np.empty(n, np.uint32), np.empty(n, np.int32)
        improving, current = np.empty(n, np.bool_), np.empty(n, np.uint8)
        threads_for(n)
        S, cast, n_improving = KG.margin_votes(unresolved, self.train.y, keys_col, cells_col, group, w_pos, w_neg,
                                               x_in, votes, improving, current)
        return Tally(layer, pos, x_in, votes, improving, current, None, (S, cast, n_improving))

    def build(self, t: Tally, salt: int, premodulo: int, threshold: int = 1):
        """A RAM with no premodulo: the same map, so the same filter, as `train.update.build_neuron`,
        from per-key vote sums over the window's distinct keys instead of a sort of all samples."""
        if t.layer != 0 or premodulo != 0 or threshold != 1 or self.accept.keep_unvoted:
            return super().build(t, salt, premodulo, threshold)
        _, keys, inverse = self._window(int(self.slot_window[self.slot_of(t.pos)[1]]))
        sums = np.bincount(inverse, weights=t.votes, minlength=keys.shape[0])  # exact: |sums| < 2^53
        voted = sums != 0
        filt = filter_make(keys[voted], (sums[voted] > 0).astype(np.uint8))
        return Hashtron(program=[], filter=filt), int(voted.sum())

    def apply(self, layer: int, pos: int, new) -> None:
        """Put a rebuilt RAM in place and refresh only the samples whose bit flips (the distinct
        keys say which); the kept group counts move with them."""
        group, slot = self.slot_of(pos)
        window = int(self.slot_window[slot]) if layer == 0 else -1
        old = self._bits(pos, window) if layer == 0 else None
        fresh = self._bits(pos, window, new) if old is not None else None
        if fresh is None:
            super().apply(layer, pos, new)
            if layer == 0:
                self._prefix = None  # recounted from the trace when next needed
            return
        self.net.set_neuron(layer, pos, new)
        flips = old != fresh
        if not flips.any():
            return
        _, _, inverse = self._window(window)
        rows = np.flatnonzero(flips[inverse])
        bits = fresh[inverse[rows]]
        t = self.trace
        threads_for(rows.shape[0])
        KG.refresh_rows(rows, pos, bits, t.keys, t.cells, t.counts, t.out, *self.net.pack().args())
        if self._prefix is not None:
            threads_for(rows.shape[0])
            KG.move_prefix(rows, bits, window, group, self._prefix)
            for w in [w for w in self._unresolved if w > window]:  # the counts before later windows moved
                del self._unresolved[w]

    def load_state(self, st: dict) -> None:
        super().load_state(st)
        self._prefix = None


@dataclass(frozen=True)
class SlotOrderConfig:
    """SlotOrder's settings, as a run's identity records a selector's (`BackwardPipeline.settings`)."""
    rule: str = "slot_order"
    groups: int = 0
    slots: int = 0


class SlotOrder:
    """The backward pipeline's selection for this network: layer 1 slot by slot (all groups of
    slot 0, then of slot 1, …), other layers in position order. Duck-types `train.selection.Selector`."""

    reason = "slot_order"

    def __init__(self, groups: int, slots: int):
        self.groups, self.slots = int(groups), int(slots)
        self.cfg = SlotOrderConfig(self.reason, self.groups, self.slots)

    def order(self, layer: int, width: int) -> list[int]:
        if layer == 0 and width == self.groups * self.slots:
            return [g * self.slots + k for k in range(self.slots) for g in range(self.groups)]
        return list(range(width))

    def visit(self, cache, layer: int, width: int, N: int) -> "_Picker":
        return _Picker(self.order(layer, width), self.reason)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state) -> None:
        pass


class _Picker:
    def __init__(self, order: list[int], reason: str):
        self.order, self.reason, self.i = order, reason, 0

    def pick(self, rng, exclude: set[int]) -> tuple[int, str]:
        while self.order[self.i] in exclude:
            self.i += 1
        return self.order[self.i], self.reason
