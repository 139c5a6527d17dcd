"""Tally one neuron over a traced sample set: the votes, their key sums, and S / N."""
from __future__ import annotations

from dataclasses import InitVar, dataclass, field

import numpy as np

from ..kernels import tally as KT
from ..kernels.threads import threads_for
from ..model.hashtron import Hashtron
from ..model.network import Network, Trace


@dataclass
class Tally:
    """Per-sample votes for one neuron; key sums are computed per premodulo on demand."""

    layer: int
    pos: int
    x_in: np.ndarray       # uint32: the neuron's input for every sample (after the layer premodulo)
    votes: np.ndarray      # int32: signed vote weight per sample (0 = no vote)
    improving: np.ndarray  # bool: flipping this sample's bit would make its output better
    current: np.ndarray    # uint8: the neuron's bit for every sample before the update
    flipped: np.ndarray | None = None  # uint32: each sample's output with this bit flipped (flip tallies)
    counts: InitVar[tuple | None] = None  # (S, votes cast, improving) when the kernel that filled the arrays counted them

    S: int = field(init=False)            # sum of vote signs, in [-N, N]: |S| ~ N collapsed, ~ 0 noise
    votes_cast: int = field(init=False)   # samples with a vote
    n_improving: int = field(init=False)  # samples a flip would improve

    def __post_init__(self, counts):
        # every update reads all three: computed once here, in one kernel pass (unless given)
        S, cast, n_improving = KT.vote_counts(self.votes, self.improving) if counts is None else counts
        self.S, self.votes_cast, self.n_improving = int(S), int(cast), int(n_improving)

    @property
    def N(self) -> int:
        return int(self.votes.shape[0])

    def support(self) -> tuple[int, int, int]:
        """(distinct input keys, distinct keys with a vote for 1, votes for 1): the load the
        support capacity law sizes this neuron by (train/capacity.py)."""
        d, dp, n_pos = KT.support_stats(self.x_in, self.votes)
        return int(d), int(dp), int(n_pos)

    @property
    def margin(self) -> float:
        return abs(self.S) / self.N if self.N else 0.0

    def key_sums(self, salt: int, premodulo: int) -> tuple[np.ndarray, ...]:
        """(keys, vote sums, voting samples, keep sums, votes for 1) per key under the step
        `hash(x, salt, premodulo)`."""
        return KT.key_sums(self.x_in, self.votes, self.current, np.uint32(salt), np.uint32(premodulo))

    def outputs_after(self, new: Hashtron, out: np.ndarray) -> np.ndarray | None:
        """The network's outputs were this neuron replaced by `new` (exact; `out` = outputs now),
        or None when the tally did not run the flip test (local votes)."""
        if self.flipped is None:
            return None
        salts = np.array([p[0] for p in new.program], dtype=np.uint32)
        mods = np.array([p[1] for p in new.program], dtype=np.uint32)
        after = np.empty_like(out)
        KT.preview_outputs(self.x_in, self.current, self.flipped, out, salts, mods, new.filter, after)
        return after


TALLY_MODES = ("flip", "local")


def tally(net: Network, trace: Trace, targets: np.ndarray, layer: int, pos: int, mode: str = "flip",
          positive_weight: int = 1) -> Tally:
    """Votes of every sample for neuron `pos` of `layer`. `targets` = wanted output xor parity.

    mode "flip" (the reference, DESIGN §3): the flip test. mode "local" (our extension): a hidden
    neuron gets its credit locally, on every sample, instead of only where a flip changes the
    output — a neuron that can influence exactly one output bit b votes for bit b of the target,
    as an output neuron does; a neuron in group g of an `argmax` combiner votes 1 on the samples
    whose target is g and 0 on the others (WiSARD's discriminators: group g is class g's). Other
    hidden neurons keep the flip test. A vote for 1 weighs `positive_weight`: a group's samples
    are a minority, and a weight at least the sample count makes one of them enough to set a key
    (WiSARD's rule).
    """
    if mode not in TALLY_MODES:
        raise ValueError(f"tally mode must be one of {TALLY_MODES}, got {mode!r}")
    if positive_weight < 1:
        raise ValueError(f"the weight of a vote for 1 must be >= 1, got {positive_weight}")
    n = trace.out.shape[0]
    k = int(net.first[layer]) + pos
    if mode == "local" and layer < net.architecture.n_layers - 1:
        rule = _local_rule(net, layer, pos)
        if rule is not None:
            by_bit, value, groups = rule
            x_in, votes = np.empty(n, np.uint32), np.empty(n, np.int32)
            improving, current = np.empty(n, np.bool_), np.empty(n, np.uint8)
            S, cast, n_improving, top = KT.local_votes(trace.keys, trace.cells, k, np.asarray(targets, np.uint32),
                                                       by_bit, value, positive_weight, x_in, votes, improving,
                                                       current)
            if n and groups and top >= groups:
                raise ValueError(
                    f"local tally: layer {layer} feeds argmax over {groups} groups (group g is class g), but a "
                    f"target is {int(top)}. Fix: use output_code modulo without parity words, and "
                    f"one group per class")
            return Tally(layer, pos, x_in, votes, improving, current, None, (S, cast, n_improving))
    votes = np.zeros(n, dtype=np.int32)
    improving = np.zeros(n, dtype=np.bool_)
    flipped = np.empty(n, dtype=np.uint32)
    targets = np.ascontiguousarray(targets, dtype=np.uint32)
    counts = None
    if layer == net.architecture.n_layers - 1 and net.architecture.output_is_direct:
        counts = KT.output_votes(pos, k, targets, trace.cells, trace.out, votes, improving, flipped)
    else:
        _flip_test(net, trace, targets, layer, pos, votes, improving, flipped)
    return Tally(layer, pos, trace.keys[:, k].copy(), votes, improving, trace.cells[:, k].copy(), flipped, counts)


def _flip_test(net: Network, trace: Trace, targets: np.ndarray, layer: int, pos: int, votes: np.ndarray,
               improving: np.ndarray, flipped: np.ndarray) -> None:
    """The flip test of a hidden neuron, on the threads the thread policy gives it."""
    threads_for(trace.out.shape[0])
    KT.tally_neuron(layer, pos, targets, trace.keys, trace.cells, trace.out, votes, improving, flipped,
                    *net.pack().args(), KT.CHUNK)


def local_credit(net: Network, layer: int) -> bool:
    """Whether every neuron of hidden `layer` gets local credit under tally mode "local" (an argmax
    group, or a single output bit it can influence), so its tally never reads its neighbours."""
    comb = net.architecture.combiners[layer]
    if comb is not None and comb.kind == "argmax":
        return True
    return bool(np.all(net.influence()[layer].sum(axis=1) == 1))


def _local_rule(net: Network, layer: int, pos: int) -> tuple[bool, int, int] | None:
    """What hidden neuron `pos` of `layer` should answer under local credit, as (by bit, value,
    groups): 1 on the samples whose target is `value` (its argmax group, of `groups`), or with
    `by_bit`, 1 where bit `value` of the target is set (groups 0); None when its credit is not
    local (it reaches several output bits through other combiners)."""
    comb = net.architecture.combiners[layer]
    if comb is not None and comb.kind == "argmax":
        groups = int(comb.params["groups"])
        return False, pos // (net.architecture.widths[layer] // groups), groups
    bits = np.flatnonzero(net.influence()[layer][pos])
    if bits.shape[0] == 1:
        return True, int(bits[0]), 0
    return None
