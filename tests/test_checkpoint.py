"""gdlearn.checkpoint: resuming gives bit for bit the uninterrupted fit, for every solver and on every kind of stop."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _cli import interruptible
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from gdlearn import DivergenceError, FitInterrupted, LinearRegression, LogisticRegression
from gdlearn._fileformat import write as write_file
from gdlearn.checkpoint import CHECKPOINT_FORMAT_VERSION, CheckpointError, data_fingerprint, read_checkpoint
from gdlearn.data.source import ArraySource
from gdlearn.persistence import save

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
FITTED = ("coef_", "intercept_", "loss_curve_", "history_", "n_iter_", "converged_", "stop_reason_", "best_iteration_")


def fit(model, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: the runs stop at max_iter on purpose
        return model.fit(X, y, **kw)


def saved_iteration(path) -> int:
    return read_checkpoint(path)[0]["state"]["iteration"]


def assert_identical(a, b):
    """Bit-for-bit the same fit."""
    for name in (*FITTED, "learning_rate_", "path_"):
        va, vb = getattr(a, name, None), getattr(b, name, None)
        assert np.array_equal(va, vb) if isinstance(va, np.ndarray) else va == vb, name


def resume_matches(tmp_path, make, y, *, stop, total, X=X, **fit_kw):
    """Fit ``stop`` iterations with a checkpoint, resume to ``total``; compare with one fit of ``total``."""
    ckpt = tmp_path / "run.ckpt"
    full = fit(make(max_iter=total), X, y, **fit_kw)
    first = fit(make(max_iter=stop, checkpoint=ckpt, checkpoint_every=7), X, y, **fit_kw)
    assert first is not full and len(first.loss_curve_) == stop + 1 < len(full.loss_curve_)  # two fits, not one
    assert saved_iteration(ckpt) == first.n_iter_ == stop
    resumed = fit(make(max_iter=total, checkpoint=ckpt, checkpoint_every=1000), X, y, resume=True, **fit_kw)
    assert_identical(full, resumed)
    assert resumed.n_iter_ == total
    return resumed


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


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("Model", [LinearRegression, LogisticRegression])
def test_resume_is_bit_identical_for_every_solver(tmp_path, Model, solver):
    y = Y_REG if Model is LinearRegression else Y_CLASS
    resume_matches(tmp_path, lambda **kw: Model(tol=0.0, random_state=0, **SOLVERS[solver], **kw), y, stop=9, total=25)


W, XS = np.linspace(0.5, 2.0, len(X)), sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
MB = dict(tol=0.0, n_iter_no_change=1000, random_state=3)
EARLY = dict(validation_fraction=0.2, early_stopping=True, n_iter_no_change=50, record_path=True, learning_rate=1e-4)
CASES = {  # (model, y, fit keywords, stop, total)
    "sgd": (LogisticRegression(solver="gd", batch_size=1, **MB), Y_MULTI, {}, 3, 6),
    "momentum": (LogisticRegression(solver="momentum", batch_size=32, **MB), Y_MULTI, {}, 3, 6),
    "adam l2": (LogisticRegression(solver="adam", batch_size=50, l2=1.0, **MB), Y_MULTI, {}, 3, 6),
    "rmsprop no shuffle": (LogisticRegression(solver="rmsprop", batch_size=64, shuffle=False, **MB), Y_MULTI, {}, 3, 6),
    "adagrad l1": (LogisticRegression(solver="adagrad", batch_size=40, l1=0.5, **MB), Y_MULTI, {}, 3, 6),
    "early stopping, path": (
        LinearRegression(solver="momentum", batch_size=25, tol=0, random_state=11, **EARLY),
        Y_REG,
        {},
        6,
        15,
    ),
    "weights, 2 outputs, sparse": (
        LinearRegression(solver="nesterov", **MB),
        np.c_[Y_REG, Y_REG**2],
        {"X": XS, "sample_weight": W},
        5,
        12,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_resume_is_bit_identical_with_minibatches_validation_weights_and_sparse_x(tmp_path, case):
    model, y, fit_kw, stop, total = CASES[case]
    resumed = resume_matches(tmp_path, lambda **kw: clone(model).set_params(**kw), y, stop=stop, total=total, **fit_kw)
    if case == "early stopping, path":
        assert len(resumed.history_["val_loss"]) == 16 and resumed.path_.shape == (16, 7)


def test_a_finished_fit_resumes_to_itself(tmp_path):
    """Converged mid-way (resume to convergence) or at the end (resume runs nothing)."""
    ckpt = tmp_path / "run.ckpt"
    make = lambda **kw: LinearRegression(solver="lbfgs", precondition="diagonal", **kw)  # noqa: E731
    full = fit(make(), X, Y_REG)
    assert full.converged_ and full.n_iter_ > 3
    fit(make(max_iter=3, checkpoint=ckpt), X, Y_REG)
    assert_identical(full, fit(make(checkpoint=ckpt), X, Y_REG, resume=True))
    assert saved_iteration(ckpt) == full.n_iter_  # converged: the final state is written
    seen = []
    again = fit(make(checkpoint=ckpt), X, Y_REG, resume=True, callback=seen.append)
    assert_identical(full, again) and seen == []


def test_resume_takes_the_checkpointed_seed_and_may_change_only_max_iter_and_checkpoint_settings(tmp_path):
    ckpt, moved = tmp_path / "run.ckpt", tmp_path / "moved.ckpt"
    make = lambda **kw: LinearRegression(solver="adam", batch_size=16, tol=0.0, n_iter_no_change=1000, **kw)  # noqa
    fit(make(max_iter=4, checkpoint=ckpt), X, Y_REG)  # random_state=None: a drawn seed
    seed = read_checkpoint(ckpt)[0]["seed"]
    os.replace(ckpt, moved)
    resumed = fit(
        make(max_iter=10, checkpoint=str(moved), checkpoint_every=3, checkpoint_seconds=100.0, verbose=0),
        X,
        Y_REG,
        resume=True,
    )
    assert_identical(fit(make(max_iter=10, random_state=seed), X, Y_REG), resumed)
    assert not np.array_equal(fit(make(max_iter=10, random_state=seed + 1), X, Y_REG).coef_, resumed.coef_)


def stop_at(k):
    def callback(info):
        if info.iteration == k:
            raise KeyboardInterrupt

    return callback


def test_ctrl_c_saves_the_last_completed_iteration(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    make = lambda **kw: LogisticRegression(solver="adam", batch_size=30, tol=0.0, n_iter_no_change=1000, **kw)  # noqa
    with pytest.raises(FitInterrupted) as exc:
        fit(make(max_iter=20, checkpoint=ckpt, checkpoint_every=5), X, Y_MULTI, callback=stop_at(7))
    # iteration 7 completed, but the interrupt came before it was handed to the checkpointer
    assert exc.value.checkpoint == str(ckpt) and exc.value.iteration == saved_iteration(ckpt) == 6
    resumed = fit(make(max_iter=20, checkpoint=ckpt), X, Y_MULTI, resume=True)
    assert_identical(fit(make(max_iter=20, random_state=read_checkpoint(ckpt)[0]["seed"]), X, Y_MULTI), resumed)


def test_ctrl_c_before_the_first_iteration_saves_nothing_new(tmp_path):
    ckpt, fresh = tmp_path / "run.ckpt", tmp_path / "fresh.ckpt"
    make = lambda **kw: LinearRegression(solver="gd", precondition="diagonal", random_state=0, **kw)  # noqa: E731
    fit(make(max_iter=5, checkpoint=ckpt), X, Y_REG)
    before = ckpt.read_bytes()
    with pytest.raises(FitInterrupted) as exc:
        fit(make(max_iter=9, checkpoint=ckpt), X, Y_REG, callback=stop_at(6), resume=True)
    assert exc.value.checkpoint == str(ckpt) and ckpt.read_bytes() == before
    with pytest.raises(FitInterrupted) as exc:
        fit(make(max_iter=9, checkpoint=fresh), X, Y_REG, callback=stop_at(1))
    assert exc.value.checkpoint is None and not fresh.exists()  # nothing completed, nothing to save


def test_a_fit_started_while_handling_ctrl_c_still_checkpoints(tmp_path):
    """The retry pattern `except KeyboardInterrupt: model.fit(..., resume=True)` must keep writing."""
    ckpt, seen = tmp_path / "run.ckpt", []
    make = lambda **kw: LinearRegression(solver="gd", tol=0.0, random_state=0, max_iter=10, **kw)  # noqa: E731
    try:
        fit(make(checkpoint=ckpt, checkpoint_every=1), X, Y_REG, callback=stop_at(3))
    except KeyboardInterrupt:
        resumed = fit(make(checkpoint=ckpt, checkpoint_every=1), X, Y_REG, resume=True, callback=seen.append)
    assert [info.iteration for info in seen] == list(range(3, 11)) and saved_iteration(ckpt) == 10
    assert_identical(fit(make(), X, Y_REG), resumed)


def test_checkpoints_are_written_every_n_iterations_every_t_seconds_and_at_the_end(tmp_path, monkeypatch):
    ckpt, seen = tmp_path / "run.ckpt", []

    def watch(info):  # called before the checkpointer sees this iteration
        seen.append(saved_iteration(ckpt) if ckpt.exists() else None)

    fit(
        LinearRegression(solver="gd", max_iter=23, tol=0.0, checkpoint=ckpt, checkpoint_every=5),
        X,
        Y_REG,
        callback=watch,
    )
    assert seen == [None] * 5 + [5] * 5 + [10] * 5 + [15] * 5 + [20] * 3
    assert saved_iteration(ckpt) == 23 and sorted(os.listdir(tmp_path)) == ["run.ckpt"]
    import gdlearn.checkpoint as module  # a fake clock, 0.02 s per reading: every other iteration is 0.03 s on

    clock = iter(np.arange(0.0, 100.0, 0.02))
    monkeypatch.setattr(module.time, "monotonic", lambda: float(next(clock)))
    ckpt.unlink()
    seen.clear()
    model = LinearRegression(solver="gd", max_iter=7, tol=0.0, checkpoint=ckpt, checkpoint_every=10**6)
    fit(model.set_params(checkpoint_seconds=0.03), X, Y_REG, callback=watch)
    assert seen == [None, None, 2, 2, 4, 4, 6]


def test_optimizer_state_is_named_by_block(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    fit(LinearRegression(solver="momentum", max_iter=2, checkpoint=ckpt, random_state=0), X, Y_REG)
    names = sorted(k for k in read_checkpoint(ckpt)[1] if k.startswith("state/opt/"))
    assert names == ["state/opt/learning_rate/count", "state/opt/learning_rate/lr", "state/opt/trace/v"]


def test_the_data_fingerprint_reads_a_sample_and_copies_nothing():
    rng = np.random.default_rng(0)
    big = rng.normal(size=(40_000, 50)).astype(np.float32)  # 8 MB
    data = ArraySource(big, rng.normal(size=(40_000, 1)))
    tracemalloc.start()
    first = data_fingerprint(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000 and first == data_fingerprint(ArraySource(big.copy(), data.Y.copy()))
    for row, col in ((0, 0), (-1, 3)):
        other = big.copy()
        other[row, col] = 7.0
        assert data_fingerprint(ArraySource(other, data.Y)) != first
    assert data_fingerprint(ArraySource(big, data.Y + 1e-9)) != first
    assert data_fingerprint(ArraySource(big.astype(np.float64), data.Y)) != first


# ------------------------------------------------------------- refusals
ADAM = dict(solver="adam", l2=0.5, random_state=0)


@pytest.fixture
def checkpoint_file(tmp_path):
    fit(LinearRegression(**ADAM, max_iter=3, checkpoint=tmp_path / "run.ckpt"), X, Y_REG)
    return tmp_path / "run.ckpt"


def test_resume_without_a_checkpoint_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "missing.ckpt"
    with pytest.raises(FileNotFoundError, match="resume=True.*does not exist") as exc:
        LinearRegression(checkpoint=missing).fit(X, Y_REG, resume=True)
    assert str(missing) in str(exc.value)
    with pytest.raises(ValueError, match="resume=True needs the checkpoint parameter"):
        LinearRegression().fit(X, Y_REG, resume=True)
    with pytest.raises(FileNotFoundError, match="directory"):
        LinearRegression(checkpoint=tmp_path / "no" / "such" / "dir.ckpt").fit(X, Y_REG)


MISMATCHES = {  # another fit: (model, X, y, message)
    "other parameter": (LinearRegression(**{**ADAM, "l2": 0.6}), X, Y_REG, "params.l2: 0.6 here, 0.5 in the"),
    "other solver": (LinearRegression(**{**ADAM, "solver": "rmsprop"}), X, Y_REG, "session.solver: 'rmsprop' here"),
    "other seed": (LinearRegression(**{**ADAM, "random_state": 1}), X, Y_REG, "params.random_state: 1 here, 0 in"),
    "other kind": (LogisticRegression(**ADAM), X, Y_CLASS, "kind: 'LogisticRegression' here, 'LinearRegression' in"),
    "fewer samples": (LinearRegression(**ADAM), X[:-1], Y_REG[:-1], "data.n_samples: 299 here, 300"),
    "other features": (LinearRegression(**ADAM), X[:, :5], Y_REG, "data.n_features: 5 here, 6"),
    "other targets": (LinearRegression(**ADAM), X, Y_REG + 1e-9, r"data.fingerprint: '[0-9a-f]{64}' here, '[0-9a-f]+"),
    "other X": (LinearRegression(**ADAM), X[::-1], Y_REG[::-1], "data.fingerprint"),
}


@pytest.mark.parametrize("case", MISMATCHES)
def test_a_checkpoint_of_another_fit_is_refused(checkpoint_file, case):
    model, Xc, yc, message = MISMATCHES[case]
    with pytest.raises(CheckpointError, match=message) as exc:
        fit(model.set_params(checkpoint=checkpoint_file), Xc, yc, resume=True)
    assert str(checkpoint_file) in str(exc.value)
    if case != "other kind":
        return
    ckpt = checkpoint_file.parent / "labels.ckpt"
    fit(LogisticRegression(solver="gd", max_iter=2, checkpoint=ckpt, random_state=0), X, Y_CLASS)
    with pytest.raises(CheckpointError, match="labels: .* here, .* in the checkpoint"):
        fit(LogisticRegression(solver="gd", checkpoint=ckpt, random_state=0), X, Y_CLASS + 1, resume=True)


def test_corrupted_or_foreign_checkpoints_are_refused(checkpoint_file):
    make = LinearRegression(**ADAM, checkpoint=checkpoint_file)
    data = checkpoint_file.read_bytes()
    flipped = bytearray(data)
    flipped[-3] ^= 0x10  # a bit of the last array's data
    legacy = {"format": "gdlearn-checkpoint", "format_version": 2, "gdlearn_version": "0.1.0", "state": {}}
    for bad, message in [
        (data[: len(data) // 2], "truncated"),
        (bytes(flipped), "checksum mismatch"),
        (data.replace(b'\\"iteration\\":3', b'\\"iteration\\":4'), "checksum mismatch"),
        (b"", "empty"),
        (b"\x80\x04K\x01.", "pickle"),
        (json.dumps(legacy).encode(), "written by gdlearn 0.1.0 .*format 2, JSON.*without resume=True"),
    ]:
        assert bad != data
        checkpoint_file.write_bytes(bad)
        with pytest.raises(CheckpointError, match=message):
            fit(make, X, Y_REG, resume=True)
    save(fit(LinearRegression(), X, Y_REG), checkpoint_file)
    with pytest.raises(CheckpointError, match="saved model, not a checkpoint"):
        fit(make, X, Y_REG, resume=True)


def _edit(ckpt, edit) -> None:
    """Apply ``edit(header, arrays)`` to a checkpoint and write it back with a valid checksum (a forgery)."""
    header, arrays = (copy.deepcopy(part) for part in read_checkpoint(ckpt))
    edit(header, arrays)
    body = {k: v for k, v in header.items() if k not in ("format", "format_version", "gdlearn_version")}
    write_file(ckpt, header.get("format", "x"), header.get("format_version", 3), body, arrays)


def _set(name, value):
    return lambda h, a: a.update({name: np.asarray(value(a[name]) if callable(value) else value)})


def _nan_at_0(a):
    a = a.copy()
    a.flat[0] = np.nan
    return a


STATE_EDITS = {  # the state must be this fit's: names, dtypes, shapes, counters; (edit, message)
    "theta shape": (_set("state/theta", lambda a: a[:6]), "state/theta must be float64"),
    "theta nan": (_set("state/theta", _nan_at_0), "NaN"),
    "theta dtype": (_set("state/theta", lambda a: a.astype(np.float32)), "must be float64"),
    "opt state missing": (lambda h, a: a.pop("state/opt/adam/mu"), "are not those expected"),
    "opt state shape": (_set("state/opt/adam/mu", np.zeros((1, 7))), "state/opt/adam/mu must be"),
    "opt state positional": (lambda h, a: a.update({"state/opt/0/mu": a.pop("state/opt/adam/mu")}), "not those"),
    "history length": (_set("state/history/loss", lambda a: a[:-1]), r"iteration \+ 1"),
    "history series": (_set("state/history/val_loss", np.zeros(4)), "are not those expected"),
    "history scalar": (_set("state/history/grad_norm", np.array(np.inf)), "must be float64 of shape"),
    "iteration": (lambda h, a: h["state"].update(iteration=-1), "iteration"),
    "counter": (_set("state/rules/divergence/rising", np.array(99)), "counter"),
    "unknown field": (lambda h, a: h["state"].update(extra=1), "state must have the fields"),
    "wrong type": (lambda h, a: h["data"].update(n_samples="300"), "data.n_samples: 300 here, '300' in"),
    "future version": (lambda h, a: h.update(format_version=CHECKPOINT_FORMAT_VERSION + 1), "newer gdlearn"),
    "path absent": (lambda h, a: h["params"].update(record_path="True"), "record_path"),
}
SESSION_EDITS = {  # the session must be this fit's: solver, preconditioning, step size (a fixed one cannot change)
    "solver": (lambda h, a: h["session"].update(solver="momentum"), "session.solver: 'gd' here, 'momentum' in"),
    "no preconditioning": (lambda h, a: h["session"].update(preconditioning=None), "preconditioning: 'dense' here"),
    "coords shape": (_set("session/coords/mean", lambda a: a[:3]), "session/coords/mean must be"),
    "coords nan": (_set("session/coords/scale", _nan_at_0), "NaN"),
    "coords scale": (_set("session/coords/scale", lambda a: -a), "positive scales"),
    "step size": (_set("session/step/lr", np.array(0.123)), "learning rate 0.123 differs"),
    "step size nan": (_set("session/step/lr", np.array(np.nan)), "session/step must hold positive finite"),
}
FORGED = {**STATE_EDITS, **SESSION_EDITS}


@pytest.mark.parametrize("case", FORGED)
def test_a_forged_state_or_session_is_refused(tmp_path, case):
    ckpt = tmp_path / "run.ckpt"
    session = case in SESSION_EDITS  # a fixed α with preconditioning: the checkpoint's step cannot replace it
    kw = dict(solver="gd", learning_rate=1e-3, precondition=True) if session else ADAM
    make = lambda **extra: LinearRegression(**{"random_state": 0, **kw}, checkpoint=ckpt, **extra)  # noqa: E731
    fit(make(max_iter=2 if session else 3), X, Y_REG)
    edit, message = FORGED[case]
    _edit(ckpt, edit)
    with pytest.raises(CheckpointError, match=message):
        fit(make(max_iter=4, record_path=case == "path absent"), X, Y_REG, resume=True)


def test_resume_uses_the_checkpointed_step_size_and_scaling(tmp_path):
    """Arithmetic that differs between machines (1/L, column scales) is taken from the checkpoint."""
    ckpt = tmp_path / "run.ckpt"
    make = lambda **kw: LinearRegression(solver="gd", tol=0.0, random_state=0, checkpoint=ckpt, **kw)  # noqa: E731
    fit(make(max_iter=3), X, Y_REG)
    saved = read_checkpoint(ckpt)[1]
    lr, matrix = float(saved["session/step/lr"]), saved["session/coords/matrix"].copy()
    matrix.flat[0] *= 2.0
    _edit(ckpt, lambda h, a: a.update({"session/step/lr": np.array(lr * 0.5), "session/coords/matrix": matrix}))
    resumed = fit(make(max_iter=6), X, Y_REG, resume=True)
    assert resumed.learning_rate_ == lr * 0.5 and resumed._session.coords.matrix.flat[0] == matrix.flat[0]
    assert not np.array_equal(fit(make(max_iter=6), X, Y_REG).coef_, resumed.coef_)


# ---------------------------------------------------------- subprocesses
CHILD = (
    PROBLEM
    + """
