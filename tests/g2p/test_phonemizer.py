"""The Phonemizer: learns, predicts from the word alone, round-trips through its file, refuses bad input."""
from __future__ import annotations

import numpy as np
import pytest
import toy

from hashtron_lab import Phonemizer, PhonemizerFileError
from hashtron_lab.data import lexicon as LX
from hashtron_lab.g2p.baselines import MostFrequent
from hashtron_lab.g2p.credit import LetterRun
from hashtron_lab.g2p.evaluate import score_part
from hashtron_lab.model.files import ModelFileError, save_model


def test_learns_the_toy_rules_better_than_the_letter_table(toy_data, toy_model):
    d = toy_data
    ours = toy_model.evaluate(d.test.words, d.test.prons, d.test.labels)
    tw, tl = d.train.aligned()
    table = score_part(MostFrequent().fit(tw, tl).predict_labels(d.test.words), d.test)
    assert ours["word_accuracy"] >= 0.75 and ours["word_accuracy"] > table["word_accuracy"] + 0.05
    assert ours["letter_accuracy"] > 0.95 and ours["per"] < table["per"]
    assert toy_model.fit_info_["train_accuracy"] > 0.99
    assert toy_model.score(d.test.words, d.test.prons) == ours["word_accuracy"]


def test_predicts_phonemes_from_the_word_alone(toy_data, toy_model, monkeypatch):
    """No alignment, no gold chunk at prediction: every aligner is made to fail, and the answer
    is the same; the toy's context rules show in the output."""
    before = toy_model.predict(toy_data.test.words)

    def boom(*a, **k):
        raise AssertionError("prediction must not align anything")

    for name in ("letter_labels", "labels_from_alignment", "em_alignments", "check_alignment", "parse_alignment"):
        monkeypatch.setattr(LX, name, boom)
    assert toy_model.predict(toy_data.test.words) == before
    assert toy_model.predict(["ca", "ce"]) == [["k", "a"], ["s"]]  # c before e says s; a final e is silent


def test_predict_output_shapes_and_strings(toy_model):
    out = toy_model.predict(["Ax", "  ba  "])  # upper case and outer spaces are normalised away
    assert out == toy_model.predict(["ax", "ba"])
    assert all(isinstance(p, str) for seq in out for p in seq)
    assert toy_model.predict([]) == []


def test_unseen_characters_fold_to_their_base_letter_or_stay_silent(toy_model):
    assert toy_model.predict(["bǎ"]) == toy_model.predict(["ba"])  # ǎ -> a (a was seen)
    assert toy_model.unknown_characters(["bǎжa"]) == ["ж"]
    assert toy_model.predict(["bжa"]) == toy_model.predict(["ba"])  # ж writes nothing


@pytest.mark.parametrize("words, err, match", [
    (["ab", ""], ValueError, "word 1 is empty"),
    (["a b"], ValueError, "whitespace"),
    ("ab", TypeError, "list of words"),
    ([3], TypeError, "not a string"),
])
def test_bad_words_are_refused_with_the_reason(toy_model, words, err, match):
    with pytest.raises(err, match=match):
        toy_model.predict(words)


def test_fit_refuses_mismatched_or_empty_input():
    with pytest.raises(ValueError, match="2 words but 1 pronunciations"):
        Phonemizer().fit(["ab", "ba"], ["a b"])
    with pytest.raises(ValueError, match="pronunciation 0 is empty"):
        Phonemizer().fit(["ab"], [""])
    with pytest.raises(ValueError, match="direction"):
        Phonemizer(direction="sideways").fit(["ab"], ["a b"])
    with pytest.raises(ValueError, match="levels"):
        Phonemizer(levels=("loud",)).fit(["ab"], ["a b"])
    with pytest.raises(ValueError, match=r"margin = -1 is out of range; allowed: an integer >= 0"):
        Phonemizer(margin=-1).fit(["ab"], ["a b"])
    with pytest.raises(ValueError, match=r"max_right = 2.5 is out of range"):
        Phonemizer(max_right=2.5).fit(["ab"], ["a b"])
    with pytest.raises(ValueError, match="not fitted"):
        Phonemizer().predict(["ab"])


