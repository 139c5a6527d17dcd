"""The context keys against a plain reference of the hash chain."""
from __future__ import annotations

import numpy as np

from hashtron_lab.hashing import hash32
from hashtron_lab.g2p.letters import ClassTable, Letters, context_keys, default_windows, fold_word


def _key(word, i, l, r, j):
    h = j + 1
    for p in range(i - l, i + r + 1):
        c = ord(word[p]) if 0 <= p < len(word) else 0
        h = int(hash32(h, c, 0xFFFFFFFF))
    return h & 0xFFFFFFFE


def test_context_keys_match_the_reference_and_are_even():
    words = ["aachen", "ž", "xylofon"]
    wins = default_windows(2, 3)
    keys = context_keys(Letters.of(words), wins)
    ref = [[_key(w, i, l, r, j) for j, (l, r) in enumerate(wins)] for w in words for i in range(len(w))]
    assert keys.tolist() == ref
    assert not np.any(keys & 1)


def test_windows_come_shortest_first():
    w = default_windows(1, 2)
    assert w[0] == (0, 0) and sorted(w, key=lambda t: t[0] + t[1]) == w and len(w) == 6


def test_class_table_ranks_by_frequency_and_decodes():
    t = ClassTable.fit(["aab", "ab"], [["a", "", "b"], ["ə", "b"]], max_ranks=4, coverage=1.0)
    assert t.classes["a"] == ["", "a", "ə"]  # ties by name: "" < "a" < "ə"
    assert t.ranks == 3
    ranks = t.encode(["ab"], [["ə", "b"]])
    assert ranks.tolist() == [2, 0]
    assert t.decode(["ab", "z"], np.array([2, 0, 1])) == [["ə", "b"], [""]]
    assert fold_word("ǎžb", {"a", "b", "z"}) == "azb"
