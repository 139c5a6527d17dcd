"""Every row of docs/bad_inputs.md, run: the bad input, where it enters, and the exact message.

Each case feeds one bad input through the public entry point a user would use (Hydra
composition / params.yaml, the data loader, the estimators, the file readers, resume) and
checks (1) the error type, (2) a pattern naming the facts the message must give (key, value,
allowed range, file, sizes), and (3) that the message is word for word the one in
docs/bad_inputs.md. Paths are written ``$TMP`` / ``$PROJECT``, 16-hex config hashes ``$HASH``.

Regenerate the table after changing a message::

    python tests/test_bad_inputs.py        # rewrites docs/bad_inputs.md from these cases
"""
from __future__ import annotations

import io
import json
import re
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "bad_inputs.md"
sys.path.insert(0, str(Path(__file__).resolve().parent))


@dataclass
class Case:
    id: str
    where: str              # the entry point
    what: str               # the bad input, in words
    error: type
    facts: str              # regex the message must match (key, value, range, file, sizes...)
    run: Callable[[Path], object]
    also: str = ""          # a deeper test of the same behaviour
    volatile: str = ""      # regex of parts that vary with library versions (zlib sizes, pandas texts)


CASES: list[Case] = []


def case(id, where, what, error, facts, also="", volatile=""):
    def wrap(fn):
        CASES.append(Case(id, where, what, error, facts, fn, also, volatile))
        return fn
    return wrap


def normalize(msg: str, tmp: Path) -> str:
    msg = msg.replace(str(tmp), "$TMP").replace(str(ROOT), "$PROJECT")
    msg = re.sub(r"(?<![0-9a-f])[0-9a-f]{16}(?![0-9a-f])", "$HASH", msg)
    return " ".join(msg.split())


# -- helpers ------------------------------------------------------------------------------------
def compose(*overrides):
    from hashtron_lab import config_schema

    return config_schema.load_config(list(overrides))


def csv_load(tmp: Path, text: str, name: str = "data.csv", **cfg):
    import yaml

    from hashtron_lab.data import load_dataset

    p = tmp / name
    p.write_text(text, encoding="utf-8")
    base = yaml.safe_load((ROOT / "conf" / "dataset" / "csv.yaml").read_text())
    base.update(path=str(p), **cfg)
    return load_dataset(base, seed=0)


def rows(n: int, classes: int = 2) -> str:
    return "".join(f"{i},{i % classes}\n" for i in range(n))


def small_net(neurons: int = 3):
    from hashtron_lab.model.architecture import Architecture
    from hashtron_lab.model.network import Network

    return Network.untrained(Architecture.from_spec({"layers": [{"type": "hashtron", "neurons": neurons}]}),
                             np.random.default_rng(0))


def model_file(tmp: Path, data: bytes | None = None) -> Path:
    from hashtron_lab.model.files import dumps_model

    p = tmp / "model.htl"
    p.write_bytes(dumps_model(small_net()) if data is None else data)
    return p


def tiny_run(tmp: Path, seed: int = 0, budget: int = 3, **cfg):
    """A one-neuron is-alnum run with its checkpoint in <tmp>/run/checkpoint.npz."""
    from hashtron_lab.model.architecture import Architecture
    from hashtron_lab.model.network import Network
    from hashtron_lab.train.run import Run, Split

    b = np.arange(256)
    y = (((b >= 97) & (b <= 122)) | ((b >= 65) & (b <= 90)) | ((b >= 48) & (b <= 57))).astype(np.int64)
    split = Split(b[:, None].astype(np.uint32), y)
    arch = Architecture.from_spec({"layers": [{"type": "hashtron", "neurons": 1}]})
    cfg = {"seed": seed, "budget": {"max_updates": budget}, "checkpoint_path": str(tmp / "run" / "checkpoint.npz"),
           **cfg}
    return Run(Network.untrained(arch, np.random.default_rng(0)), split, split, 2, cfg)


def checkpointed(tmp: Path, pipeline="backward") -> Path:
    from hashtron_lab.train.backward import BackwardPipeline
    from hashtron_lab.train.forward import ForwardPipeline
    from hashtron_lab.train.run import drive

    drive(tiny_run(tmp), BackwardPipeline() if pipeline == "backward" else ForwardPipeline())
    return tmp / "run" / "checkpoint.npz"