def test_save_load_round_trip_gives_the_same_answers_and_bytes(toy_data, toy_model, tmp_path):
    path = toy_model.save(tmp_path / "toy.htl")
    again = Phonemizer.load(path, language="toy")
    assert again.predict(toy_data.test.words) == toy_model.predict(toy_data.test.words)
    again.save(tmp_path / "again.htl")
    assert (tmp_path / "again.htl").read_bytes() == path.read_bytes()


def test_load_refuses_another_language_another_model_or_a_damaged_file(toy_model, tmp_path):
    path = toy_model.save(tmp_path / "toy.htl")
    with pytest.raises(PhonemizerFileError, match="phonemizes language 'toy', not 'de'"):
        Phonemizer.load(path, language="de")
    save_model(toy_model.network_, tmp_path / "plain.htl", {"kind": "something else"})
    with pytest.raises(PhonemizerFileError, match="not a phonemizer"):
        Phonemizer.load(tmp_path / "plain.htl")
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    (tmp_path / "bad.htl").write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        Phonemizer.load(tmp_path / "bad.htl")


def test_same_seed_same_model_bytes(toy_data, tmp_path):
    d = toy_data
    paths = []
    for i in range(2):
        ph = Phonemizer(language="toy", max_left=1, max_right=1, seed=4).fit(
            d.train.words, d.train.prons, letter_labels=d.train.labels)
        paths.append(ph.save(tmp_path / f"m{i}.htl"))
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_the_backward_pipeline_trains_it_and_keeps_its_records(toy_model):
    h = toy_model.history_
    R = toy_model.table_.ranks
    K = len(toy_model.windows_) * len(toy_model.levels_)
    assert h[0]["phase"] == "bootstrap" and h[0]["layer"] == 1  # the output layer first
    rams = [r["neuron"] for r in h if r["layer"] == 0]
    assert rams == [g * K + k for k in range(K) for g in range(R)]  # slot by slot, every group of a slot
    assert h[-1]["layer"] == 1  # and the output layer again
    assert len(toy_model.sum_cache_) == len(h) and len(toy_model.decisions_) == len(h)
    assert {d["regime"] for d in toy_model.decisions_} <= {"collapsed", "noisy", "gold", "unknown"}


def test_the_forward_pipeline_trains_it_too(toy_data):
    d = toy_data
    ph = Phonemizer(language="toy", max_left=1, max_right=1, direction="forward").fit(
        d.train.words, d.train.prons, letter_labels=d.train.labels)
    assert ph.pipeline_ == "forward" and ph.sum_cache_ is None
    assert ph.score(d.test.words, d.test.prons) > 0.3


def test_aligns_by_itself_when_given_no_alignment(toy_data):
    d = toy_data
    ph = Phonemizer(language="toy", max_left=1, max_right=1).fit(d.train.words, [" ".join(p) for p in d.train.prons])
    assert ph.fit_info_["alignment"]["by_em"] > 0.9 * len(d.train.words)
    assert ph.score(d.test.words, d.test.prons) > 0.6


def test_margin_credit_against_a_plain_reference(toy_data):
    """The credit of one RAM, checked against the rule written out in numpy."""
    ph = Phonemizer(language="toy", max_left=1, max_right=1)
    words, labels = toy_data.train.aligned()
    from hashtron_lab.g2p.letters import ClassTable, default_windows
    from hashtron_lab.train.run import Split

    ph.windows_, ph.levels_ = default_windows(1, 1), ["any", "majority"]
    ph.table_ = ClassTable.fit(words, labels)
    split = Split(ph._features(words), ph.table_.encode(words, labels))
    R, K = ph.table_.ranks, len(ph.windows_) * 2
    net = ph._untrained(ph._architecture())
    rng = np.random.default_rng(0)
    run = LetterRun(net, split, None, R, {"budget": {"max_updates": 1}}, groups=R,
                    slot_window=np.repeat(np.arange(len(ph.windows_)), 2),
                    slot_level=ph.levels_ * len(ph.windows_), margin=1)
    run.trace.cells[:, :R * K] = rng.integers(0, 2, size=(len(split), R * K), dtype=np.uint8)  # some votes
    slot, group = 5, 1  # window 2's "majority" slot
    t = run.tally(0, group * K + slot)
    counts = run.trace.cells[:, :R * K].reshape(-1, R, K)[:, :, :4].sum(axis=2).astype(int)  # windows 0, 1
    y = split.y
    lead = np.array([counts[s, y[s]] - max(np.delete(counts[s], y[s])) if y[s] < R else -99
                     for s in range(len(y))])
    unresolved = (y < R) & (lead <= 1)
    n = len(y)
    want = np.where(unresolved, np.where(y == group, n + 1, -(n + 1)), -1)
    assert np.array_equal(t.votes, want)
    assert np.array_equal(t.x_in, split.X[:, group * K + slot])


