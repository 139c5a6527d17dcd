"""The lexicon loader, the word split and the letter alignment (data/lexicon.py, g2p/data.py)."""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest
import toy

from hashtron_lab.data import lexicon as LX
from hashtron_lab.data.errors import DatasetError


def test_reads_a_small_lexicon_with_its_alignments(toy_lexicon, toy_words):
    lex = LX.read_lexicon(toy_lexicon, "toy")
    assert lex.words == toy_words  # file order
    assert lex.prons == toy.prons(toy_words)
    assert all(a == toy.alignment_string(w) for w, a in zip(lex.words, lex.alignments))
    assert sum(lex.skipped.values()) == 0


def test_malformed_rows_are_skipped_counted_and_reported(tmp_path):
    rows = [("", 0, "a"), ("   ", 0, "a"), ("two words", 0, "t w"), ("abc", 0, ""), ("abd", 0, "   "),
            (None, 0, "x"), ("abe", 0, None), ("Ab", 0, "a b")]  # "Ab" repeats "ab" in another spelling
    path = toy.write_lexicon(tmp_path / "lexicon.db", ["ab", "bad"], extra_rows=rows)
    lex = LX.read_lexicon(path)
    assert lex.words == ["ab", "bad"]
    assert lex.skipped == {"not_text": 2, "empty_word": 2, "space_in_word": 1, "empty_pronunciation": 2,
                           "duplicate_word": 1}
    assert lex.summary()["skipped"] == lex.skipped


def test_first_pronunciation_is_the_lowest_pron_order(tmp_path):
    path = toy.write_lexicon(tmp_path / "lexicon.db", ["ab"], extra_rows=[("ba", 2, "x y"), ("ba", 1, "b a")])
    lex = LX.read_lexicon(path)
    assert lex.prons[lex.words.index("ba")] == ["b", "a"]


def test_words_are_normalised_nfc_and_lower_case(tmp_path):
    decomposed = "A\u0301b"  # "Áb" as A + combining acute
    path = toy.write_lexicon(tmp_path / "lexicon.db", [], extra_rows=[(decomposed, 0, "a b")], alignments=False)
    assert LX.read_lexicon(path).words == ["\u00e1b"]


def test_not_a_lexicon_is_refused_with_the_fix(tmp_path):
    bad = tmp_path / "x.db"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(LX.LexiconError, match="not an SQLite lexicon"):
        LX.read_lexicon(bad)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("create table other (a)").connection.close()
    with pytest.raises(LX.LexiconError, match="no table word_phonemes"):
        LX.read_lexicon(empty)
    with pytest.raises(LX.LexiconError, match="does not exist"):
        LX.read_lexicon(tmp_path / "missing.db")


def test_a_language_not_installed_names_the_package_and_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name.startswith("gruut_lang") else real(name, *a))
    with pytest.raises(LX.LexiconError, match=r'pip install -e "\.\[lexicons\]".*gruut-lang-de'):
        LX.lexicon_path("de")
    with pytest.raises(LX.LexiconError, match="unknown lexicon language 'xx'"):
        LX.lexicon_path("xx")
    with pytest.raises(DatasetError, match="needs a language"):
        LX.check_dataset_config({"dataset": {"name": "lexicon"}, "language": None})


@pytest.mark.parametrize("n_words", [None, 500, 20000])
def test_split_is_by_word_seeded_and_80_10_10(n_words):
    total = 900
    tr, va, te = LX.split_words(total, n_words, seed=5)
    take = min(n_words or total, total)
    assert len(tr) + len(va) + len(te) == take
    assert set(tr).isdisjoint(va) and set(tr).isdisjoint(te) and set(va).isdisjoint(te)
    assert abs(len(va) - 0.1 * take) <= 1 and abs(len(te) - 0.1 * take) <= 1
    again = LX.split_words(total, n_words, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip((tr, va, te), again))
    other = LX.split_words(total, n_words, seed=6)
    assert not np.array_equal(tr, other[0])


def test_split_rejects_bad_sizes():
    with pytest.raises(DatasetError, match="n_words"):
        LX.split_words(10, 2, 0)
    with pytest.raises(DatasetError, match="n_words"):
        LX.split_words(10, True, 0)


def test_prepared_parts_hold_disjoint_words_with_all_their_letters(toy_data):
    d = toy_data
    parts = (d.train, d.val, d.test)
    seen = [set(p.words) for p in parts]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    for p in parts:
        for w, lab in zip(p.words, p.labels):
            assert lab is not None and len(lab) == len(w)  # every letter of a word is in its word's part


def test_alignment_labels_give_the_first_letter_of_a_chunk_its_phonemes():
    assert LX.labels_from_alignment("chixe", toy.alignment_string("chixe")) == ["ʃ", "", "i", "k s", ""]
    assert LX.check_alignment("ab", ["a", "b"], "a}a b}b") is None
    assert LX.check_alignment("ab", ["a", "p"], "a}a b}b") == "alignment_mismatch"
    assert LX.check_alignment("ab", ["a", "b"], "a-a b}b") == "alignment_malformed"


def test_em_aligns_words_the_lexicon_does_not(toy_words):
    ws = toy_words[:400]
    labels, counts = LX.letter_labels(ws, toy.prons(ws), [None] * len(ws), "lexicon")
    assert counts["by_em"] + counts["unaligned"] == len(ws) and counts["by_lexicon"] == 0
    gold = [LX.labels_from_alignment(w, toy.alignment_string(w)) for w in ws]
    right = sum(a == b for lab, g in zip(labels, gold) if lab for a, b in zip(lab, g))
    total = sum(len(g) for lab, g in zip(labels, gold) if lab)
    assert right / total > 0.9  # EM finds the toy rules' alignment for most letters
    for w, lab, p in zip(ws, labels, toy.prons(ws)):
        if lab is not None:
            assert [x for c in lab for x in c.split()] == p  # an alignment always spells the pronunciation