def resume(tmp: Path, pipeline="backward", **cfg):
    from hashtron_lab.train.backward import BackwardPipeline
    from hashtron_lab.train.forward import ForwardPipeline
    from hashtron_lab.train.run import drive

    run = tiny_run(tmp, **cfg)
    return drive(run, BackwardPipeline() if pipeline == "backward" else ForwardPipeline(), resume=True)


def fit(X, y, **kw):
    from hashtron_lab.estimator import HashtronClassifier

    return HashtronClassifier(budget={"max_updates": 2}, **kw).fit(X, y)


XI = np.arange(40).reshape(20, 2) % 7
YI = np.arange(20) % 2


# -- configuration: Hydra composition, params.yaml --------------------------------------------
CFG = "config (`python -m hashtron_lab ...`, `params`, `dvc exp run -S`)"
CE = "ConfigError"


def _cfg_error():
    from hashtron_lab.config_schema import ConfigError

    return ConfigError


for _id, _over, _was, _facts in [
    ("cfg_misspelled_key", ["capacity.clamp_factr=3"], "", r"clamp_factr.*full_key: capacity\.clamp_factr"),
    ("cfg_unknown_top_key", ["+seeed=1"], "", r"seeed"),
    ("cfg_wrong_type", ["budget.max_updates=lots"], "", r"'lots'.*Integer.*full_key: budget\.max_updates"),
    ("cfg_negative_budget", ["budget.max_updates=-5"], "trained nothing, exit 0",
     r"budget\.max_updates: -5 is out of range; allowed: an integer >= 0"),
    ("cfg_no_end", ["budget.max_updates=null", "run.validation.patience=null"], "a run that never ends",
     r"budget: .*never ends the run"),
    ("cfg_negative_seed", ["seed=-1"], "a numpy error without the key",
     r"at seed: -1 is out of range; allowed: an integer in \[0, 4294967295\]"),
    ("cfg_negative_premodulo", ["pipeline=forward", "pipeline.premodulo=-3"], "OverflowError mid-run",
     r"pipeline\.premodulo: -3 is out of range; allowed: an integer in \[0, 4294967295\]"),
    ("cfg_negative_fixed_premodulo", ["capacity.fixed_premodulo=-1"], "accepted",
     r"capacity\.fixed_premodulo: -1 is out of range"),
    ("cfg_negative_eps", ["gold_zone.eps_factor=-1"], "accepted",
     r"gold_zone\.eps_factor: -1\.0 is out of range; allowed: a number >= 0"),
    ("cfg_negative_every_epochs", ["run.validation.every_epochs=-1"], "accepted",
     r"run\.validation\.every_epochs: -1 is out of range; allowed: an integer >= 0"),
    ("cfg_tiny_max_samples", ["dataset.max_samples=5"], "accepted",
     r"dataset\.max_samples = 5 is out of range; allowed: an integer >= 10"),
    ("cfg_empty_val_fraction", ["dataset.split.val=0", "dataset.split.train=0.8"], "an empty validation split",
     r"split\.val = 0 is out of range; allowed: a fraction in \(0, 1\)"),
    ("cfg_split_sum", ["dataset.split.train=0.5"], "", r"must sum to 1"),
    ("cfg_bad_choice", ["run.acceptance.rule=maybe"], "",
     r"run\.acceptance\.rule: 'maybe' is not a valid choice; allowed: one of"),
    ("cfg_throttle_window", ["capacity.throttle.window=1"], "",
     r"capacity\.throttle\.window: 1 is out of range; allowed: an integer >= 2"),
    ("cfg_clamp_factor", ["capacity.clamp_factor=1"], "",
     r"capacity\.clamp_factor: 1\.0 is out of range; allowed: a number > 1"),
    ("cfg_negative_main_seed", ["main.seeds=[0,-2]"], "accepted", r"main\.seeds\[1\]: -2 is out of range"),
    ("cfg_main_n_jobs", ["main.n_jobs=0"], "silently 1", r"main\.n_jobs: 0 is out of range; allowed: an integer >= 1"),
    ("cfg_main_backward_range", ["main.backward.neurons_per_layer=0"], "",
     r"main\.backward\.neurons_per_layer: 0 is out of range"),
    ("cfg_zero_neurons", ["model.layers.0.neurons=0"], "", r"neurons must be a positive integer, got 0"),
    ("cfg_unknown_dataset", ["dataset.name=imagenet"], "", r"dataset\.name: unknown dataset 'imagenet'; valid:"),
    ("cfg_pass_chain", ["main.passes.pass1.src=last"], "", r"main\.passes\.pass1\.src: 'last' is not an earlier pass"),
    ("cfg_init_from_missing", ["init_from=nowhere/w.zlib"], "", r"init_from: 'nowhere/w\.zlib' is not a file"),
]:
    case(_id, CFG, "`" + " ".join(_over) + "`" + (f" (was: {_was})" if _was else ""), Exception,
         _facts)(lambda tmp, o=_over: compose(*o))