import json, sys, warnings
warnings.simplefilter("ignore")
from gdlearn import FitInterrupted, LinearRegression, LogisticRegression
# max_iter=10**7 (the largest allowed): the child cannot finish before the signal, however late the parent sends
# it; the parent then resumes a few iterations past the saved one (max_iter may change) and compares with a straight run
if sys.argv[2] == "kill":
    model = LinearRegression(solver="momentum", batch_size=32, learning_rate=0.002, max_iter=10**7, tol=0.0,
                             n_iter_no_change=10**6, checkpoint=sys.argv[1], checkpoint_every=1)
    model.fit(X, y)
model = LogisticRegression(solver="adam", batch_size=4, max_iter=10**7, tol=0.0, n_iter_no_change=10**6,
                           checkpoint=sys.argv[1], checkpoint_every=1)
try:
    model.fit(X, y_multi)
except FitInterrupted as exc:
    print(json.dumps({"checkpoint": exc.checkpoint, "iteration": exc.iteration}))
"""
)


def _child_at_iteration(ckpt, how, at_least):
    """A child process training with a checkpoint, once the file holds ``at_least`` iterations (the signal)."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a background job starts: SIGINT ignored,
    try:  # which the child would inherit but for interruptible()
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(ckpt), how], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=interruptible,
        )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + 60
    while not (ckpt.exists() and saved_iteration(ckpt) >= at_least):  # never partial: atomic writes
        assert child.poll() is None, child.stderr.read().decode()
        assert time.monotonic() < deadline, "the child made no progress"
        time.sleep(0.005)
    return child


