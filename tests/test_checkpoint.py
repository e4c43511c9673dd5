"""gdlearn.checkpoint: resuming gives bit for bit the uninterrupted fit, for every solver and on every kind of stop."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdlearn import DivergenceError, FitInterrupted, LinearRegression, LogisticRegression
from gdlearn._fileformat import write as write_file
from gdlearn.checkpoint import CHECKPOINT_FORMAT_VERSION, CheckpointError, data_fingerprint, read_checkpoint
from gdlearn.data.source import ArraySource

# The problem shared by the in-process tests and the child processes (exec'd in both).
PROBLEM = """
import numpy as np
rng = np.random.default_rng(7)
X = rng.normal(size=(300, 6)) * np.array([1.0, 10.0, 0.1, 1.0, 3.0, 1.0])
y = X @ np.array([1.0, 0.2, -5.0, 2.0, 0.5, -1.0]) + 1.0 + rng.normal(size=300)
y_class = (y > np.median(y)).astype(int)
y_multi = np.digitize(y, np.quantile(y, [0.3, 0.6]))
"""
NS: dict = {}
exec(PROBLEM, NS)
X, Y_REG, Y_CLASS, Y_MULTI = NS["X"], NS["y"], NS["y_class"], NS["y_multi"]


def fit(model, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: the runs stop at max_iter on purpose
        return model.fit(X, y, **kw)


def assert_identical(a, b):
    """Bit-for-bit the same fit."""
    assert np.array_equal(a.coef_, b.coef_)
    assert np.array_equal(a.intercept_, b.intercept_)
    assert a.loss_curve_ == b.loss_curve_
    assert a.history_ == b.history_
    assert (a.n_iter_, a.converged_, a.stop_reason_, a.best_iteration_) == (
        b.n_iter_,
        b.converged_,
        b.stop_reason_,
        b.best_iteration_,
    )
    assert a.learning_rate_ == b.learning_rate_
    if hasattr(a, "path_"):
        assert np.array_equal(a.path_, b.path_)


SOLVERS = {
    "gd": dict(solver="gd"),
    "gd fixed lr": dict(solver="gd", learning_rate=1e-3),
    "momentum": dict(solver="momentum"),
    "nesterov": dict(solver="nesterov"),
    "adagrad": dict(solver="adagrad"),
    "rmsprop": dict(solver="rmsprop"),
    "adam": dict(solver="adam"),
    "fista": dict(solver="fista", l1=2.0),
    "lbfgs": dict(solver="lbfgs", l2=0.1),
    "newton": dict(solver="newton", l2=0.1),
    "backtracking": dict(solver="gd", learning_rate="backtracking"),
    "gd l1 prox": dict(solver="gd", l1=1.0),
}
MINIBATCH = {
    "sgd": dict(solver="gd", batch_size=1),
    "momentum": dict(solver="momentum", batch_size=32),
    "adam": dict(solver="adam", batch_size=50, l2=1.0),
    "rmsprop no shuffle": dict(solver="rmsprop", batch_size=64, shuffle=False),
    "adagrad l1": dict(solver="adagrad", batch_size=40, l1=0.5),
}


def resume_matches(tmp_path, make, y, *, stop, total, X=X, **fit_kw):
    """Fit ``stop`` iterations with a checkpoint, resume to ``total``; compare with one fit of ``total``."""
    ckpt = tmp_path / "run.ckpt"
    full = fit(make(max_iter=total), X, y, **fit_kw)
    first = fit(make(max_iter=stop, checkpoint=ckpt, checkpoint_every=7), X, y, **fit_kw)
    assert read_checkpoint(ckpt).iteration == first.n_iter_ == stop
    resumed = fit(make(max_iter=total, checkpoint=ckpt, checkpoint_every=1000), X, y, resume=True, **fit_kw)
    assert_identical(full, resumed)
    assert resumed.n_iter_ == total
    return full, resumed


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("Model", [LinearRegression, LogisticRegression])
def test_resume_is_bit_identical_for_every_solver(tmp_path, Model, solver):
    kw = SOLVERS[solver]
    y = Y_REG if Model is LinearRegression else Y_CLASS

    def make(**extra):
        return Model(tol=0.0, random_state=0, **kw, **extra)

    resume_matches(tmp_path, make, y, stop=9, total=25)


@pytest.mark.parametrize("case", MINIBATCH)
def test_resume_is_bit_identical_with_minibatches(tmp_path, case):
    kw = MINIBATCH[case]

    def make(**extra):
        return LogisticRegression(tol=0.0, n_iter_no_change=1000, random_state=3, **kw, **extra)

    resume_matches(tmp_path, make, Y_MULTI, stop=3, total=6)


def test_resume_with_validation_early_stopping_and_recorded_path(tmp_path):
    def make(**extra):
        return LinearRegression(
            solver="momentum",
            batch_size=25,
            learning_rate=1e-4,
            validation_fraction=0.2,
            early_stopping=True,
            n_iter_no_change=50,
            record_path=True,
            tol=0.0,
            random_state=11,
            **extra,
        )

    full, resumed = resume_matches(tmp_path, make, Y_REG, stop=6, total=15)
    assert len(resumed.history_["val_loss"]) == 16 and resumed.path_.shape == (16, 7)


def test_resume_with_sample_weights_multi_output_and_sparse_X(tmp_path):
    w = np.linspace(0.5, 2.0, len(X))
    Xs = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    Y2 = np.c_[Y_REG, Y_REG**2 / 10]

    def make(**extra):
        return LinearRegression(solver="nesterov", tol=0.0, random_state=0, **extra)

    resume_matches(tmp_path, make, Y2, stop=5, total=12, X=Xs, sample_weight=w)


def test_resume_until_convergence_then_nothing_is_left_to_do(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    # diagonal preconditioning: whitened least squares would converge in one step
    full = fit(LinearRegression(solver="lbfgs", precondition="diagonal"), X, Y_REG)
    assert full.converged_ and full.n_iter_ > 3
    fit(LinearRegression(solver="lbfgs", precondition="diagonal", max_iter=3, checkpoint=ckpt), X, Y_REG)
    resumed = fit(LinearRegression(solver="lbfgs", precondition="diagonal", checkpoint=ckpt), X, Y_REG, resume=True)
    assert_identical(full, resumed)
    assert read_checkpoint(ckpt).iteration == full.n_iter_  # converged: the final state is written


def test_resuming_a_converged_checkpoint_runs_no_more_iterations(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    full = fit(LinearRegression(solver="lbfgs", checkpoint=ckpt), X, Y_REG)
    assert full.converged_ and read_checkpoint(ckpt).iteration == full.n_iter_
    again = fit(LinearRegression(solver="lbfgs", checkpoint=ckpt), X, Y_REG, resume=True)
    assert_identical(full, again)


def test_random_state_none_resumes_with_the_checkpointed_seed(tmp_path):
    ckpt = tmp_path / "run.ckpt"

    def make(**extra):
        return LinearRegression(solver="adam", batch_size=16, tol=0.0, n_iter_no_change=1000, **extra)

    fit(make(max_iter=4, checkpoint=ckpt), X, Y_REG)
    seed = read_checkpoint(ckpt).seed
    resumed = fit(make(max_iter=10, checkpoint=ckpt), X, Y_REG, resume=True)
    assert_identical(fit(make(max_iter=10, random_state=seed), X, Y_REG), resumed)
    other = fit(make(max_iter=10, random_state=seed + 1), X, Y_REG)
    assert not np.array_equal(other.coef_, resumed.coef_)  # the seed matters, so the test can fail


def test_ctrl_c_saves_the_last_completed_iteration(tmp_path):
    ckpt = tmp_path / "run.ckpt"

    def make(**extra):
        return LogisticRegression(solver="adam", batch_size=30, tol=0.0, n_iter_no_change=1000, **extra)

    def interrupt_at_7(info):
        if info.iteration == 7:
            raise KeyboardInterrupt

    with pytest.raises(FitInterrupted) as exc:
        fit(make(max_iter=20, checkpoint=ckpt, checkpoint_every=5), X, Y_MULTI, callback=interrupt_at_7)
    assert exc.value.checkpoint == str(ckpt)
    # iteration 7 completed, but the interrupt came before it was handed to the checkpointer
    assert read_checkpoint(ckpt).iteration == 6
    resumed = fit(make(max_iter=20, checkpoint=ckpt), X, Y_MULTI, resume=True)
    seed = read_checkpoint(ckpt).seed
    assert_identical(fit(make(max_iter=20, random_state=seed), X, Y_MULTI), resumed)


def test_ctrl_c_before_the_first_iteration_of_a_resumed_fit_keeps_the_checkpoint(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    fit(LinearRegression(solver="gd", precondition="diagonal", max_iter=5, checkpoint=ckpt, random_state=0), X, Y_REG)
    before = ckpt.read_bytes()

    def interrupt(info):
        raise KeyboardInterrupt

    with pytest.raises(FitInterrupted) as exc:
        fit(
            LinearRegression(solver="gd", precondition="diagonal", max_iter=9, checkpoint=ckpt, random_state=0),
            X,
            Y_REG,
            callback=interrupt,
            resume=True,
        )
    assert exc.value.checkpoint == str(ckpt)
    assert ckpt.read_bytes() == before
    fresh = tmp_path / "fresh.ckpt"
    with pytest.raises(FitInterrupted) as exc:
        fit(LinearRegression(solver="gd", max_iter=9, checkpoint=fresh), X, Y_REG, callback=interrupt)
    assert exc.value.checkpoint is None and not fresh.exists()  # nothing completed, nothing to save


def test_checkpoint_is_written_every_n_iterations_and_at_the_end(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    seen = []

    def watch(info):  # called before the checkpointer sees this iteration
        seen.append(read_checkpoint(ckpt).iteration if ckpt.exists() else None)

    fit(
        LinearRegression(solver="gd", max_iter=23, tol=0.0, checkpoint=ckpt, checkpoint_every=5),
        X,
        Y_REG,
        callback=watch,
    )
    expected = [None] * 5 + [5] * 5 + [10] * 5 + [15] * 5 + [20] * 3
    assert seen == expected
    assert read_checkpoint(ckpt).iteration == 23  # max_iter reached: the final state
    assert sorted(os.listdir(tmp_path)) == ["run.ckpt"]


def test_checkpoint_seconds_writes_on_time(tmp_path, monkeypatch):
    """A fake clock that advances 0.02 s per reading: with checkpoint_seconds=0.03 every other iteration is written."""
    import gdlearn.checkpoint as module

    clock = iter(np.arange(0.0, 100.0, 0.02))
    monkeypatch.setattr(module.time, "monotonic", lambda: float(next(clock)))
    ckpt = tmp_path / "run.ckpt"
    seen = []

    def record(info):
        seen.append(read_checkpoint(ckpt).iteration if ckpt.exists() else None)

    model = LinearRegression(
        solver="gd", max_iter=7, tol=0.0, checkpoint=ckpt, checkpoint_every=10**6, checkpoint_seconds=0.03
    )
    fit(model, X, Y_REG, callback=record)
    assert seen == [None, None, 2, 2, 4, 4, 6]  # the callback runs before the iteration's checkpoint


def test_parameters_that_may_change_on_resume(tmp_path):
    """max_iter, verbose and checkpoint_* may differ; the checkpoint file may be renamed."""
    ckpt = tmp_path / "run.ckpt"
    fit(LinearRegression(solver="momentum", max_iter=4, tol=0.0, checkpoint=ckpt, random_state=1), X, Y_REG)
    moved = tmp_path / "moved.ckpt"
    os.replace(ckpt, moved)
    resumed = fit(
        LinearRegression(
            solver="momentum",
            max_iter=8,
            tol=0.0,
            checkpoint=str(moved),
            checkpoint_every=3,
            checkpoint_seconds=100.0,
            random_state=1,
        ),
        X,
        Y_REG,
        resume=True,
    )
    assert_identical(fit(LinearRegression(solver="momentum", max_iter=8, tol=0.0, random_state=1), X, Y_REG), resumed)


# ------------------------------------------------------------- refusals
@pytest.fixture
def checkpoint_file(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    fit(LinearRegression(solver="adam", l2=0.5, max_iter=3, checkpoint=ckpt, random_state=0), X, Y_REG)
    return ckpt


def test_resume_without_a_checkpoint_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "missing.ckpt"
    with pytest.raises(FileNotFoundError, match="resume=True.*does not exist") as exc:
        LinearRegression(checkpoint=missing).fit(X, Y_REG, resume=True)
    assert str(missing) in str(exc.value)
    with pytest.raises(ValueError, match="resume=True needs the checkpoint parameter"):
        LinearRegression().fit(X, Y_REG, resume=True)
    with pytest.raises(FileNotFoundError, match="directory"):
        LinearRegression(checkpoint=tmp_path / "no" / "such" / "dir.ckpt").fit(X, Y_REG)


MISMATCHES = {
    "other parameter": (lambda: LinearRegression(solver="adam", l2=0.6, random_state=0), X, Y_REG, "l2=0.6 here"),
    "other solver": (lambda: LinearRegression(solver="rmsprop", l2=0.5, random_state=0), X, Y_REG, "solver"),
    "other seed": (lambda: LinearRegression(solver="adam", l2=0.5, random_state=1), X, Y_REG, "random_state"),
    "other kind": (lambda: LogisticRegression(solver="adam", l2=0.5, random_state=0), X, Y_CLASS, "LinearRegression"),
    "fewer samples": (lambda: LinearRegression(solver="adam", l2=0.5, random_state=0), X[:-1], Y_REG[:-1], "n_samples"),
    "other features": (lambda: LinearRegression(solver="adam", l2=0.5, random_state=0), X[:, :5], Y_REG, "n_features"),
    "other targets": (lambda: LinearRegression(solver="adam", l2=0.5, random_state=0), X, Y_REG + 1e-9, "different"),
    "other X": (lambda: LinearRegression(solver="adam", l2=0.5, random_state=0), X[::-1], Y_REG[::-1], "different"),
}


@pytest.mark.parametrize("case", MISMATCHES)
def test_a_checkpoint_of_another_fit_is_refused(checkpoint_file, case):
    make, Xc, yc, message = MISMATCHES[case]
    with pytest.raises(CheckpointError, match=message) as exc:
        fit(make().set_params(checkpoint=checkpoint_file), Xc, yc, resume=True)
    assert str(checkpoint_file) in str(exc.value)


def test_class_labels_must_match(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    fit(LogisticRegression(solver="gd", max_iter=2, checkpoint=ckpt, random_state=0), X, Y_CLASS)
    with pytest.raises(CheckpointError, match="class labels"):
        fit(LogisticRegression(solver="gd", checkpoint=ckpt, random_state=0), X, Y_CLASS + 1, resume=True)


def test_corrupted_or_foreign_checkpoints_are_refused(checkpoint_file, tmp_path):
    make = LinearRegression(solver="adam", l2=0.5, random_state=0, checkpoint=checkpoint_file)
    data = checkpoint_file.read_bytes()
    flipped = bytearray(data)
    flipped[-3] ^= 0x10  # a bit of the last array's data
    for bad, message in [
        (data[: len(data) // 2], "truncated"),
        (bytes(flipped), "checksum mismatch"),
        (data.replace(b'\\"iteration\\":3', b'\\"iteration\\":4'), "checksum mismatch"),
        (b"", "empty"),
        (b"\x80\x04K\x01.", "pickle"),
    ]:
        assert bad != data
        checkpoint_file.write_bytes(bad)
        with pytest.raises(CheckpointError, match=message):
            fit(make, X, Y_REG, resume=True)
    from gdlearn.persistence import save

    save(fit(LinearRegression(), X, Y_REG), checkpoint_file)
    with pytest.raises(CheckpointError, match="saved model, not a checkpoint"):
        fit(make, X, Y_REG, resume=True)


def _edit(ckpt: Path, edit) -> None:
    """Apply ``edit(header, arrays)`` to a checkpoint and write it back with a valid checksum (a forgery)."""
    info = read_checkpoint(ckpt)
    header, arrays = copy.deepcopy(info.header), dict(info.arrays)
    edit(header, arrays)
    body = {k: v for k, v in header.items() if k not in ("format", "format_version", "gdlearn_version")}
    write_file(ckpt, header["format"], header["format_version"], body, arrays)


def _set(arrays, name, value):
    arrays[name] = np.asarray(value)


def _nan_at_0(arrays, name):
    a = arrays[name].copy()
    a.flat[0] = np.nan
    arrays[name] = a


STATE_EDITS = {
    "theta shape": (lambda h, a: _set(a, "state/theta", a["state/theta"][:6]), "state/theta must be float64"),
    "theta nan": (lambda h, a: _nan_at_0(a, "state/theta"), "NaN"),
    "theta dtype": (lambda h, a: _set(a, "state/theta", a["state/theta"].astype(np.float32)), "must be float64"),
    "opt state missing": (lambda h, a: a.pop("state/opt/adam/mu"), "does not match this fit's state"),
    "opt state shape": (lambda h, a: _set(a, "state/opt/adam/mu", np.zeros((1, 7))), "state/opt/adam/mu must be"),
    "opt state positional": (
        lambda h, a: a.update({"state/opt/0/mu": a.pop("state/opt/adam/mu")}),
        "does not match this fit's state",
    ),
    "history length": (lambda h, a: _set(a, "state/history/loss", a["state/history/loss"][:-1]), "iteration \\+ 1"),
    "history series": (lambda h, a: _set(a, "state/history/val_loss", np.zeros(4)), "does not match"),
    "iteration": (lambda h, a: h["state"].update(iteration=-1), "iteration"),
    "counter": (lambda h, a: _set(a, "state/best_iteration", np.array(99)), "counter"),
    "unknown field": (lambda h, a: h["state"].update(extra=1), "must have the fields"),
    "wrong type": (lambda h, a: h["data"].update(n_samples="300"), "wrong type"),
    "future version": (lambda h, a: h.update(format_version=CHECKPOINT_FORMAT_VERSION + 1), "newer gdlearn"),
    "path absent": (lambda h, a: h["params"].update(record_path="True"), "record_path"),
}


SESSION_EDITS = {  # the session must be this fit's: solver, preconditioning, step size (a fixed one cannot change)
    "solver": (lambda h, a: h["session"].update(solver="momentum"), "written by solver 'momentum'"),
    "no preconditioning": (lambda h, a: h["session"].update(coords=None), "preconditioning"),
    "coords shape": (
        lambda h, a: _set(a, "session/coords/mean", a["session/coords/mean"][:3]),
        "session/coords/mean must be",
    ),
    "coords nan": (lambda h, a: _nan_at_0(a, "session/coords/scale"), "NaN"),
    "coords scale": (lambda h, a: _set(a, "session/coords/scale", -a["session/coords/scale"]), "positive scales"),
    "step size": (lambda h, a: _set(a, "session/lr", np.array(0.123)), "learning rate 0.123 differs"),
    "step size nan": (lambda h, a: _set(a, "session/lr", np.array(np.nan)), "session/lr must be a finite"),
}


@pytest.mark.parametrize("case", SESSION_EDITS)
def test_checkpoint_of_another_session_is_refused(tmp_path, case):
    ckpt = tmp_path / "run.ckpt"

    def make(**extra):  # a fixed α: the checkpoint's step cannot replace it
        return LinearRegression(solver="gd", learning_rate=1e-3, precondition=True, checkpoint=ckpt, **extra)

    fit(make(max_iter=2, random_state=0), X, Y_REG)
    edit, message = SESSION_EDITS[case]
    _edit(ckpt, edit)
    with pytest.raises(CheckpointError, match=message):
        fit(make(max_iter=4, random_state=0), X, Y_REG, resume=True)


def test_checkpoints_of_gdlearn_0_1_are_refused_with_the_version_that_wrote_them(checkpoint_file):
    doc = {"format": "gdlearn-checkpoint", "format_version": 2, "gdlearn_version": "0.1.0", "state": {}}
    checkpoint_file.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="written by gdlearn 0.1.0 .*format 2, JSON.*without resume=True"):
        fit(LinearRegression(solver="adam", l2=0.5, random_state=0, checkpoint=checkpoint_file), X, Y_REG, resume=True)


@pytest.mark.parametrize("case", STATE_EDITS)
def test_invalid_state_is_refused(checkpoint_file, case):
    edit, message = STATE_EDITS[case]
    _edit(checkpoint_file, edit)
    model = LinearRegression(solver="adam", l2=0.5, random_state=0, checkpoint=checkpoint_file)
    if case == "path absent":
        model.set_params(record_path=True)
    with pytest.raises(CheckpointError, match=message):
        fit(model, X, Y_REG, resume=True)


def test_resume_uses_the_checkpointed_step_size_and_scaling(tmp_path):
    """Arithmetic that differs between machines (1/L, column scales) is taken from the checkpoint."""
    ckpt = tmp_path / "run.ckpt"

    def make(**extra):
        return LinearRegression(solver="gd", tol=0.0, random_state=0, checkpoint=ckpt, **extra)

    fit(make(max_iter=3), X, Y_REG)
    saved = read_checkpoint(ckpt).arrays
    lr, matrix = float(saved["session/lr"]), saved["session/coords/matrix"]

    def edit(h, a):
        a["session/lr"] = np.array(lr * 0.5)
        changed = matrix.copy()
        changed.flat[0] *= 2.0
        a["session/coords/matrix"] = changed

    _edit(ckpt, edit)
    resumed = fit(make(max_iter=6), X, Y_REG, resume=True)
    assert resumed.learning_rate_ == lr * 0.5
    assert resumed._session.coords.matrix.flat[0] == matrix.flat[0] * 2.0
    plain = fit(make(max_iter=6), X, Y_REG)
    assert not np.array_equal(plain.coef_, resumed.coef_)


def test_optimizer_state_is_named_by_block(tmp_path):
    """Each block's state is under its name, not its position in the chain."""
    ckpt = tmp_path / "run.ckpt"
    fit(LinearRegression(solver="momentum", max_iter=2, checkpoint=ckpt, random_state=0), X, Y_REG)
    names = sorted(k for k in read_checkpoint(ckpt).arrays if k.startswith("state/opt/"))
    assert names == ["state/opt/learning_rate/count", "state/opt/learning_rate/lr", "state/opt/trace/v"]