@case("params_hand_edited", "params.yaml read by a `dvc repro` stage", "params.yaml edited by hand with a "
      "misspelled key (`budget.max_update: 10`)", Exception, r"budget\.max_update")
def _(tmp):
    import yaml

    from hashtron_lab.config_schema import read_params

    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data["budget"]["max_update"] = 10
    (tmp / "params.yaml").write_text(yaml.safe_dump(data))
    read_params(tmp / "params.yaml")


@case("params_missing", "params.yaml read by a `dvc repro` stage", "no params.yaml", Exception,
      r"params\.yaml does not exist; write it with `python -m hashtron_lab params`")
def _(tmp):
    from hashtron_lab.config_schema import read_params

    read_params(tmp / "params.yaml")


# -- data ----------------------------------------------------------------------------------------
DATA = "dataset loader (`dataset=csv dataset.path=...`)"


@case("csv_missing", DATA, "dataset.path names no file", Exception, r"does not exist.*Fix: set dataset\.path")
def _(tmp):
    from hashtron_lab.data import load_dataset
    import yaml

    base = yaml.safe_load((ROOT / "conf" / "dataset" / "csv.yaml").read_text())
    load_dataset({**base, "path": str(tmp / "nope.csv")}, seed=0)


@case("csv_malformed", DATA, "malformed CSV (unterminated quote)", Exception, r"cannot read csv file .*bad\.csv.*Fix",
      volatile=r"ParserError: .*?(?=\. Fix)")
def _(tmp):
    csv_load(tmp, 'a,label\n1,"unterminated\n2,x\n', "bad.csv")


@case("csv_not_utf8", DATA, "CSV in Latin-1 with bytes that are not UTF-8", Exception, r"cannot read csv file.*UTF-8",
      volatile=r"UnicodeDecodeError: .*?(?=\. Fix)")
def _(tmp):
    p = tmp / "latin1.csv"
    p.write_bytes("a,label\n1,\xe9\n".encode("latin-1") + b"\xff\xfe\n")
    from hashtron_lab.data import load_dataset
    import yaml

    base = yaml.safe_load((ROOT / "conf" / "dataset" / "csv.yaml").read_text())
    load_dataset({**base, "path": str(p)}, seed=0)


@case("csv_no_label_column", DATA, "no column named like dataset.label", Exception,
      r"has no label column 'label'; its columns are \['a', 'target'\]")
def _(tmp):
    csv_load(tmp, "a,target\n" + rows(20))


@case("csv_label_empty", DATA, "a row without a label", Exception, r"label column 'label' is empty at data row 2")
def _(tmp):
    csv_load(tmp, "a,label\n1,0\n3,\n" + rows(20))


@case("csv_nan_feature", DATA, "a missing feature value (NaN)", Exception, r"feature column 'a' is missing a value")
def _(tmp):
    csv_load(tmp, "a,label\n1,0\n,1\n" + rows(20))


@case("csv_text_feature", DATA, "text in a numeric feature column", Exception,
      r"holds the non-numeric value 'abc' at data row 2.*dataset\.categorical")
def _(tmp):
    csv_load(tmp, "a,label\n1,0\nabc,1\n" + rows(20))


@case("csv_header_only", DATA, "empty dataset (header row only)", Exception, r"has no data rows \(empty dataset\)")
def _(tmp):
    csv_load(tmp, "a,label\n")