def test_sigkill_during_training_then_resume_is_bit_identical(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    child = _child_at_iteration(ckpt, "kill", 15)
    child.kill()
    child.communicate()
    assert child.returncode == -signal.SIGKILL  # killed mid-way: it could not have finished
    info = read_checkpoint(ckpt)[0]
    end = info["state"]["iteration"] + 20
    assert end >= 35  # the file held at least 15 iterations
    params = dict(solver="momentum", batch_size=32, learning_rate=0.002, max_iter=end, tol=0.0, n_iter_no_change=10**6)
    resumed = fit(LinearRegression(**params, checkpoint=ckpt, checkpoint_every=10**6), X, Y_REG, resume=True)
    assert_identical(fit(LinearRegression(**params, random_state=info["seed"]), X, Y_REG), resumed)
    assert resumed.n_iter_ == end


def test_sigint_mid_epoch_saves_a_consistent_state(tmp_path):
    """Ctrl-C lands at a random point of an epoch of 75 mini-batch steps: the saved state is a whole epoch."""
    ckpt = tmp_path / "run.ckpt"
    child = _child_at_iteration(ckpt, "interrupt", 3)
    child.send_signal(signal.SIGINT)  # lands wherever the child is: it cannot have finished (max_iter=10**7)
    out, err = child.communicate(timeout=60)
    report = json.loads(out.decode().strip().splitlines()[-1])
    assert report.get("checkpoint") == str(ckpt), err.decode()
    info = read_checkpoint(ckpt)[0]
    assert info["state"]["iteration"] in (report["iteration"], report["iteration"] - 1)
    params = dict(solver="adam", batch_size=4, tol=0.0, n_iter_no_change=10**6, max_iter=info["state"]["iteration"] + 3)
    resumed = fit(LogisticRegression(**params, checkpoint=ckpt), X, Y_MULTI, resume=True)
    assert_identical(fit(LogisticRegression(**params, random_state=info["seed"]), X, Y_MULTI), resumed)


# ----------------------------------------------------------------- fuzz
@pytest.fixture(scope="module")
def valid_checkpoint(tmp_path_factory):
    ckpt = tmp_path_factory.mktemp("ckpt") / "run.ckpt"
    fit(LogisticRegression(solver="lbfgs", max_iter=4, checkpoint=ckpt, random_state=0, l2=1.0), X, Y_MULTI)
    return ckpt.read_bytes()


FUZZ_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=6,
)
FUZZ_ARRAYS = st.sampled_from([np.zeros(0), np.zeros((3, 1)), np.array(1), np.array(np.inf), np.ones((6, 3), bool)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_restore_either_resumes_or_raises_checkpoint_error(tmp_path, valid_checkpoint, data):
    """Forged checkpoints (valid checksum): a header field or an array replaced or removed."""
    ckpt = tmp_path / "fuzz.ckpt"
    ckpt.write_bytes(valid_checkpoint)

    def edit(header, arrays):
        if data.draw(st.booleans()):
            node, parent, key = header, None, None
            while isinstance(node, dict) and node and (parent is None or data.draw(st.booleans())):
                parent, key = node, data.draw(st.sampled_from(sorted(node)))
                node = node[key]
            parent.pop(key) if data.draw(st.booleans()) else parent.update({key: data.draw(FUZZ_VALUES)})
        else:
            name = data.draw(st.sampled_from(sorted(arrays)))
            arrays.pop(name) if data.draw(st.booleans()) else arrays.update({name: data.draw(FUZZ_ARRAYS)})

    _edit(ckpt, edit)
    model = LogisticRegression(solver="lbfgs", max_iter=6, checkpoint=ckpt, random_state=0, l2=1.0)
    try:
        fit(model, X, Y_MULTI, resume=True)
    except (CheckpointError, DivergenceError):  # a state that passes every check may still be a bad place to be
        return
    assert np.all(np.isfinite(model.coef_)) and model.n_iter_ <= 6