def test_the_data_fingerprint_reads_a_sample_and_copies_nothing():
    """A small fraction of one pass: sampled rows of X, all of y; no copy of X."""
    import tracemalloc

    rng = np.random.default_rng(0)
    big = rng.normal(size=(40_000, 50)).astype(np.float32)  # 8 MB
    data = ArraySource(big, rng.normal(size=(40_000, 1)))
    tracemalloc.start()
    first = data_fingerprint(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000
    assert first == data_fingerprint(ArraySource(big.copy(), data.Y.copy()))
    for change in (lambda a: a.__setitem__((0, 0), 7.0), lambda a: a.__setitem__((-1, 3), 7.0)):
        other = big.copy()
        change(other)
        assert data_fingerprint(ArraySource(other, data.Y)) != first
    assert data_fingerprint(ArraySource(big, data.Y + 1e-9)) != first
    assert data_fingerprint(ArraySource(big.astype(np.float64), data.Y)) != first


# ---------------------------------------------------------- subprocesses
CHILD_KILL = (
    PROBLEM
    + """
import sys, time, warnings
warnings.simplefilter("ignore")
from gdlearn import LinearRegression
model = LinearRegression(solver="momentum", batch_size=32, learning_rate=0.002, max_iter=150, tol=0.0,
                         n_iter_no_change=10**6, checkpoint=sys.argv[1], checkpoint_every=1)
model.fit(X, y, callback=lambda info: time.sleep(0.003))
"""
)


def _wait_for_iteration(ckpt, child, at_least, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        assert child.poll() is None, child.stderr.read().decode()
        assert time.monotonic() < deadline, "the child made no progress"
        if ckpt.exists():
            it = read_checkpoint(ckpt).iteration  # never a partial file: writes are atomic
            if it >= at_least:
                return it
        time.sleep(0.005)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_sigkill_during_training_then_resume_is_bit_identical(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    child = subprocess.Popen([sys.executable, "-c", CHILD_KILL, str(ckpt)], stderr=subprocess.PIPE)
    try:
        _wait_for_iteration(ckpt, child, at_least=15)
    finally:
        child.kill()
        child.wait()
        child.stderr.close()
    info = read_checkpoint(ckpt)
    assert 15 <= info.iteration < 150  # killed mid-way
    params = dict(solver="momentum", batch_size=32, learning_rate=0.002, max_iter=150, tol=0.0, n_iter_no_change=10**6)
    resumed = fit(LinearRegression(**params, checkpoint=ckpt, checkpoint_every=10**6), X, Y_REG, resume=True)
    full = fit(LinearRegression(**params, random_state=info.seed), X, Y_REG)
    assert_identical(full, resumed)
    assert resumed.n_iter_ == 150


CHILD_INTERRUPT = (
    PROBLEM
    + """
import json, sys, warnings
warnings.simplefilter("ignore")
from gdlearn import FitInterrupted, LogisticRegression
model = LogisticRegression(solver="adam", batch_size=4, max_iter=400, tol=0.0, n_iter_no_change=10**6,
                           checkpoint=sys.argv[1], checkpoint_every=1)
try:
    model.fit(X, y_multi)
    print(json.dumps({"finished": True}))
except FitInterrupted as exc:
    print(json.dumps({"checkpoint": exc.checkpoint, "iteration": exc.iteration}))
"""
)


@pytest.mark.skipif(os.name != "posix", reason="SIGINT")
def test_sigint_mid_epoch_saves_a_consistent_state(tmp_path):
    """Ctrl-C lands at a random point of an epoch of 75 mini-batch steps: the saved state is a whole epoch."""
    ckpt = tmp_path / "run.ckpt"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_INTERRUPT, str(ckpt)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        _wait_for_iteration(ckpt, child, at_least=3)
        time.sleep(np.random.default_rng(20261202).uniform(0.0, 0.01))  # seeded: a reproducible landing point
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
        child.wait()
    report = json.loads(out.decode().strip().splitlines()[-1])
    assert report.get("checkpoint") == str(ckpt), err.decode()
    info = read_checkpoint(ckpt)
    assert info.iteration in (report["iteration"], report["iteration"] - 1)
    params = dict(solver="adam", batch_size=4, tol=0.0, n_iter_no_change=10**6)
    total = info.iteration + 3
    resumed = fit(LogisticRegression(**params, max_iter=total, checkpoint=ckpt), X, Y_MULTI, resume=True)
    full = fit(LogisticRegression(**params, max_iter=total, random_state=info.seed), X, Y_MULTI)
    assert_identical(full, resumed)


# ----------------------------------------------------------------- fuzz
@pytest.fixture(scope="module")
def valid_checkpoint(tmp_path_factory):
    ckpt = tmp_path_factory.mktemp("ckpt") / "run.ckpt"
    fit(LogisticRegression(solver="lbfgs", max_iter=4, checkpoint=ckpt, random_state=0, l2=1.0), X, Y_MULTI)
    info = read_checkpoint(ckpt)
    return info.header, info.arrays


FUZZ_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=6,
)
FUZZ_ARRAYS = st.sampled_from([np.zeros(0), np.zeros((3, 1)), np.array(1), np.array(np.inf), np.ones((6, 3), bool)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_restore_either_resumes_or_raises_checkpoint_error(tmp_path, valid_checkpoint, data):
    """Forged checkpoints (valid checksum): a header field or an array replaced or removed."""
    header, arrays = copy.deepcopy(valid_checkpoint[0]), dict(valid_checkpoint[1])
    if data.draw(st.booleans()):
        node, parent, key = header, None, None
        while isinstance(node, dict) and node and (parent is None or data.draw(st.booleans())):
            parent, key = node, data.draw(st.sampled_from(sorted(node)))
            node = node[key]
        if data.draw(st.booleans()):
            parent[key] = copy.deepcopy(data.draw(FUZZ_VALUES))
        else:
            del parent[key]
    else:
        name = data.draw(st.sampled_from(sorted(arrays)))
        if data.draw(st.booleans()):
            arrays[name] = data.draw(FUZZ_ARRAYS)
        else:
            del arrays[name]
    ckpt = tmp_path / "fuzz.ckpt"
    body = {k: v for k, v in header.items() if k not in ("format", "format_version", "gdlearn_version")}
    write_file(ckpt, header.get("format", "x"), header.get("format_version", 3), body, arrays)
    model = LogisticRegression(solver="lbfgs", max_iter=6, checkpoint=ckpt, random_state=0, l2=1.0)
    try:
        fit(model, X, Y_MULTI, resume=True)
    except CheckpointError:
        return
    except DivergenceError:  # a state that passes every check may still be a bad place to continue from
        return
    assert np.all(np.isfinite(model.coef_)) and model.n_iter_ <= 6


def test_a_fit_started_while_handling_ctrl_c_still_checkpoints(tmp_path):
    """The retry pattern `except KeyboardInterrupt: model.fit(..., resume=True)` must keep writing."""
    ckpt = tmp_path / "run.ckpt"

    def make(**extra):
        return LinearRegression(solver="gd", tol=0.0, random_state=0, checkpoint=ckpt, checkpoint_every=1, **extra)

    def interrupt_at_3(info):
        if info.iteration == 3:
            raise KeyboardInterrupt

    try:
        fit(make(max_iter=10), X, Y_REG, callback=interrupt_at_3)
    except KeyboardInterrupt:
        seen = []
        resumed = fit(make(max_iter=10), X, Y_REG, resume=True, callback=lambda info: seen.append(info.iteration))
    assert seen == list(range(3, 11))
    assert read_checkpoint(ckpt).iteration == 10
    assert_identical(fit(LinearRegression(solver="gd", tol=0.0, random_state=0, max_iter=10), X, Y_REG), resumed)