def test_the_ram_build_shortcut_gives_the_reference_filter(toy_data):
    """LetterRun.build (per-window key sums) == train.update.build_neuron (a sort per RAM), bit for bit."""
    from hashtron_lab.train.update import build_neuron

    d = toy_data
    ph = Phonemizer(language="toy", max_left=1, max_right=1).fit(d.train.words, d.train.prons,
                                                                letter_labels=d.train.labels)
    words, labels = d.train.aligned()
    from hashtron_lab.train.run import Split

    split = Split(ph._features(words), ph.table_.encode(words, labels))
    R, K = ph.table_.ranks, len(ph.windows_) * len(ph.levels_)
    slot_window, slot_level = ph._slots()
    run = LetterRun(ph.network_.copy(), split, None, R, {"budget": {"max_updates": 1}}, groups=R,
                    slot_window=slot_window, slot_level=slot_level, margin=ph.margin)
    for pos in (0, K + 3, (R - 1) * K + K - 1):
        t = run.tally(0, pos)
        fast, n_fast = run.build(t, 7, 0)
        ref, n_ref = build_neuron(t, 7, 0)
        assert n_fast == n_ref and np.array_equal(fast.filter, ref.filter) and fast.program == ref.program


@pytest.mark.parametrize("knobs", [{}, {"capacity": "on", "load_factor": 0.5}], ids=["exact", "premodulo"])
@pytest.mark.parametrize("direction", ["backward", "forward"])
def test_the_fast_paths_train_the_same_network_as_the_generic_ones(toy_data, monkeypatch, direction, knobs):
    """LetterRun.fast (distinct-key lookups — for a RAM with a premodulo step, its own evaluation —
    refreshing only flipped samples, kept group counts) against the generic tally columns,
    refresh and recounts: same updates, same model bytes, and the run's trace equals a fresh
    trace of the final network. S_out (from the distinct keys on the fast path) equals the count
    over every sample's cell."""
    import hashtron_lab.g2p.phonemizer as P

    d = toy_data
    runs = []
    real = P.drive
    monkeypatch.setattr(P, "drive", lambda run, pipe: runs.append(run) or real(run, pipe))
    models = []
    for fast in (True, False):
        monkeypatch.setattr(LetterRun, "fast", fast)
        ph = Phonemizer(language="toy", max_left=1, max_right=2, direction=direction, seed=2, **knobs).fit(
            d.train.words, d.train.prons, letter_labels=d.train.labels)
        models.append(ph)
    a, b = models
    assert any(h.program for h in a.network_.neurons[0]) == bool(knobs)  # premodulo RAMs carry a hash step
    assert [(r["neuron_id"], r["S"], r["keys"], r["accepted"], r["S_out"]) for r in a.history_] == \
        [(r["neuron_id"], r["S"], r["keys"], r["accepted"], r["S_out"]) for r in b.history_]
    assert a.network_ == b.network_
    fresh = runs[0].net.trace(runs[0].train.X)
    for name in ("keys", "cells", "counts", "out"):
        assert np.array_equal(getattr(runs[0].trace, name), getattr(fresh, name)), name


def test_prediction_from_window_keys_equals_the_network_forward(toy_data, toy_model):
    from hashtron_lab.g2p.letters import fold_word

    words = toy_data.test.words + ["x", "quiche", "cžb"]
    folded = [fold_word(w, toy_model.table_.alphabet) for w in words]
    fast = toy_model._outputs(folded)
    slow = toy_model.network_.forward(toy_model._features(folded))
    assert np.array_equal(fast, slow)