@case("csv_single_class", DATA, "a single class", Exception, r"has a single class \('1'\) in its 20 samples")
def _(tmp):
    csv_load(tmp, "a,label\n" + "".join(f"{i},1\n" for i in range(20)))


@case("csv_too_many_classes", DATA, "label values beyond what the output bits express (9 classes, 3 bits)",
      Exception, r"has 9 classes but the network's 3 output bit\(s\) express only 8")
def _(tmp):
    from hashtron_lab.data import load_dataset
    import yaml

    p = tmp / "many.csv"
    p.write_text("a,label\n" + rows(90, 9))
    base = yaml.safe_load((ROOT / "conf" / "dataset" / "csv.yaml").read_text())
    load_dataset({**base, "path": str(p)}, seed=0, max_output_bits=3)


@case("split_leaves_val_empty", DATA, "a split that leaves validation empty (10 rows, val 1 %)", Exception,
      r"the split leaves val empty \(train 9, val 0, test 1 samples\)",
      "tests/data/test_data_errors.py::test_a_split_left_empty_is_refused_with_the_sizes")
def _(tmp):
    csv_load(tmp, "a,label\n" + rows(10), split={"train": 0.9, "val": 0.01, "test": 0.09, "stratify": False})


@case("split_class_not_in_train", DATA, "a class with samples in validation/test only", Exception,
      r"class\(es\) \['rare'\] have samples in validation/test but none in train \(train \d+, val \d+, test \d+",
      "tests/data/test_data_errors.py::test_a_class_absent_from_train_is_refused_with_the_sizes")
def _(tmp):
    from hashtron_lab.data import load_dataset
    import yaml

    p = tmp / "rare.csv"
    p.write_text("a,label\n" + "".join(f"{i},{'a' if i % 2 else 'b'}\n" for i in range(30)) + "99,rare\n")
    base = yaml.safe_load((ROOT / "conf" / "dataset" / "csv.yaml").read_text())
    for seed in range(40):  # unstratified: some seed puts the one 'rare' row outside train
        load_dataset({**base, "path": str(p), "split": {"stratify": False}}, seed=seed)
    raise AssertionError("no seed put the rare class outside train")


@case("dataset_empty_test_split", "experiment.run_experiment on a prepared/handmade Dataset", "a Dataset whose test "
      "split has 0 rows (was: test accuracy 0.0)", Exception, r"the split leaves test empty \(train 16, val 4, test 0")
def _(tmp):
    from hashtron_lab import experiment
    from hashtron_lab.data import Dataset

    X = np.arange(40, dtype=np.uint32).reshape(20, 2)
    y = np.arange(20) % 2
    experiment.as_data(Dataset("toy", X[:16], y[:16], X[16:], y[16:], X[:0], y[:0], None, None, None,
                               ["0", "1"], {}))


@case("prepared_damaged", "prepared dataset (`data/prepared`) read by a stage", "arrays.npz altered after "
      "`prepare`", Exception, r"arrays\.npz' is damaged: sha256 .* does not match.*dvc repro prepare",
      "tests/data/test_data_storage.py::test_damaged_or_missing_files")
def _(tmp):
    from hashtron_lab.data import Dataset, read_dataset, save_dataset

    X = np.arange(40, dtype=np.uint32).reshape(20, 2)
    y = np.arange(20) % 2
    save_dataset(Dataset("toy", X[:12], y[:12], X[12:16], y[12:16], X[16:], y[16:], None, None, None,
                         ["0", "1"], {"content_hash": ""}), tmp / "prepared")
    npz = tmp / "prepared" / "arrays.npz"
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    read_dataset(tmp / "prepared")


# -- estimators ----------------------------------------------------------------------------------
EST = "HashtronClassifier.fit / predict"
NT = "NTupleClassifier.fit"


@case("est_y_nan", EST, "y holding NaN (was: NaN became a class)", ValueError,
      r"y holds 1 missing label\(s\) \(NaN, inf or None; first at row 3\); a missing label is not a class")
def _(tmp):
    fit(XI, np.where(np.arange(20) == 3, np.nan, YI))


