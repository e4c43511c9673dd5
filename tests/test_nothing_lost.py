"""Nothing lost, nothing silently wrong: a failed fit changes nothing, every fitted model pickles and clones."""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import pickle
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from gdlearn import DivergenceError, FitInterrupted, LinearRegression, LogisticRegression
from gdlearn import load as gdlearn_load
from gdlearn.cli import main
from gdlearn.data import read_csv
from gdlearn.schedules import InverseDecay, StepDecay

rng = np.random.default_rng(0)
X = rng.normal(size=(60, 3))
Y_REG = X @ np.array([1.0, 2.0, 3.0]) + 0.5
Y_BIN = (Y_REG > 0).astype(int)
Y_MULTI = np.digitize(Y_REG, [-1.0, 1.0])


def quiet(call, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(*args, **kw)


def fitted_state(model) -> dict:
    """Everything a user can see of a fitted model, copied."""
    out = {k: pickle.dumps(v) for k, v in vars(model).items() if k.endswith("_") and not k.startswith("_")}
    out["_theta"] = model._theta.tobytes()
    out["predict"] = model.predict(X).tobytes()
    return out


def stop_at_2(info):
    if info.iteration == 2:
        raise KeyboardInterrupt


FAILURES = {  # (fitted model, a second call that must fail, the error)
    "one class": (lambda: LogisticRegression().fit(X, Y_BIN), lambda m: m.fit(X, np.ones(60)), ValueError),
    "continuous y": (lambda: LogisticRegression().fit(X, Y_BIN), lambda m: m.fit(X, Y_REG), ValueError),
    "diverges": (
        lambda: LinearRegression().fit(X, Y_REG),
        lambda m: m.set_params(solver="gd", learning_rate=10.0).fit(X, Y_REG),
        DivergenceError,
    ),
    "interrupted": (
        lambda: LogisticRegression().fit(X, Y_MULTI),
        lambda m: m.set_params(solver="gd").fit(X, Y_BIN, callback=stop_at_2),
        FitInterrupted,
    ),
    "NaN in X": (
        lambda: LinearRegression().fit(X, Y_REG),
        lambda m: m.fit(np.full((60, 3), np.nan), Y_REG),
        ValueError,
    ),
    "bad parameter": (
        lambda: LinearRegression().fit(X, Y_REG),
        lambda m: m.set_params(l2=-1).fit(X, Y_REG),
        ValueError,
    ),
    "warm start, more classes": (
        lambda: LogisticRegression(warm_start=True).fit(X, Y_BIN),
        lambda m: m.fit(X, Y_MULTI),
        ValueError,
    ),
    "warm start, more targets": (
        lambda: LinearRegression(warm_start=True).fit(X, Y_REG),
        lambda m: m.fit(X, np.c_[Y_REG, Y_REG]),
        ValueError,
    ),
    "warm start, fewer features": (
        lambda: LinearRegression(warm_start=True).fit(X, Y_REG),
        lambda m: m.fit(X[:, :2], Y_REG),
        ValueError,
    ),
    "partial_fit, other classes": (
        lambda: LogisticRegression().partial_fit(X, Y_BIN, classes=[0, 1]),
        lambda m: m.partial_fit(X, Y_BIN, classes=[0, 1, 2]),
        ValueError,
    ),
    "partial_fit after fit, other classes": (
        lambda: LogisticRegression().fit(X, Y_BIN),
        lambda m: m.partial_fit(X, Y_MULTI, classes=[0, 1, 2]),
        ValueError,
    ),
    "partial_fit, unseen label": (
        lambda: LogisticRegression().partial_fit(X, Y_BIN, classes=[0, 1]),
        lambda m: m.partial_fit(X, Y_MULTI),
        ValueError,
    ),
    "partial_fit, more targets": (
        lambda: LinearRegression().partial_fit(X, Y_REG),
        lambda m: m.partial_fit(X, np.c_[Y_REG, Y_REG]),
        ValueError,
    ),
}


@pytest.mark.parametrize("case", FAILURES)
def test_a_failed_fit_leaves_the_fitted_model_exactly_as_it_was(case):
    make, fail, error = FAILURES[case]
    model = quiet(make)
    before = fitted_state(model)
    params = model.get_params()
    with pytest.raises(error):
        quiet(fail, model)
    model.set_params(**params)  # the case may have changed a setting on purpose
    assert fitted_state(model) == before
    quiet(model.fit, X, Y_BIN if model._is_classifier else Y_REG)  # and it still works


def test_partial_fit_rejects_classes_that_differ_and_names_both():
    model = LogisticRegression().partial_fit(X, Y_BIN, classes=np.array([0, 1]))
    with pytest.raises(ValueError, match=r"classes=\[0, 1, 2\] differ from the model's classes_=\[0, 1\]"):
        model.partial_fit(X, Y_BIN, classes=[0, 1, 2])
    model.partial_fit(X, Y_BIN, classes=[1, 0])  # the same set, in any order
    with pytest.raises(ValueError, match="warm_start=True continues .* 1 output.*3 output"):
        LogisticRegression(warm_start=True, l2=1.0).fit(X, Y_BIN).fit(X, Y_MULTI)


SOLVERS = ["gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "fista", "lbfgs", "newton"]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("Model", [LinearRegression, LogisticRegression])
@pytest.mark.parametrize("how", ["fit", "fixed step", "minibatch", "partial_fit"])
def test_every_fitted_estimator_pickles_and_clones(Model, solver, how):
    """A fitted model pickles (so joblib and GridSearchCV(n_jobs=2) work), carries no training data, and clones."""
    minibatch_only = how in ("minibatch", "partial_fit")
    if minibatch_only and solver in ("fista", "lbfgs", "newton"):
        solver = "gd"
    kw = {"solver": solver, "max_iter": 20, "random_state": 0}
    if solver == "fista":
        kw["l1"] = 0.1
    if how == "fixed step" and solver not in ("lbfgs", "newton"):
        kw["learning_rate"] = 0.01
    if how == "minibatch":
        kw["batch_size"] = 16
    y = Y_MULTI if Model is LogisticRegression else Y_REG
    model = Model(**kw)
    if how == "partial_fit":
        for _ in range(2):
            quiet(model.partial_fit, X, y, classes=np.unique(y)) if Model is LogisticRegression else model.partial_fit(
                X, y
            )
    else:
        quiet(model.fit, X, y)
    blob = pickle.dumps(model)
    assert X.tobytes() not in blob and len(blob) < 200_000  # no copy of the training data
    again = pickle.loads(blob)
    assert np.array_equal(again.predict(X), model.predict(X))
    if how == "partial_fit":  # the session carries over the pickle: one more epoch continues the same run
        quiet(model.partial_fit, X, y)
        quiet(again.partial_fit, X, y)
        assert np.array_equal(again.coef_, model.coef_)
    assert clone(model).get_params() == model.get_params()


# ------------------------------------------------------------ the command line
def _csv(path, rows, header=("a", "b", "y")):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


@pytest.fixture
def table(tmp_path):
    return _csv(tmp_path / "d.csv", [(a, b, t) for (a, b, _), t in zip(X, Y_REG)])


def gdlearn(capsys, *argv):
    """``gdlearn argv`` in this process: (exit status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def test_the_model_is_saved_before_anything_that_can_fail(tmp_path, table, capsys, monkeypatch):
    """`gdlearn train ... --out m | true`: printing fails after training; the model is on disk, the checkpoint gone."""
    model = tmp_path / "m.safetensors"
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: every write fails with EPIPE
    with open(write_end, "w", buffering=1) as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        try:
            status = main(["train", table, "--quiet", "--out", str(model)])
        except SystemExit as exc:  # rich ends a closed pipe this way, as `head` would like
            status = exc.code
        monkeypatch.undo()
        with contextlib.suppress(BrokenPipeError):
            closed.close()
    assert status == 1 and "Traceback" not in capsys.readouterr().err
    loaded = gdlearn_load(model)
    assert loaded.get_params()["checkpoint"] is None  # refitting a loaded model writes no file of the run
    assert not (tmp_path / "m.safetensors.ckpt").exists()


@pytest.mark.parametrize("which", ["data", "out", "out, other spelling"])
def test_a_checkpoint_that_is_the_users_file_is_refused(tmp_path, table, capsys, which):
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"the user's earlier model")
    before = {p: Path(p).read_bytes() for p in (table, model)}
    target = {"data": table, "out": model, "out, other spelling": tmp_path / "." / "m.safetensors"}[which]
    status, _, err = gdlearn(capsys, "train", table, "--quiet", "--out", model, "--checkpoint", target)
    assert status == 2 and "is also the data or the model file" in err
    assert {p: Path(p).read_bytes() for p in before} == before


@pytest.mark.parametrize("size, rows", [(0.01, 100), (0.99, 100), (0.5, 3)])
def test_a_held_out_split_too_small_is_refused_before_training(tmp_path, capsys, size, rows):
    data = _csv(tmp_path / "d.csv", [(i, i % 7, 2.0 * i) for i in range(rows)])
    status, out, err = gdlearn(capsys, "train", data, "--test-size", size, "--quiet", "--out", tmp_path / "m")
    assert status == 2 and "--test-size" in err and "at least 2" in err and out == ""
    assert not (tmp_path / "m").exists()


def test_saving_through_a_symbolic_link_writes_its_target(tmp_path, table, capsys):
    real, link = tmp_path / "real.safetensors", tmp_path / "link.safetensors"
    real.write_bytes(b"old")
    link.symlink_to(real)
    assert gdlearn(capsys, "train", table, "--quiet", "--out", link)[0] == 0
    assert link.is_symlink() and gdlearn_load(real).n_features_in_ == 2


LABELS = ["x, y", 'say "hi"', "two\nlines", "tab\there", "plain"]


def test_predictions_of_any_label_read_back_as_csv(tmp_path, capsys):
    labels = np.array(LABELS)[np.digitize(Y_REG, [-3.0, -1.0, 1.0, 3.0])]
    data = _csv(tmp_path / "d.csv", [(a, b, lab) for (a, b, _), lab in zip(X, labels)], header=("a", "b", "kind"))
    assert gdlearn(capsys, "train", data, "--quiet", "--test-size", 0, "--l2", 1, "--out", tmp_path / "m")[0] == 0
    status, out, _ = gdlearn(capsys, "predict", tmp_path / "m", data)
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert rows[0] == ["prediction"] + [f"proba_{c}" for c in sorted(LABELS)]
    assert len(rows) == 61 and {r[0] for r in rows[1:]} <= set(LABELS)
    assert all(abs(sum(map(float, r[1:])) - 1.0) < 1e-12 for r in rows[1:])


def test_predict_out_keeps_the_old_file_when_the_disk_is_full(tmp_path, table, capsys, monkeypatch):
    assert gdlearn(capsys, "train", table, "--quiet", "--test-size", 0, "--out", tmp_path / "m")[0] == 0
    old = tmp_path / "p.csv"
    old.write_text("the old predictions\n")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    status, _, err = gdlearn(capsys, "predict", tmp_path / "m", table, "--out", old)
    assert status == 1 and "No space left" in err and err.count("\n") == 1
    assert old.read_text() == "the old predictions\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_os_errors_are_one_line_messages(tmp_path, table, capsys):
    (tmp_path / "l1").symlink_to(tmp_path / "l2")
    (tmp_path / "l2").symlink_to(tmp_path / "l1")
    status, _, err = gdlearn(capsys, "predict", tmp_path / "l1", table)
    assert status == 1 and "symbolic links" in err and err.count("\n") == 1


def test_every_size_a_user_gives_is_bounded(tmp_path, table, capsys):
    from gdlearn._params import MAX_ITER
    from gdlearn.plotting.surface import MAX_GRID_SIZE, MIN_GRID_SIZE

    assert gdlearn(capsys, "train", table, "--quiet", "--out", tmp_path / "m")[0] == 0
    status, _, err = gdlearn(capsys, "surface", tmp_path / "m", table, "--grid-size", 200_000, "--plot", tmp_path)
    assert status == 2 and f"from {MIN_GRID_SIZE} to {MAX_GRID_SIZE}" in err
    for span, message in [(1e308, "beyond double precision's range"), (1e200, "J is not finite on this grid")]:
        status, _, err = gdlearn(capsys, "surface", tmp_path / "m", table, "--span", span, "--plot", tmp_path)
        last = err.splitlines()[-1]
        assert status == 2 and last.startswith("gdlearn: error: ") and message in last
    for command in (["train", table, "--quiet"], ["sweep", table, "--learning-rates", "0.1"]):
        status, _, err = gdlearn(capsys, *command, "--max-iter", MAX_ITER + 1)
        assert status == 2 and "max_iter must be an integer from 1 to 10,000,000" in err


def test_a_csv_read_from_a_pipe_is_bounded(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)

    def feed():  # more than the limit; the reader stops early, so the pipe breaks
        with contextlib.suppress(BrokenPipeError), open(fifo, "wb") as f:
            f.write(b"a,y\n" + b"1,2\n" * 500_000)

    writer = threading.Thread(target=feed)
    writer.start()
    with pytest.raises(ValueError, match="larger than 1,000,000 bytes"):
        read_csv(fifo, max_bytes=1_000_000)
    writer.join(timeout=30)
    assert not writer.is_alive()


def test_wide_headers_are_read_in_linear_time_and_duplicates_named(tmp_path):
    names = [f"c{i}" for i in range(20_000)]
    path = _csv(tmp_path / "w.csv", [[1.0] * 20_000, [2.0] * 20_000], header=names)
    assert read_csv(path).X.shape == (2, 19_999)
    dup = _csv(tmp_path / "dup.csv", [[1.0] * 20_001], header=[*names, "c7"])
    with pytest.raises(ValueError, match="duplicate column names in the header: c7"):
        read_csv(dup)


def test_two_non_integral_target_values_are_a_measurement_not_labels(tmp_path, capsys):
    data = _csv(tmp_path / "d.csv", [(a, b, 0.5 if a > 0 else 1.5) for a, b, _ in X])
    status, out, _ = gdlearn(capsys, "train", data, "--quiet")
    assert status == 0 and "regression" in out
    labels = _csv(tmp_path / "l.csv", [(a, b, 1 if a > 0 else 0) for a, b, _ in X])
    status, out, err = gdlearn(capsys, "train", labels, "--l2", 1)
    assert "classification" in out and "give --task regression to fit them as numbers" in err
    status, out, err = gdlearn(capsys, "train", labels, "--l2", 1, "--quiet")  # the table's title still says it
    assert "gdlearn classification of 'y'" in out and err == ""
    status, out, err = gdlearn(capsys, "train", labels, "--quiet", "--task", "regression")
    assert status == 0 and "regression" in out and "--task" not in err


# ------------------------------------------------------------- true messages
MESSAGES = {  # (call, error, message): each names the parameter or data at fault and what to do
    "text regression target": (
        lambda: LinearRegression().fit(X, np.where(Y_REG > 0, "a", "b")),
        ValueError,
        "regression target must be numbers",
    ),
    "mixed label types": (
        lambda: LogisticRegression().fit(X, np.array([1 if v > 0 else "a" for v in Y_REG], dtype=object)),
        ValueError,
        r"mixes label types \(int, str\).*astype\(str\)",
    ),
    "mixed numbers": (
        lambda: LogisticRegression().fit(X, np.array([1 if v > 0 else 2.5 for v in Y_REG], dtype=object)),
        ValueError,
        "looks continuous",
    ),
    "growing step schedule": (
        lambda: LinearRegression(solver="gd", learning_rate=StepDecay(0.01, factor=1e300, step_size=1)).fit(X, Y_REG),
        ValueError,
        r"factor must be in \(0, 1\]",
    ),
    "weights beyond double precision": (
        lambda: LinearRegression().fit(X, Y_REG, sample_weight=np.full(60, 1e307)),
        ValueError,
        "sample_weight: the weights sum to more than double precision",
    ),
    "seed beyond numpy's range": (
        lambda: LinearRegression(random_state=2**64).fit(X, Y_REG),
        ValueError,
        "random_state",
    ),
}


@pytest.mark.parametrize("case", MESSAGES)
def test_bad_input_gets_a_true_message(case):
    call, error, message = MESSAGES[case]
    with pytest.raises(error, match=message):
        quiet(call)


def test_numbers_written_as_text_and_object_labels_are_understood():
    as_text = quiet(LinearRegression().fit, X, Y_REG.astype(str))
    np.testing.assert_allclose(as_text.coef_, quiet(LinearRegression().fit, X, Y_REG).coef_, rtol=1e-12)
    labels = np.array([7 if v > 0 else 3 for v in Y_REG], dtype=object)
    clf = quiet(LogisticRegression(l2=1.0).fit, X, labels)
    assert clf.classes_.tolist() == [3, 7] and set(clf.predict(X)) <= {3, 7}


def test_a_decaying_schedule_never_overflows():
    """α_t of InverseDecay with a huge rate is 0 to within double precision, not an OverflowError."""
    schedule = InverseDecay(0.01, rate=1e308, power=2.0)
    assert schedule(0) == 0.01 and schedule(10) == 0.0
    model = quiet(LinearRegression(solver="gd", learning_rate=schedule, max_iter=5).fit, X, Y_REG)
    assert np.all(np.isfinite(model.coef_))


CLI_ARGS = st.fixed_dictionaries(
    {},
    optional={
        "--solver": st.sampled_from(["auto", "gd", "momentum", "adam", "fista", "lbfgs", "newton", "sgd", ""]),
        "--learning-rate": st.sampled_from(["auto", "backtracking", "0.01", "1e9", "-1", "0", "nan", "x"]),
        "--max-iter": st.sampled_from(["1", "5", "0", "-3"]),
        "--tol": st.sampled_from(["0", "1e-4", "-1", "inf"]),
        "--batch-size": st.sampled_from(["1", "7", "1000", "0"]),
        "--l2": st.sampled_from(["0", "1", "-1", "1e308"]),
        "--l1": st.sampled_from(["0", "0.5", "-2"]),
        "--test-size": st.sampled_from(["0", "0.2", "0.99", "1", "-0.5"]),
        "--seed": st.sampled_from(["0", "4294967295", "4294967296", "-1"]),
        "--task": st.sampled_from(["regression", "classification"]),
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=CLI_ARGS, early=st.booleans())
def test_any_train_arguments_end_in_a_model_or_a_one_line_error(tmp_path_factory, args, early):
    tmp = tmp_path_factory.mktemp("cli")
    data = _csv(tmp / "d.csv", [(a, b, int(t > 0)) for (a, b, _), t in zip(X, Y_REG)])
    argv = ["train", data, "--quiet", "--out", str(tmp / "m"), *(x for kv in args.items() for x in kv)]
    argv += ["--early-stopping"] if early else []
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            try:
                status = main(argv)
            except SystemExit as exc:  # argparse: a malformed number
                status = exc.code
    assert "Traceback" not in err.getvalue()
    if status == 0:
        model = gdlearn_load(tmp / "m")
        assert np.all(np.isfinite(model.coef_)) and not (tmp / "m.ckpt").exists()
    else:
        assert status in (1, 2) and err.getvalue().count("\n") >= 1 and not (tmp / "m").exists()


OTHER_COMMANDS = st.one_of(
    st.tuples(
        st.just("sweep"),
        st.sampled_from(["--learning-rates", "--max-iter", "--seed", "--standardize"]),
        st.sampled_from(["0.1", "0.1,1e300", "0", "-1", "1e400", "x", "3", "nan"]),
    ),
    st.tuples(
        st.just("surface"),
        st.sampled_from(["--params", "--grid-size", "--span", "--target", "--no-path"]),
        st.sampled_from(["a,b", "w0,b", "a", "zz,b", "5", "1e300", "-1", "y", "nan"]),
    ),
    st.tuples(st.sampled_from(["predict", "show"]), st.sampled_from(["--out"]), st.sampled_from(["p.csv", "."])),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=OTHER_COMMANDS)
def test_any_arguments_of_the_other_commands_end_in_a_result_or_a_one_line_error(tmp_path_factory, command):
    tmp = tmp_path_factory.mktemp("cli")
    data = _csv(tmp / "d.csv", [(a, b, t) for (a, b, _), t in zip(X, Y_REG)])
    quiet(main, ["train", data, "--quiet", "--out", str(tmp / "m")])
    name, option, value = command
    argv = {"sweep": [name, data], "surface": [name, str(tmp / "m"), data, "--plot", str(tmp)]}.get(
        name, [name, str(tmp / "m"), data] if name == "predict" else [name, str(tmp / "m")]
    )
    argv += [option] if option in ("--standardize", "--no-path") else [option, value]
    err = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        warnings.simplefilter("ignore")
        try:
            with contextlib.chdir(tmp):  # "--out p.csv" is relative: it must not land in the repository
                status = main(argv)
        except SystemExit as exc:  # argparse: a malformed number or an option the command does not have
            status = exc.code
    assert "Traceback" not in err.getvalue() and status in (0, 1, 2)
    assert status == 0 or "error" in err.getvalue()


@pytest.mark.parametrize("mean, spread", [(1e4, 1e-5), (1e8, 1e-3), (-3e6, 1e-2)])
def test_a_sparse_column_with_a_large_mean_and_a_tiny_spread_is_not_taken_as_constant(mean, spread):
    """E[x²] − μ² cancels; the centred second pass does not: CSR fits as dense does."""
    rng = np.random.default_rng(1)
    x = mean + spread * rng.normal(size=200)
    Xd = np.c_[x, rng.normal(size=200)]
    y = (x - mean) / spread + Xd[:, 1]
    dense = LinearRegression().fit(Xd, y)
    csr = quiet(LinearRegression(tol=1e-6).fit, scipy.sparse.csr_matrix(Xd), y)
    assert dense.score(Xd, y) > 1 - 1e-6 and csr.score(Xd, y) > 1 - 1e-6  # was 0.50: the column read as constant
    np.testing.assert_allclose(csr.coef_, dense.coef_, rtol=1e-3)


def test_grid_search_runs_in_parallel_processes():
    """joblib pickles the estimator to its workers: GridSearchCV(n_jobs=2) works and agrees with n_jobs=1."""
    from sklearn.model_selection import GridSearchCV

    grid = {"l2": [0.01, 100.0], "solver": ["lbfgs", "gd"]}
    serial = quiet(GridSearchCV(LogisticRegression(max_iter=50), grid, cv=2).fit, X, Y_BIN)
    parallel = quiet(GridSearchCV(LogisticRegression(max_iter=50), grid, cv=2, n_jobs=2).fit, X, Y_BIN)
    np.testing.assert_allclose(parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"])
    assert parallel.best_params_ == serial.best_params_


DIVERGING = {  # settings that diverge; the advice must never name a setting already in use
    "gd, fixed α": (
        dict(solver="gd", learning_rate=10.0),
        ["learning_rate < ", "learning_rate='auto'", "solver='auto'"],
    ),
    "auto solver, fixed α": (dict(learning_rate=10.0), ["learning_rate < ", "learning_rate='auto'"]),
    "momentum, fixed α": (dict(solver="momentum", learning_rate=10.0), ["stability limit", "learning_rate='auto'"]),
    "adam mini-batches": (
        dict(solver="adam", learning_rate=1e6, batch_size=8),
        ["a tenth: 1e+05", "batch_size than 8"],
    ),
}


@pytest.mark.parametrize("case", DIVERGING)
def test_a_divergence_message_names_what_would_help_and_never_what_is_in_use(case):
    params, expected = DIVERGING[case]
    with pytest.raises(DivergenceError) as exc:
        quiet(LinearRegression(**params).fit, X, Y_REG)
    advice = str(exc.value).split("gradient.")[-1]
    assert all(e in str(exc.value) for e in expected), str(exc.value)
    if "solver" not in params:
        assert "solver='auto'" not in advice


def test_when_the_automatic_step_diverges_the_message_says_so():
    from gdlearn import training
    from gdlearn.optim.factory import make_spec

    spec = make_spec("momentum", "auto", auto_lr=lambda: 0.5, hyper={})
    session = training.Session(solver="momentum", optimizer=spec.build(), seed=0, spec=spec, auto_lr=True)
    cfg = training.Config(solver="momentum", batch_size=16)
    advice = training._advice(session, cfg, 0.5, 2.0, 1.0, minibatch=True)
    assert advice.startswith("The automatic step (learning_rate='auto', in use) was too large here; set")
    assert "a smaller learning_rate (a tenth: 0.05)" in advice and "batch_size than 16" in advice
    assert advice.count("learning_rate='auto'") == 1  # only to say it is in use
