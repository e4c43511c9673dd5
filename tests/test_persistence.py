"""gdlearn.persistence: exact round trips, refusal of bad or forged files, fuzzing, and crash safety of save."""

import json
import os
import pickle
import subprocess
import sys
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd  # in the test extra: its absence is a broken install, not a skip
import pytest
import safetensors.numpy
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from sklearn import base, exceptions, linear_model

from gdlearn import DivergenceError, LinearRegression, LogisticRegression, _fileformat
from gdlearn.optim.factory import SOLVERS
from gdlearn.persistence import FORMAT, FORMAT_VERSION, MAX_FILE_SIZE, ModelFileError, load, save, show
from gdlearn.schedules import Constant, ExponentialDecay, InverseDecay, StepDecay

DATA = Path(__file__).parent / "data"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
RandomState = np.random.RandomState


def problem(n=60, p=3):
    X, noise = (rng := np.random.default_rng(0)).normal(size=(n, p)), rng.normal(size=n)
    return X, X @ np.arange(1.0, p + 1) + 0.5 + 0.1 * noise


def fit_quiet(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


def assert_same_model(a, b, X):
    """b (loaded) is indistinguishable from a (saved): parameters, every fitted attribute, predictions."""
    pa, pb = a.get_params(), b.get_params()
    for p in (pa, pb):  # a RandomState compares by its state
        if isinstance(p["random_state"], RandomState):
            p["random_state"] = [np.asarray(v).tolist() for v in p["random_state"].get_state()]
    pa["checkpoint"] = None if pa["checkpoint"] is None else os.fspath(pa["checkpoint"])
    names = sorted(k for k in vars(a) if k[-1] == "_" != k[0])  # coef_, classes_, n_iter_, history_, path_...
    assert type(a) is type(b) and pa == pb and names == sorted(k for k in vars(b) if k[-1] == "_" != k[0])
    for name in [*names, "theta_"]:
        va, vb = getattr(a, name), getattr(b, name)
        assert type(va) is type(vb) and getattr(va, "dtype", 0) == getattr(vb, "dtype", 0), name
        assert np.array_equal(va, vb), name
    for method in ["predict"] + ["predict_proba", "decision_function", "predict_log_proba"] * hasattr(a, "classes_"):
        pred_a, pred_b = getattr(a, method)(X), getattr(b, method)(X)
        assert pred_a.dtype == pred_b.dtype and np.array_equal(pred_a, pred_b), method


def read_container(path):
    return _fileformat.read(path, ModelFileError, formats={FORMAT: FORMAT_VERSION}, max_size=MAX_FILE_SIZE)


def forged(header, arrays) -> bytes:
    """A file with any header and arrays and a valid checksum, as a forger would write it."""
    if isinstance(header, dict):
        header = {**header, "sha256": _fileformat.digest(_fileformat._canonical(header), arrays)}
    return safetensors.numpy.save(arrays, metadata={"gdlearn": _fileformat._canonical(header)})


def refused(path, data=None, match=None, reader=load):
    """(After writing data to path) reader(path) raises a ModelFileError that names the file."""
    if data is not None:
        Path(path).write_bytes(data)
    with pytest.raises(ModelFileError, match=match) as info:
        reader(path)
    assert str(info.value).startswith(f"Cannot load model file {str(path)!r}: ")


@pytest.fixture(scope="module")
def models():  # one fitted model of each kind, to be saved and broken by the tests
    X, y = problem()
    return {
        **{"X": X, "linear": fit_quiet(LinearRegression(), X, y)},
        **{"multi": fit_quiet(LinearRegression(), X, np.c_[y, -2 * y])},
        **{"binary": fit_quiet(LogisticRegression(l2=1.0), X, np.where(X[:, 0] > 0, "yes", "no"))},
        **{"multinomial": fit_quiet(LogisticRegression(), X, np.digitize(y, [-1.0, 1.0, 3.0]))},
        **{"state": fit_quiet(LinearRegression(max_iter=2, random_state=RandomState(0)), X, y)},
        **{"small": fit_quiet(LinearRegression(solver="gd", max_iter=2), X[:3, :1], y[:3])},  # a 1.4 kB file
    }


@pytest.fixture
def saved(tmp_path, models):  # saved(name): the path of models[name], freshly saved
    return lambda name: save(models[name], tmp_path / f"{name}.gdlearn") or tmp_path / f"{name}.gdlearn"


# What gdlearn writes, gdlearn reads exactly: any valid parameters; X an array, a DataFrame or CSR; any kind of y
def _num(strategy):  # as a Python or a NumPy scalar
    return strategy.flatmap(lambda v: st.sampled_from([v, np.float64(v), np.float32(v)]))


_LR = st.floats(1e-3, 0.2) | st.just("auto")  # schedules take plain numbers only
_SEED = st.sampled_from([0, 2**32 - 1]) | st.integers(0, 2**32 - 1) | st.integers(0, 2**31 - 1).map(np.int64)
_SCHEDULES = [st.builds(Constant, _LR), st.builds(ExponentialDecay, _LR, rate=st.floats(0, 0.5) | st.integers(0, 1))]
_SCHEDULES += [st.builds(InverseDecay, _LR, rate=st.floats(0, 1), power=st.floats(0, 2))]
_SCHEDULES += [st.builds(StepDecay, _LR, factor=st.floats(0, 1, exclude_min=True), step_size=st.integers(1, 10))]
PARAMS = st.fixed_dictionaries(
    {
        "learning_rate": st.one_of(_num(st.floats(1e-3, 0.2)), st.sampled_from(["auto", "backtracking"]), *_SCHEDULES),
        **{"solver": st.sampled_from(SOLVERS), "max_iter": st.integers(1, 4), "tol": _num(st.floats(0, 1))},
        **{"l1": st.just(0.0) | _num(st.floats(0, 1)), "l2": _num(st.floats(0, 10)) | st.integers(0, 3)},
        **{"batch_size": st.none() | st.integers(1, 64), "epsilon": _num(st.floats(1e-10, 1))},
        **dict.fromkeys(("momentum", "beta_1", "beta_2", "rho"), _num(st.floats(0, 0.99))),
        **{"validation_fraction": st.none() | st.floats(0.2, 0.5), "n_iter_no_change": st.integers(1, 20)},
        **{"precondition": st.sampled_from(["auto", True, False, "diagonal", "dense"])},
        **dict.fromkeys(("fit_intercept", "shuffle", "early_stopping", "warm_start", "record_path"), st.booleans()),
        **{"checkpoint": st.sampled_from([None, "str", "path"]), "checkpoint_every": st.integers(1, 1000)},
        **{"checkpoint_seconds": st.none() | st.floats(1e-3, 1e6), "verbose": st.sampled_from([0, False])},
        "random_state": st.none() | _SEED | _SEED.map(RandomState),
    }
)
TARGETS = ["1-d", "2-outputs", "column", "str", "object", "int", "uint8", "bool", "float"]


@FAST
@given(params=PARAMS, xkind=st.sampled_from(["X", "df", "csr"]), ykind=st.sampled_from(TARGETS))
@example({"solver": "momentum", "record_path": True, "learning_rate": ExponentialDecay(0.05, rate=0.01)}, "df", "str")
@example({"batch_size": 8, "max_iter": 5, "random_state": RandomState(5), "checkpoint": "path"}, "csr", "object")
@example({"validation_fraction": 0.2, "l1": 0.1, "max_iter": 50}, "df", "int")
@example({"solver": "gd", "max_iter": 20, "learning_rate": StepDecay(0.05, factor=0.9, step_size=7)}, "csr", "uint8")
@example({"early_stopping": True, "batch_size": 10, "learning_rate": Constant(0.05)}, "X", "bool")
@example({"fit_intercept": False, "learning_rate": InverseDecay("auto", rate=0.1, power=0.5)}, "X", "float")
@example({"solver": "momentum", "record_path": True, "max_iter": 30, "fit_intercept": False}, "csr", "2-outputs")
@example({"l2": 0.5, "batch_size": 16, "random_state": 2**32 - 1}, "df", "column")
def test_what_gdlearn_writes_gdlearn_reads_exactly(tmp_path, params, xkind, ykind):
    (X, y), path, ckpt = problem(n=40, p=2), tmp_path / "m.gdlearn", tmp_path / f"{len(os.listdir(tmp_path))}.ckpt"
    X = {"X": X, "df": pd.DataFrame(X, columns=["rooms", "âge"]), "csr": sp.csr_matrix(X * (X > 0))}[xkind]
    two, three = (y > 1.5) * 1, np.digitize(y, [0.0, 3.0])
    y = {
        **{"1-d": y, "2-outputs": np.c_[y, -y], "column": y[:, None], "int": np.digitize(y, [-1.0, 1.0, 3.0])},
        **{"str": np.array(["a", "bb", "ccc"])[three], "object": np.array(["high", "low"], dtype=object)[two]},
        **{"uint8": np.array([3, 7], np.uint8)[two], "bool": two == 1, "float": two * 1.0},
    }[ykind]
    params = {**params, "checkpoint": {"str": str(ckpt), "path": ckpt}.get(params.get("checkpoint"))}  # a new file
    model = (LinearRegression if TARGETS.index(ykind) < 3 else LogisticRegression)(**params)
    try:
        fit_quiet(model, X, y)
    except (DivergenceError, ValueError) as e:  # a step too long for this data; combinations fit refuses
        assume(isinstance(e, ValueError) and not any(m in str(e) for m in ("cannot handle", "full batch", "backtrack")))
        raise
    save(model, path)
    assert_same_model(model, loaded := load(path), X)
    assert_same_model(model, pickle.loads(pickle.dumps(loaded)), X)
    assert np.array_equal(safetensors.numpy.load_file(path)["coef"], np.atleast_2d(model.coef_))  # plain safetensors
    data = path.read_bytes()  # the same state gives the same bytes, saved again or rewritten by a forger
    save(loaded, path)
    assert path.read_bytes() == data == forged(*read_container(path))


def test_show_prints_a_model_and_a_checkpoint_as_strict_json_and_load_refuses_the_checkpoint(saved, tmp_path):
    fit_quiet(LinearRegression(checkpoint=(ckpt := tmp_path / "run.ckpt"), max_iter=2, l2=0.25), *problem())
    for path in (saved("multi"), ckpt):  # the header, and every array's dtype, shape and values, exactly
        shown, formats = json.loads(text := show(path)), dict.fromkeys((FORMAT, "gdlearn-checkpoint"), 99)
        header, arrays = _fileformat.read(path, ModelFileError, formats=formats, max_size=2**30)
        assert shown["header"] == header and header["kind"] == "LinearRegression" and "Infinity" not in text
        assert sorted(shown["arrays"]) == sorted(arrays) and len(arrays) >= 3
        for name, a in arrays.items():  # for a checkpoint, the solver's coefficients and all its state
            s, values = shown["arrays"][name], np.array(shown["arrays"][name]["values"], dtype=object)
            assert s["dtype"] == a.dtype.name and s["shape"] == list(a.shape), name
            assert np.array_equal(values.astype(a.dtype), a, equal_nan=a.dtype.kind == "f"), name
    assert "l2" in header["params"] and "state/rules/divergence/initial_loss" in shown["arrays"]
    _fileformat.write(odd := tmp_path / "odd.gdlearn", FORMAT, FORMAT_VERSION, {}, {"x": np.array([np.inf, -np.inf])})
    assert json.loads(show(odd))["arrays"]["x"]["values"] == ["inf", "-inf"]  # strict JSON: no Infinity
    refused(ckpt, match="training checkpoint, not a model.*resume=True")


@pytest.mark.parametrize("quarter", range(4))
def test_truncations_bit_flips_and_edits_without_a_new_checksum_are_refused(saved, quarter):
    """Every prefix and bit flip of a small file, and 1 of 97 prefixes and 2 edits of a larger one (1/4 per test)."""
    data, big = (path := saved("small")).read_bytes(), saved("multinomial").read_bytes()
    assert len(data) < 1500
    for blob, step in ((data, 1), (big, 97)):
        for cut in range(quarter * step, len(blob), 4 * step):
            refused(path, blob[:cut], "empty|truncated|corrupted")
    for bit in range(quarter * 2 * len(data), (quarter + 1) * 2 * len(data)):
        refused(path, data[: bit // 8] + bytes([data[bit // 8] ^ 1 << bit % 8]) + data[bit // 8 + 1 :])
    for old, new in [(big[-1:], bytes([big[-1] ^ 0x10])), (b'\\"max_iter\\":1000', b'\\"max_iter\\":9000')]:
        i = big.rindex(old)  # a byte of the last array; a parameter in the header
        refused(path, big[:i] + new + big[i + len(old) :], "checksum mismatch")


def test_oversized_file_is_refused_before_reading(tmp_path):
    with open(path := tmp_path / "huge.gdlearn", "wb") as f:  # a sparse file: takes no disk space
        f.truncate(MAX_FILE_SIZE + 1)
    tracemalloc.start()
    try:
        refused(path, match=r"larger than the limit of 67,108,864 bytes")
        assert tracemalloc.get_traced_memory()[1] < 1_000_000
    finally:
        tracemalloc.stop()


EXPLOIT = pickle.dumps(type("Exploit", (), {"__reduce__": lambda _: (pytest.fail, ("load() ran a pickle",))})())
DEEP = b"[" * 100_000 + b"]" * 100_000
NOT_MODELS = {  # message: contents
    "empty": [b""],
    "truncated or not a gdlearn file": [b"hello world, this is text\n", np.random.default_rng(0).bytes(3000)],
    "never loads pickles": [b"\x80\x04K\x01.", EXPLOIT, pickle.dumps(LinearRegression())],
    r"written by gdlearn 0\.1\.0 \(gdlearn-model format 1, JSON\), .*no longer reads.*Re-create": [
        (DATA / f"model_v1_{name}.json").read_bytes() for name in ("linear", "logistic_binary", "logistic_multinomial")
    ],
    "JSON, not a gdlearn file": [b'{"format": "gdlearn-model", "format_version": 1}', b'{"a": %s}' % DEEP],
    "no gdlearn metadata": [safetensors.numpy.save({"coef": np.zeros((1, 3))})],
    "not a JSON object": [forged(header, {"coef": np.zeros((1, 1))}) for header in ([], "gdlearn-model", 42, None)],
}
for header_text, message in [  # safetensors' 8-byte header length, then the header
    (b'{"__metadata__": {"gdlearn": "{}", "sha256": "00"}}', "no gdlearn metadata"),
    (b'{"__metadata__": {"gdlearn": "{}"}}', "checksum mismatch"),
    (b'{"__metadata__": {"gdlearn": "{\\"sha256\\": \\"00\\"}"}}', "checksum mismatch"),
    (b'{"__metadata__": {"gdlearn": 1}}', "corrupted"),
    (b'{"__metadata__": {"gdlearn": "{\\"format\\": NaN, \\"sha256\\": \\"00\\"}"}}', "corrupted"),
    (b'{"__metadata__": {"gdlearn": "{\\"a\\":1e999,\\"sha256\\":\\"00\\"}"}}', "corrupted"),
    (b'{"__metadata__": {"gdlearn": "{\\"sha256\\":\\"00\\",\\"sha256\\":\\"00\\"}"}}', "checksum mismatch"),
    (DEEP, "corrupted"),
]:
    NOT_MODELS.setdefault(message, []).append(len(header_text).to_bytes(8, "little") + header_text)


@pytest.mark.parametrize(("message", "content"), [(m, c) for m, contents in NOT_MODELS.items() for c in contents])
def test_not_a_model_file_is_refused_without_running_any_code(tmp_path, message, content):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "model.gdlearn")
    for reader in (load, show):
        refused(tmp_path / "model.gdlearn", content, message, reader)


# Forged files: each line "model | field = values ; field = values... | message" sets a field of a saved model (a
# header path, or @array[:dtype]) to each JSON value ("$drop" deletes it), re-checksums the file and expects a refusal
# saying message ({} is the field's name). Classes of binary: ["no", "yes"] (<U3); coef: (1, 3), (2, 3) in multi.
FORGERIES = r"""
linear | kind = "Ridge", "os.system" | unknown model kind
linear | kind = 3, null, ["LinearRegression"] ; params = null, 3, [], ["l2"], "" | {} has the wrong type
linear | format_version = 0, -1, "1", 2.0, true, null | format_version must be a positive integer
linear | format_version = 3, 1000000 | format version \d+, .*newer gdlearn.*Upgrade
linear | format = "onnx", "$drop" | file, not 'gdlearn-model'
linear | code = "os.system" ; gdlearn_version = "$drop" | the header must have the fields
linear | params = {"l2": {}} ; params.random_state = {"random_state": [[1,2],0,0,0.0]}, {"random_state": 5} | malformed
linear | n_features_in = 0 | n_features_in must be a positive integer
linear | n_features_in = "3", 2.5 ; feature_names = "abc" ; target_ndim = true | {} has the wrong type
multi | n_features_in = 4 | coef must be float64 of shape \(2, 4\)
linear | feature_names = ["a"], [1, 2, 3] | feature_names must be null or 3 strings
linear | target_ndim = 3, 0, null ; classes = {"dtype": "<i8", "values": [0, 1]} | classes null and target_ndim 1
multi | target_ndim = 1 | coef must be float64 of shape \(1, 3\)
binary | target_ndim = 1 | target_ndim must be null
linear | @coef = 1.0, [1, 2, 3], [[[1, 2, 3]]] | coef must be float64 of shape \(1, 3\)
multi | @coef = [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]] | intercept must be float64 of shape \(4,\)
multi | @coef:float32 = [[1, 2, 3], [1, 2, 3]] ; @coef:int64 = [[1, 2, 3], [1, 2, 3]] | found (float32|int64) of
binary | @coef = [[1, 2, 3], [1, 2, 3]] | coef must be float64 of shape \(1, 3\)
multinomial | classes.values = [0, 1, 2, 3, 4] | coef must be float64 of shape \(5, 3\)
linear | @coef = [[1, NaN, 3]], [[1, 2, Infinity]], [[NaN, 2, 3]], [[1, 2, -Infinity]] | intercept contains NaN or inf
multi | @intercept = [0, 1, 2], 0.5 | intercept must be float64 of shape \(2,\)
multi | @intercept = [0, NaN], [Infinity, 0] | coef or intercept contains NaN or infinity
linear | @evil = [1.0, 2.0] ; @history/a/b = [1.0, 2.0] | the arrays .*'{}'.* are not those expected
linear | @learning_rate = [0.1] | learning_rate must be float64 of shape \(\)
linear | @coef = [[1.0, 2.0]], [[1, 2, 3, 4]] ; @path = [[1.0, 2.0]], [1.0, 2.0, 3.0, 4.0] | {} must be float64 of shape
linear | @history/loss = [[1.0, 2.0]], 1.0 ; @history/loss:int64 = [1, 2] | history/loss must be float64 of shape \(0,\)
multi | @coef = "$drop" ; @intercept = "$drop" ; @history/loss = "$drop" | are not those expected, .*'{}'
linear | params.alpha = 1.0 | unknown parameter\(s\) 'alpha' for LinearRegression
linear | params.solver = "nope", "sgd", 3 ; params.l2 = -1, "0.5", true ; params.max_iter = true, 0, 1.5 | invalid.*{}=
linear | params.random_state = "1", 4294967296, -1, 0.5 ; params.checkpoint = 5, false | invalid parameters.*{}=
linear | params.solver = ["gd"], {"v": 1} ; params.learning_rate = {"schedule": "Exec"}, {"lr": 1} | unsupported value
linear | params.learning_rate = {"schedule": "Constant", "code": "x"} | 'code'
linear | params.learning_rate = {"schedule": "StepDecay", "step_size": 0.5} | step_size must be an integer
linear | params.learning_rate = {"schedule": "Constant", "lr": -1} | lr must be a positive number
linear | params.learning_rate = {"schedule": "ExponentialDecay", "rate": "x"} | rate must be a non-negative
state | params.random_state.random_state.1 = 625, 100000000, -1 | position in \[0, 624\]
binary | classes.values = ["yes", "no"], ["no", "no"], ["no", "yes", "ab"] | sorted and distinct
binary | classes.dtype = "<U2", "<i8", "|b1", "<f8" ; classes = {"dtype": "|u1", "values": [1, 300]} | values must fit
binary | classes = {"dtype": "<i1", "values": [1.5, 2.5]} | values must fit dtype
binary | classes.dtype = "i4,f8", "|S3", "<M8", "<c16", "<U0", 8, null | not an allowed label dtype
binary | classes.dtype = "<f3" | '<f3'
binary | classes = {"dtype":"|O","values":[{"py/object":"os.system"},1]}, {"dtype":"|O","values":[1,"a"]} | one type
binary | classes.values = ["no"], [] | from two labels
binary | classes = null ; classes.code = 1 | classes must be
binary | classes = ["no", "yes"] | classes has the wrong type
binary | fitted.n_iter_ = -1 ; fitted.best_iteration_ = -2 | n_iter_ and fitted.best_iteration_ must
binary | fitted.n_iter_ = "3", null ; fitted.best_iteration_ = 1.5 ; fitted.converged_ = 1, "true" | {} has the wrong
linear | fitted.stop_reason_ = null, 3 ; fitted.solver_ = null ; classes = 1 | {} has the wrong type
linear | fitted.solver_ = "auto", "sgd" | solver_ must be one of
linear | fitted.loss_ = 1.0 ; fitted.solver_ = "$drop" | fitted must have the fields
"""
FORGED = [("binary", "classes", {"dtype": "<U999999", "values": list("abcdefghijklmnopq")}, "two labels to")] + [
    pytest.param(name, field, value, message, id=f"{name} {field}={json.dumps(value)[:40]}")
    for name, edits, message in (line.split(" | ") for line in FORGERIES.strip().splitlines())
    for field, values in (edit.split(" = ") for edit in edits.split(" ; "))
    for value in json.loads(f"[{values}]")
]


@pytest.mark.parametrize(("name", "field", "value", "message"), FORGED)
def test_forged_files_with_a_valid_checksum_are_refused(saved, name, field, value, message):
    header, arrays = read_container(path := saved(name))
    header["@"], (field, _, dtype) = arrays, field.replace("@", "@.").partition(":")  # @name[:dtype]: an array
    *parents, last = (int(k) if k.isdigit() else k for k in field.split("."))
    node, drop = header, value == "$drop"
    for key in parents:
        node = node[key]
    node.pop(last) if drop else node.__setitem__(last, np.asarray(value, dtype or float) if node is arrays else value)
    refused(path, forged(header, header.pop("@")), message.replace("{}", str(last)))  # (never fit what it loads)


SAVE_SLOWLY = """import os, sys, time; from gdlearn.persistence import load, save
fsync, os.fsync = os.fsync, lambda fd: (print(flush=True), time.sleep(60), fsync(fd))  # written, not renamed yet
save(load(sys.argv[1]), sys.argv[2])"""


def test_killing_save_mid_write_leaves_the_previous_file_intact_and_working(tmp_path, saved, models):
    """SIGKILL a child saving over a model, its new file written but not renamed: the model loads, refits."""
    old, (X, y) = saved("linear"), problem()
    argv = [sys.executable, "-c", SAVE_SLOWLY, saved("multinomial"), old]
    with subprocess.Popen(argv, stdout=subprocess.PIPE) as child:
        try:
            assert child.stdout.readline() == b"\n", "the child did not reach the end of its write"
        finally:
            child.kill()
    assert [n.split(".")[3] for n in os.listdir(tmp_path) if n.endswith(".tmp")] == [str(child.pid)]
    assert_same_model(models["linear"], loaded := load(old), X)
    assert base.clone(loaded).get_params() == loaded.get_params()
    assert fit_quiet(loaded.set_params(warm_start=True), X, y).score(X, y) >= models["linear"].score(X, y) - 1e-12
    save(models["binary"], old)  # a new writer clears the debris of the killed one
    assert sorted(os.listdir(tmp_path)) == ["linear.gdlearn", "multinomial.gdlearn"]


def test_save_refuses_what_it_cannot_represent_and_keeps_the_old_file(tmp_path, models):
    X, y = problem()
    for seed in (2**32, -1, 2**64):  # fit refuses the seeds that a model file could not hold
        with pytest.raises(ValueError, match=r"random_state=-?\d+ is not allowed"):
            LinearRegression(random_state=seed).fit(X, y)
    nan, inf, rng, fun = (fit_quiet(LinearRegression(), X, y) for _ in range(4))
    nan._theta[0, 0], inf._theta[0, 0] = np.nan, np.inf
    rng.set_params(random_state=np.random.default_rng(0)), fun.set_params(learning_rate=lambda t: 0.1)
    save(models["linear"], path := tmp_path / "m.gdlearn")
    before, represented = path.read_bytes(), "parameter {}=.*cannot be represented in a model file"
    for model, error, message in [
        (LinearRegression(), exceptions.NotFittedError, "not fitted"),
        (linear_model.LinearRegression().fit(X, y), TypeError, "gdlearn"),
        (fit_quiet(type("MyRegression", (LinearRegression,), {})(), X, y), TypeError, "MyRegression"),
        (rng, ValueError, represented.format("random_state")),
        (fun, ValueError, represented.format("learning_rate")),
        *[(m, ValueError, "{}: its coefficients contain NaN or infinity") for m in (nan, inf)],
    ]:
        for target in (path, tmp_path / "new.gdlearn"):
            with pytest.raises(error, match=message.format(f"Cannot save model to {str(target)!r}")):
                save(model, target)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.gdlearn"]


def load_or_refuse(path):
    """Either ModelFileError, or a working, consistent estimator."""
    try:
        model = load(path)
    except ModelFileError:
        return
    X, classes = np.linspace(-1.0, 1.0, 3 * model.n_features_in_).reshape(3, -1), getattr(model, "classes_", None)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        pred, proba = model.predict(X), classes is None or model.predict_proba(X).shape == (3, len(classes))
    assert isinstance(model, (LinearRegression, LogisticRegression)) and np.all(np.isfinite(model.theta_)) and proba
    assert len(pred) == 3 and np.all(np.isfinite(pred) if classes is None else np.isin(pred, classes))


JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
JSON_LEAVES |= st.text(max_size=8) | st.sampled_from(["<U3", "|O", "<i8", "LinearRegression", "auto", "gd"])
JSON_VALUES = st.recursive(
    JSON_LEAVES | st.just({"schedule": "Constant", "lr": 0.1}).map(dict),  # a new dict each time: edits change it
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=8,
)
NOISE = st.binary(max_size=2000) | st.binary(min_size=8, max_size=8).map(lambda b: b + b"{" + b"\0" * 60)
MUTATION = st.tuples(st.sampled_from(["flip", "delete", "insert", "truncate"]), st.floats(0, 1), st.binary(max_size=4))


@FAST
@given(noise=NOISE, name=st.sampled_from(["linear", "multi", "binary", "multinomial"]), data=st.data())
def test_fuzz_random_bytes_byte_mutations_and_forged_headers_load_or_raise_model_file_error(saved, noise, name, data):
    """Random bytes are refused; a file with some bytes flipped, deleted, inserted or cut, or with edits of its
    header and arrays under a valid checksum (to reach the semantic checks) loads as a working model or is refused."""
    refused(path := saved(name), noise)
    content = bytearray(saved(name).read_bytes())
    for op, where, payload in data.draw(st.lists(MUTATION, min_size=1, max_size=3)):
        i = int(where * (len(content) - 1)) if content else 0
        j = {"flip": i + 1, "delete": i + 1 + len(payload), "insert": i, "truncate": len(content)}[op]
        content[i:j] = bytes([content[i] ^ 1 << i % 8]) if op == "flip" and content else payload * (op == "insert")
    path.write_bytes(bytes(content))
    load_or_refuse(path)
    header, arrays = read_container(saved(name))
    for _ in range(data.draw(st.integers(1, 3))):
        if data.draw(st.integers(0, 4)) == 0:  # an array replaced, added or removed
            key = data.draw(st.sampled_from([*arrays, "coef", "history/x", "path", "lipschitz"]))
            dtype = data.draw(st.sampled_from([np.float64, np.float32, np.int64, np.bool_]))
            arrays[key] = np.zeros(data.draw(st.lists(st.integers(0, 4), max_size=3)), dtype)
            arrays[key][...] = data.draw(st.sampled_from([0.5, np.nan])) if dtype is np.float64 else 1
            if data.draw(st.booleans()):
                del arrays[key]
            continue
        parent, key, node = None, None, header  # walk down to a random field of the header
        while isinstance(node, (dict, list)) and node and (parent is None or data.draw(st.booleans())):
            parent, key = node, data.draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
            node = node[key]
        op, value = data.draw(st.sampled_from(["replace", "delete", "add"])), data.draw(JSON_VALUES)
        if op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, list):
            parent.append(value)
        else:
            parent[data.draw(st.text(max_size=6)) if op == "add" else key] = value
    path.write_bytes(forged(header, arrays))
    load_or_refuse(path)


def test_a_model_file_written_before_target_name_existed_still_loads(saved, models):
    """Format 2 files of the first 0.2.0.dev0 builds have no target_name; they load with target_name_ unset."""
    header, arrays = read_container(path := saved("binary"))
    header.pop("target_name")
    Path(path).write_bytes(forged(header, arrays))
    model = load(path)
    assert not hasattr(model, "target_name_")
    assert_same_model(models["binary"], model, models["X"])