@case("est_y_none", EST, "y holding None", ValueError, r"y holds 1 missing label")
def _(tmp):
    fit(XI, np.array([None if i == 0 else "a" if i % 2 else "b" for i in range(20)], dtype=object))


@case("est_sparse_X", EST, "a scipy sparse matrix X", TypeError,
      r"sparse matrices are not supported; call \.toarray\(\)")
def _(tmp):
    from scipy.sparse import csr_matrix

    fit(csr_matrix(XI), YI)


@case("est_float_X", EST, "X with fractional floats and `encoder='none'` (the default encoder bins them)",
      TypeError, r"integer features in the uint32 range.*encoder='auto'.*thermometer")
def _(tmp):
    fit(XI + 0.5, YI, architecture="ecoc", encoder="none")


@case("est_negative_X", EST, "negative features and `encoder='none'`", TypeError, r"uint32 range 0 \.\. 2\*\*32-1")
def _(tmp):
    fit(-XI - 1, YI, architecture="ecoc", encoder="none")


@case("est_y_length", EST, "y shorter than X", ValueError, r"one label per row of X \(20\), got shape \(19,\)")
def _(tmp):
    fit(XI, YI[:-1])


@case("est_one_class", EST, "a single class in y", ValueError, r"got 1 class; need at least 2")
def _(tmp):
    fit(XI, np.zeros(20, int))


@case("est_budget_negative", EST, "`budget={'max_updates': -5}`", ValueError,
      r"budget\.max_updates = -5 is out of range; allowed: an integer >= 0")
def _(tmp):
    from hashtron_lab.estimator import HashtronClassifier

    HashtronClassifier(budget={"max_updates": -5}).fit(XI, YI)


@case("est_seed_negative", EST, "`seed=-1` (was: a numpy error without the key)", ValueError,
      r"seed = -1 is out of range; allowed: an integer in \[0, 4294967295\]")
def _(tmp):
    fit(XI, YI, seed=-1)


@case("est_validation_fraction", EST, "`validation_fraction=1.5`", ValueError,
      r"validation_fraction = 1\.5 is out of range; allowed: a number in \[0, 1\)")
def _(tmp):
    fit(XI, YI, validation_fraction=1.5)


@case("est_not_fitted", EST, "predict before fit (scikit-learn's NotFittedError)", Exception,
      r"not fitted yet\. Call 'fit'")
def _(tmp):
    from hashtron_lab.estimator import HashtronClassifier

    HashtronClassifier().predict(XI)


@case("est_predict_width", EST, "predict with another number of features", ValueError,
      r"X has 3 features, but HashtronClassifier is expecting 2 features as input")
def _(tmp):
    fit(XI, YI).predict(np.zeros((2, 3), int))


@case("nt_y_nan", NT, "y holding NaN", ValueError, r"y holds 1 missing label")
def _(tmp):
    from hashtron_lab.ntuple import NTupleClassifier

    NTupleClassifier(n_tuples=4, tuple_size=2).fit(np.random.default_rng(0).random((20, 3)),
                                                   np.where(np.arange(20) == 0, np.nan, YI))


@case("nt_seed_negative", NT, "`seed=-4` (was: numpy's 'expected non-negative integer')", ValueError,
      r"seed = -4 is out of range; allowed: an integer in \[0, 4294967295\]")
def _(tmp):
    from hashtron_lab.ntuple import NTupleClassifier

    NTupleClassifier(n_tuples=4, tuple_size=2, seed=-4).fit(np.ones((20, 3)), YI)


@case("nt_sparse_X", NT, "a scipy sparse matrix X", TypeError, r"sparse matrices are not supported; call \.toarray\(\)")
def _(tmp):
    from scipy.sparse import csr_matrix

    from hashtron_lab.ntuple import NTupleClassifier

    NTupleClassifier(n_tuples=4, tuple_size=2).fit(csr_matrix(np.ones((20, 3))), YI)


@case("nt_nan_X", NT, "X holding NaN", ValueError, r"X holds NaN or infinite values")
def _(tmp):
    from hashtron_lab.ntuple import NTupleClassifier

    X = np.ones((20, 3))
    X[2, 1] = np.nan
    NTupleClassifier(n_tuples=4, tuple_size=2).fit(X, YI)


