"""Compile (or load from the cache) the kernels a run will call, before its clock starts (D42).

numba compiles a kernel on its first call. Left to the first neuron update, that compile (~20 s
cold for a run's kernels, seconds to load even when cached) would be charged to the run's wall
time and would skew comparisons between runs. So a run asks for the kernel *groups* it uses —
`run_kernel_groups` from its network and tally mode, `kernel_groups()` from its pipeline — and
`warm_kernels` calls each group's kernels once on a toy network with the argument types the
runs use. Only those: a run that never runs the flip test (the n-tuple networks) never compiles
it. A cold compile longer than `NOTICE_AFTER` seconds says so on stderr while it runs.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Iterable

import numpy as np

GROUPS = ("network", "output", "flip", "local", "backward", "ranking", "pairs", "support", "g2p")
NOTICE_AFTER = 2.0  # seconds of warming before a line says numba is compiling

_done: set[str] = set()
_running: set[str] = set()  # groups being warmed (a warmer that trains a toy model asks again)
stats = {"seconds": 0.0}  # time spent warming in this process (reported beside, never inside, run times)


def _toy():
    from ..model.architecture import Architecture
    from ..model.network import Network

    arch = Architecture.from_spec({"layers": [{"type": "hashtron", "neurons": 2},
                                              {"type": "full", "size": 2, "bits": 1, "maxbits": 1},
                                              {"type": "hashtron", "neurons": 1}]})
    net = Network.untrained(arch, np.random.default_rng(0))
    X = np.arange(8, dtype=np.uint32).reshape(4, 2)
    return net, X, net.trace(X), np.array([0, 1, 1, 0], np.uint32)


def _warm_network() -> None:
    from .run import Split
    from .tally import Tally
    from .update import build_neuron, replace_neuron
    from ..model.output_code import OutputCode

    net, X, trace, targets = _toy()
    n = X.shape[0]
    t = Tally(0, 0, trace.keys[:, 0].copy(), np.array([1, -1, 0, 1], np.int32), np.zeros(n, np.bool_),
              trace.cells[:, 0].copy(), None, (1, 3, 0))
    new, n_keys = build_neuron(t, 1, 4)
    replace_neuron(net, trace, 0, 0, new, n_keys).undo(net, trace)
    split, code = Split(X, np.array([0, 1, 1, 0])), OutputCode("modulo", 2, 1)
    split.count_correct(trace.out, code)         # acceptance's count
    split.predict_from_outputs(trace.out, code)  # validation's decoding


def _warm_tally(layer: int | None, mode: str = "flip") -> None:
    from .tally import tally
    from .update import build_neuron

    net, X, trace, targets = _toy()
    layer = net.architecture.n_layers - 1 if layer is None else layer
    t = tally(net, trace, targets, layer, 0, mode=mode)
    if t.flipped is not None:
        t.outputs_after(build_neuron(t, 1, 4)[0], trace.out)  # judging a rebuild from the flip test's outputs


def _warm_backward() -> None:
    from .capacity import CapacityController
    from .gold_zone import GoldZone
    from .sum_cache import SumCache
    from .throttle import Throttle

    CapacityController({}, Throttle()).decision_fields(0, 0, 4, [(1, 0)], 0, 2)
    SumCache().add(0, 0, 0, 1, 4, 0, 4, GoldZone().regime(1, 4), 0.0, True, 0.0)


def _warm_ranking() -> None:
    from .selection import Selector
    from .sum_cache import SumCache

    cache = SumCache()
    cache.add(0, 0, 0, 1, 4, 0, 4, "noisy", 0.0, True, 0.0)
    Selector().visit(cache, 0, 1, 4).pick(np.random.default_rng(0), set())


def _warm_support() -> None:
    from .tally import tally

    net, X, trace, targets = _toy()
    tally(net, trace, targets, 0, 0, mode="local").support()  # the support law's key counts


def _warm_pairs() -> None:
    from .update import pair_update

    net, X, trace, targets = _toy()
    ups = pair_update(net, trace, targets, 0, 0, 1, (1, 2), 4)
    if ups is not None:
        ups[1].undo(net, trace)
        ups[0].undo(net, trace)


def _warm_g2p() -> None:
    """The phonemizer's kernels (kernels/g2p.py: context keys, margin credit, row refresh, prediction,
    edit distance), on a toy lexicon trained by both pipelines: the argument types its runs use."""
    from ..g2p.phonemizer import Phonemizer

    words, prons = ["ab", "ba", "abc", "cab", "bca"], ["a b", "b a", "a b k", "k a b", "b k a"]
    for direction in ("backward", "forward"):
        ph = Phonemizer(language="warm", max_left=1, max_right=1, direction=direction).fit(words, prons)
        ph.evaluate(words, prons)


WARMERS = {
    "network": _warm_network,                        # trace, refresh, rebuild, decode
    "output": lambda: _warm_tally(None),              # a direct output layer's tally
    "flip": lambda: _warm_tally(0),                   # the flip test of a hidden neuron
    "local": lambda: _warm_tally(0, mode="local"),    # local credit
    "backward": _warm_backward,                       # the premodulo decision, the sum cache
    "ranking": _warm_ranking,                         # the gold-zone ranking
    "pairs": _warm_pairs,                             # forward's two-at-a-time updates
    "support": _warm_support,                         # the support capacity law's key counts
    "g2p": _warm_g2p,                                 # the phonemizer (hashtron_lab/g2p)
}


def run_kernel_groups(net, tally_mode: str = "flip") -> set[str]:
    """The kernel groups a run of `net` with tally mode `tally_mode` calls (pipelines add theirs)."""
    from .tally import _local_rule

    arch = net.architecture
    last = arch.n_layers - 1
    groups = {"network", "output" if arch.output_is_direct else "flip"}
    for layer in range(last):
        if tally_mode != "local":
            groups.add("flip")
            break
        for pos in range(arch.widths[layer]):
            groups.add("flip" if _local_rule(net, layer, pos) is None else "local")
            if {"flip", "local"} <= groups:
                break
    return groups


def warm_kernels(groups: Iterable[str] = GROUPS) -> float:
    """Load or compile the kernels of `groups` once per process; returns the seconds it took."""
    groups = set(groups)
    unknown = groups - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown kernel groups {sorted(unknown)}; valid: {list(GROUPS)}")
    todo = [g for g in GROUPS if g in groups and g not in _done and g not in _running]
    if not todo:
        return 0.0
    start = time.perf_counter()
    shown = threading.Event()

    def notice():
        from ..kernels import CACHE_DIR

        shown.set()
        print(f"hashtron-lab: compiling numba kernels ({', '.join(todo)}): first use of these kernel sources "
              f"on this machine, ~20 s on 2 cores; cached in {CACHE_DIR}", file=sys.stderr, flush=True)

    timer = threading.Timer(NOTICE_AFTER, notice)
    timer.daemon = True
    timer.start()
    try:
        for g in todo:
            _running.add(g)
            try:
                WARMERS[g]()
            finally:
                _running.discard(g)
            _done.add(g)
    finally:
        timer.cancel()
    took = time.perf_counter() - start
    stats["seconds"] += took
    if shown.is_set():
        print(f"hashtron-lab: kernels ready in {took:.1f} s (not counted in any run's time)", file=sys.stderr,
              flush=True)
    return took
