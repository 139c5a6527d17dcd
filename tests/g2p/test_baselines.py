"""Baselines and metrics against cases computed by hand."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from hashtron_lab.g2p import baselines as B
from hashtron_lab.g2p.metrics import edit_distances, letter_accuracy, word_scores

WORDS = ["cat", "cab", "cot", "tac"]
LABELS = [["k", "a", "t"], ["k", "a", "b"], ["k", "ɔ", "t"], ["t", "a", "k"]]


def test_most_frequent_table():
    m = B.MostFrequent().fit(WORDS, LABELS)
    assert m.table_ == {"c": "k", "a": "a", "t": "t", "b": "b", "o": "ɔ"}
    assert m.predict_labels(["tab", "ox"]) == [["t", "a", "b"], ["ɔ", ""]]  # x never seen: silent
    assert m.model_bytes() > 0


def test_backoff_takes_the_longest_window_seen():
    words = ["aca", "acb", "xcx"]
    labels = [["a", "s", "a"], ["a", "k", "b"], ["ks", "k", "ks"]]
    m = B.Backoff(window=1).fit(words, labels)
    # "c" alone: k 2, s 1 -> k; "aca" (±1) seen -> s; "ucb": ±1 unseen -> the letter -> k
    assert m.predict_labels(["aca"])[0][1] == "s"
    assert m.predict_labels(["ucb"])[0][1] == "k"
    # a tie is broken by name: "c" with one k and one s -> "k" < "s"
    t = B.Backoff(window=0).fit(["c", "c"], [["s"], ["k"]])
    assert t.predict_labels(["c"]) == [["k"]]


def test_decision_tree_learns_a_context_rule():
    words = ["ce", "ca", "ci", "co", "cu", "ace", "aca"]
    labels = [["s", "e"], ["k", "a"], ["s", "i"], ["k", "o"], ["k", "u"], ["a", "s", "e"], ["a", "k", "a"]]
    m = B.DecisionTree(window=1).fit(words, labels)
    assert m.predict_labels(["ce", "ca", "aci"]) == [["s", "e"], ["k", "a"], ["a", "s", "i"]]


needs_crf = pytest.mark.skipif(importlib.util.find_spec("pycrfsuite") is None,
                               reason='python-crfsuite missing: pip install -e ".[lexicons]"')


@needs_crf
def test_crf_with_gruut_features_learns_a_context_rule():
    words = ["ce", "ca", "ci", "co", "cu", "ace", "aca"] * 3
    labels = [["s", "e"], ["k", "a"], ["s", "i"], ["k", "o"], ["k", "u"], ["a", "s", "e"], ["a", "k", "a"]] * 3
    m = B.CRF().fit(words, labels)
    assert m.predict_labels(["ce", "ca"]) == [["s", "e"], ["k", "a"]]
    assert m.model_bytes() > 0


def test_gruut_features_mirror_gruut():
    f = B.gruut_features("ab")
    assert f[0] == {"bias": 1.0, "grapheme": "YQ==", "begin": True, "grapheme+1": "Yg=="}
    assert f[1] == {"bias": 1.0, "grapheme": "Yg==", "grapheme-1": "YQ==", "end": True}


def test_unknown_baseline_is_refused():
    with pytest.raises(ValueError, match="unknown baseline"):
        B.make_baseline("oracle")


def _lev(a, b):
    d = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(b) + 1):
            cur = d[j]
            d[j] = min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
            prev = cur
    return d[len(b)]


def test_edit_distance_against_a_plain_reference():
    rng = np.random.default_rng(0)
    inv = ["a", "b", "ʃ", "aː", "t͡s"]
    a = [[inv[i] for i in rng.integers(0, 5, rng.integers(0, 7))] for _ in range(200)]
    b = [[inv[i] for i in rng.integers(0, 5, rng.integers(0, 7))] for _ in range(200)]
    assert edit_distances(a, b).tolist() == [_lev(x, y) for x, y in zip(a, b)]


def test_word_scores_and_letter_accuracy_by_hand():
    pred = [["a", "b"], ["k", "a", "t"], ["d", "o"]]
    gold = [["a", "b"], ["k", "æ", "t"], ["d", "o", "g"]]
    s = word_scores(pred, gold)
    assert s["word_accuracy"] == pytest.approx(1 / 3)
    assert s["per"] == pytest.approx(2 / 8)  # one substitution + one deletion over 8 phonemes
    assert letter_accuracy([["a", ""], ["x"]], [["a", "b"], None]) == 0.5  # an unaligned word is left out