# -- files: model, Go weights, sum cache -----------------------------------------------------
MF = "load_model / model.htl"


@case("model_truncated", MF, "a model file cut short", Exception, r"truncated: the header announces \d+ payload bytes",
      "tests/test_files.py::test_every_single_byte_flip_is_refused", volatile=r"\d+(?= payload bytes| are present)")
def _(tmp):
    from hashtron_lab.model.files import dumps_model, load_model

    data = dumps_model(small_net())
    load_model(model_file(tmp, data[:-5]))


@case("model_flipped_byte", MF, "one payload byte changed", Exception, r"checksum mismatch")
def _(tmp):
    from hashtron_lab.model.files import dumps_model, load_model

    data = bytearray(dumps_model(small_net()))
    data[-3] ^= 1
    load_model(model_file(tmp, bytes(data)))


@case("model_is_go_weights", MF, "a Go weights file given to load_model", Exception,
      r"bare zlib stream.*import_go_weights")
def _(tmp):
    from hashtron_lab.model.files import load_model
    from hashtron_lab.model.go_weights import export_go_weights

    export_go_weights(small_net(), tmp / "model.htl")
    load_model(tmp / "model.htl")


@case("model_zlib_bomb", MF, "a 64 MB zlib bomb with a valid checksum (was: inflated, ~3x its size in RSS)",
      Exception, r"decompresses to more than \d+ bytes \(a zlib bomb.*decompression stopped there",
      "tests/test_bombs.py", volatile=r"(?<=more than )\d+")
def _(tmp):
    import hashlib

    from hashtron_lab.model.files import load_model

    c = zlib.compressobj(9)
    payload = b"".join([c.compress(bytes(2**20)) for _ in range(64)] + [c.flush()])
    head = {"format": "hashtron-lab-model", "version": 1, "compression": "zlib", "payload_size": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest()}
    load_model(model_file(tmp, json.dumps(head, separators=(",", ":")).encode() + b"\n" + payload))


GW = "import_go_weights / `init_from=`"


@case("go_wrong_count", GW, "a Go file for another network (3 entries, 4 neurons)", Exception,
      r"holds 3 hashtron entries but the architecture has 4 neurons.*same network definition")
def _(tmp):
    from hashtron_lab.model.go_weights import export_go_weights, import_go_weights

    export_go_weights(small_net(3), tmp / "w.zlib")
    import_go_weights(tmp / "w.zlib", small_net(4).architecture)


@case("go_plain_text", GW, "the uncompressed text instead of the zlib file", Exception,
      r"plain text, not a zlib stream")
def _(tmp):
    from hashtron_lab.model.go_weights import dumps_go_text, import_go_weights

    (tmp / "w.txt").write_text(dumps_go_text(small_net()))
    import_go_weights(tmp / "w.txt", small_net().architecture)


@case("go_truncated", GW, "a truncated Go file", Exception, r"not a valid zlib stream .*truncated or damaged")
def _(tmp):
    from hashtron_lab.model.go_weights import export_go_weights, import_go_weights

    export_go_weights(small_net(), tmp / "w.zlib")
    (tmp / "w.zlib").write_bytes((tmp / "w.zlib").read_bytes()[:-4])
    import_go_weights(tmp / "w.zlib", small_net().architecture)


@case("go_bomb", GW, "a zlib bomb as Go weights (was: inflated whole)", Exception,
      r"decompresses to more than \d+ bytes \(a zlib bomb", "tests/test_bombs.py", volatile=r"(?<=more than )\d+")
def _(tmp):
    from hashtron_lab.model.go_weights import import_go_weights

    c = zlib.compressobj(9)
    (tmp / "w.zlib").write_bytes(b"".join([c.compress(b"[\n")] + [c.compress(bytes(2**20)) for _ in range(64)]
                                          + [c.flush()]))
    import_go_weights(tmp / "w.zlib", small_net().architecture)


@case("sum_cache_both_damaged", "SumCache.load / sum_cache.bin", "sum cache and its backup both damaged",
      Exception, r"cannot load the sum cache: main file .* and backup .* are both unusable\. Fix:",
      "tests/train/test_sum_cache.py::test_both_damaged_raise")
def _(tmp):
    from hashtron_lab.train.sum_cache import SumCache

    (tmp / "sum_cache.bin").write_bytes(b"HTSUMC\x00\x01garbage")
    SumCache.load(tmp / "sum_cache.bin")


# -- checkpoints and resume ----------------------------------------------------------------------
CK = "resume (`drive(resume=...)`, `backward@<pass>` stages)"


@case("ck_crafted_pickle", CK, "a crafted pickle planted at the checkpoint path (was: ran its code)",
      Exception, r"is a Python pickle, not a hashtron-lab checkpoint; pickles are never loaded",
      "tests/train/test_resume.py::test_a_crafted_checkpoint_runs_nothing")
def _(tmp):
    import pickle

    (tmp / "run").mkdir()
    (tmp / "run" / "checkpoint.npz").write_bytes(pickle.dumps({"run": 1}))
    resume(tmp)


@case("ck_old_pickle", CK, "a version-1 (pickle) checkpoint with a valid checksum", Exception,
      r"old pickle format \(version 1\), which is never loaded")
def _(tmp):
    (tmp / "run").mkdir()
    (tmp / "run" / "checkpoint.npz").write_bytes(b"hashtron-lab-checkpoint 1 " + b"0" * 64 + b"\n\x80\x04.")
    resume(tmp)


@case("ck_object_array", CK, "an npz checkpoint with an object (pickled) array", Exception,
      r"holds an object \(pickled\) array, which is never loaded")
def _(tmp):
    (tmp / "run").mkdir()
    buf = io.BytesIO()
    np.savez(buf, state=np.array([{"a": 1}], dtype=object))
    (tmp / "run" / "checkpoint.npz").write_bytes(buf.getvalue())
    resume(tmp)


@case("ck_huge_array_header", CK, "a checkpoint array whose header claims 10^13 bytes (numpy's reader would "
      "allocate them first)", Exception, r"is damaged \(an array of shape \(10000000000000,\) with 3 data bytes\)")
def _(tmp):
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": "<u1", "fortran_order": False, "shape": (10**13,)})
    (tmp / "run").mkdir()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("state.npy", f.getvalue() + b"abc")
    (tmp / "run" / "checkpoint.npz").write_bytes(buf.getvalue())
    resume(tmp)


@case("ck_damaged", CK, "a checkpoint with one byte changed", Exception, r"checkpoint .* is damaged",
      "tests/train/test_resume.py::test_damaged_checkpoint_raises_checkpoint_error", volatile=r"\(BadZipFile: [^)]*\)")
def _(tmp):
    ck = checkpointed(tmp)
    data = bytearray(ck.read_bytes())
    data[len(data) // 2] ^= 0x40
    ck.write_bytes(bytes(data))
    resume(tmp)


@case("ck_missing_resume_true", CK, "`resume=True` and no checkpoint (was: silently started over)", Exception,
      r"resume=True but checkpoint .* does not exist: there is nothing to resume.*resume='if_exists'")
def _(tmp):
    resume(tmp)


@case("ck_other_seed", CK, "a checkpoint of another seed (was: continued, labelled with the new seed)",
      Exception, r"written by another run .*what differs: seed: checkpoint 0, this run 7")
def _(tmp):
    checkpointed(tmp)
    resume(tmp, seed=7, budget=10)


@case("ck_forward_from_backward", CK, "`pipeline=forward` resuming a backward checkpoint (was: TypeError)",
      Exception, r"was written by the backward pipeline; this run uses forward")
def _(tmp):
    checkpointed(tmp)
    resume(tmp, pipeline="forward", budget=10)


@case("ck_every_without_path", "Run / `run.checkpoint_every`", "checkpoint_every=5 without a checkpoint path "
      "(was: silently no checkpoint)", ValueError, r"run\.checkpoint_every = 5 asks for checkpoints but no "
      r"checkpoint_path is set")
def _(tmp):
    tiny_run(tmp, run={"checkpoint_every": 5}, checkpoint_path=None)


# -- the table ---------------------------------------------------------------------------------------
def _message(c: Case, tmp: Path) -> tuple[BaseException, str]:
    try:
        c.run(tmp)
    except c.error as e:
        text, cause = str(e), e.__cause__
        while cause is not None:  # what the command line prints under the error (Hydra's overrides)
            text += " — caused by: " + str(cause)
            cause = cause.__cause__
        return e, normalize(text, tmp)
    raise AssertionError(f"{c.id}: accepted, no error")


def documented() -> dict[str, str]:
    """{case id: message} from the table in docs/bad_inputs.md."""
    out = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `([A-Za-z0-9_]+)` \|", line)
        if m:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            out[m.group(1)] = cells[3].replace("\\|", "|")
    return out


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths in cases resolve inside the test's folder
    err, msg = _message(c, tmp_path)
    assert re.search(c.facts, msg), f"{c.id}: {msg}"
    assert type(err) not in (AssertionError, KeyError, AttributeError, IndexError, NameError, TypeError) \
        or c.error is TypeError, msg  # a named error, not a crash
    doc = documented()
    assert c.id in doc, f"{c.id} is not in {DOC.name}: run python tests/test_bad_inputs.py"
    same = (lambda t: re.sub(c.volatile, "…", t)) if c.volatile else (lambda t: t)
    assert same(doc[c.id]) == same(msg), f"{DOC.name} has another message for {c.id}: run python tests/test_bad_inputs.py"


def test_the_table_has_40_rows_and_no_silent_ones():
    doc = documented()
    assert len(CASES) >= 40 and set(doc) == {c.id for c in CASES}
    assert len({c.id for c in CASES}) == len(CASES)


HEADER = """# Bad inputs and what they get

Every row is run by `tests/test_bad_inputs.py` (the test id is the first column): it feeds the
input through the entry point a user would use and checks the error type, the facts the message
must name (key, value, allowed range, file, sizes) and that the message is word for word the one
below. No row is silently wrong: each is refused with a message naming the problem and the fix.
Paths are written `$TMP` / `$PROJECT`, 16-hex config hashes `$HASH`. Regenerate after changing
a message with `python tests/test_bad_inputs.py`.

Where a row says "was: ...", that input was accepted (or crashed without naming the problem)
before issue 19. Deeper tests of the same behaviour are named in the last column.

| id | where | input | message (exact) | error | also tested in |
|---|---|---|---|---|---|
"""

FOOTER = """
## Not errors, by design

| input | what happens | tested in |
|---|---|---|
| run killed (SIGKILL) mid-run | resuming from its last checkpoint gives byte-identical model, history, decisions and sum cache | `tests/train/test_resume.py::test_sigkill_mid_run_then_resume_equals_uninterrupted` |
| `resume="if_exists"` and no checkpoint yet | explicit fresh start; the first event is `run_start` (with a checkpoint: `resume`) | `tests/train/test_resume.py::test_resume_if_exists_without_a_checkpoint_yet_starts_fresh` |
| a larger budget on resume | continues the run (budgets are not part of its identity) | `tests/train/test_resume.py::test_a_larger_budget_and_other_checkpoint_cadence_may_resume` |
| sum cache main file damaged, backup intact | loads the backup with a `SumCacheWarning` naming both files | `tests/train/test_sum_cache.py::test_missing_main_uses_backup` |
| open-class data (G2P) with classes seen only in validation/test | kept (unseen words bring unseen pairs); they count as errors and their number is in `meta["unseen_in_train"]` | `tests/data/test_data_g2p.py` |

## Limits

- A Go weights file holds no architecture: imported with another network definition of the
  *same neuron count*, it gives a different network without an error (the count is checked).
  `init_from` reports the imported network's accuracy in its first epoch, where a wrong
  definition shows as chance level.
"""


def write_doc() -> None:
    import tempfile

    lines = [HEADER]
    for c in CASES:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d).resolve()
            import os

            cwd = os.getcwd()
            os.chdir(tmp)
            try:
                err, msg = _message(c, tmp)
            finally:
                os.chdir(cwd)
        esc = msg.replace("|", "\\|")
        also = f"`{c.also}`" if c.also else ""
        lines.append(f"| `{c.id}` | {c.where} | {c.what} | {esc} | {type(err).__name__} | {also} |\n")
    DOC.write_text("".join(lines) + FOOTER, encoding="utf-8")
    print(f"wrote {DOC} ({len(CASES)} rows)")


if __name__ == "__main__":
    write_doc()
