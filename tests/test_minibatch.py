"""Stochastic runs converge on their defaults: mini-batch fit and partial_fit, every solver, every task.

The reference optimum J* is independent of gdlearn: least squares (``np.linalg.lstsq``) for regression and
scikit-learn's unpenalised ``LogisticRegression`` (``C=inf``) at ``tol=1e-12`` for classification, with J
computed here from the formulas (½ mean squared residual; mean log loss).  Data: scikit-learn's diabetes set
(442 × 10), standardised; the classes are its target cut at the median (binary) and at the terciles (three
classes), which no hyperplane separates, so J* is finite.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LogisticRegression as SkLogistic

from gdlearn import ConvergenceWarning, DivergenceError, LinearRegression, LogisticRegression
from gdlearn.lipschitz import minibatch_lipschitz
from gdlearn.optim.factory import MINIBATCH_SOLVERS

X, Y = load_diabetes(return_X_y=True)
X = (X - X.mean(0)) / X.std(0)
pytestmark = pytest.mark.filterwarnings("ignore::gdlearn.ConvergenceWarning")  # runs stop at max_iter on purpose
TERCILES = np.quantile(Y, [1 / 3, 2 / 3])
TASKS = {"regression": Y, "binary": (Y > np.median(Y)).astype(int), "multinomial": np.digitize(Y, TERCILES)}


def objective(model, y) -> float:
    """J of a fitted model on (X, y), from the formulas."""
    Z = X @ np.atleast_2d(model.coef_).T + model.intercept_
    if not hasattr(model, "classes_"):
        return 0.5 * float(np.mean((Z[:, 0] - y) ** 2))
    if Z.shape[1] == 1:
        t = (y == model.classes_[1]).astype(float)
        return float(np.mean(np.logaddexp(0.0, Z[:, 0]) - t * Z[:, 0]))
    return float(np.mean(logsumexp(Z, axis=1) - Z[np.arange(len(y)), np.searchsorted(model.classes_, y)]))


@pytest.fixture(scope="module")
def optimum():
    A = np.c_[X, np.ones(len(X))]
    w = np.linalg.lstsq(A, Y, rcond=None)[0]
    out = {"regression": 0.5 * float(np.mean((A @ w - Y) ** 2))}
    for task in ("binary", "multinomial"):
        y = TASKS[task]
        ref = SkLogistic(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y)
        out[task] = objective(ref, y)
    return out


def make(task, solver, **kw):
    return (LinearRegression if task == "regression" else LogisticRegression)(solver=solver, batch_size=32, **kw)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("solver", MINIBATCH_SOLVERS)
def test_every_minibatch_solver_reaches_one_percent_of_the_optimum_in_50_epochs(optimum, solver, task):
    model = make(task, solver, max_iter=50, random_state=0).fit(X, TASKS[task])
    gap = (objective(model, TASKS[task]) - optimum[task]) / optimum[task]
    assert 0 <= gap < 0.01, f"{solver} {task}: (J - J*)/J* = {gap:.2e} after {model.n_iter_} epochs"
    assert model.n_iter_ <= 50


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("solver", MINIBATCH_SOLVERS)
def test_partial_fit_over_chunks_converges_and_never_rises_after_the_fifth_pass(optimum, solver, task):
    y = TASKS[task]
    model, losses = make(task, solver, random_state=0), []
    classes = {"classes": np.unique(y)} if task != "regression" else {}
    for _ in range(50):  # passes, as in the trial
        for start in range(0, len(X), 100):
            model.partial_fit(X[start : start + 100], y[start : start + 100], **classes)
        losses.append(objective(model, y))
    losses = np.array(losses)
    rises = losses[5:] / losses[4:-1] - 1  # from each pass to the next, after the fifth
    assert rises.max() < 0.01, f"{solver} {task}: rose by {rises.max():.2%} from one pass to the next"
    gap = (losses[-1] - optimum[task]) / optimum[task]
    assert 0 <= gap < 0.01, f"{solver} {task}: (J - J*)/J* = {gap:.2e} after 50 passes"


def test_partial_fit_shrinks_its_automatic_step_when_a_chunk_has_larger_rows():
    """The mini-batch bound L_B mixes the first chunk's L with the largest row seen so far."""
    rng = np.random.default_rng(0)
    small, large = rng.normal(size=(100, 3)), 30.0 * rng.normal(size=(100, 3))
    w = np.array([1.0, -2.0, 0.5])
    model = LinearRegression(solver="momentum", batch_size=10, precondition=False, random_state=0)
    model.partial_fit(small, small @ w)
    A = np.c_[small, np.ones(100)]
    L = np.linalg.eigvalsh(A.T @ A / 100).max()  # squared loss: the Hessian is AᵀA/m
    row = lambda M: float(np.max(np.sum(M**2, axis=1)) + 1.0)  # noqa: E731  one row's constant ‖[x, 1]‖²
    expected = (1 - 0.9) / minibatch_lipschitz(L, row(small), 100, 10)  # momentum: (1 − β)/L_B
    assert model._session.spec.lr == pytest.approx(expected, rel=2e-4)  # gdlearn's L: power iteration, rtol 1e-4
    for _ in range(20):  # larger rows: with the first chunk's step this diverges within a few calls
        model.partial_fit(large, large @ w)
    assert model._session.spec.lr == pytest.approx((1 - 0.9) / minibatch_lipschitz(L, row(large), 100, 10), rel=2e-4)
    assert np.all(np.isfinite(model.coef_)) and model.score(large, large @ w) > 0.99
    frozen = LinearRegression(solver="momentum", batch_size=10, precondition=False, learning_rate=expected)
    frozen.partial_fit(small, small @ w)
    with pytest.raises(DivergenceError):
        for _ in range(20):
            frozen.partial_fit(large, large @ w)


def test_the_model_is_the_polynomial_decay_average_of_the_iterates_written_out():
    """gd, α fixed, mini-batches in order: θ ← θ − α g_B; after one epoch θ̄ ← (1 − w)θ̄ + wθ, w = 4/(t + 3)."""
    rng = np.random.default_rng(1)
    Xs, alpha, B = rng.normal(size=(40, 2)), 0.05, 8
    ys = Xs @ [1.0, -1.0] + 0.5 + rng.normal(size=40)
    model = LinearRegression(solver="gd", learning_rate=alpha, batch_size=B, shuffle=False, average=True)
    model.set_params(precondition=False, max_iter=3, tol=0.0).fit(Xs, ys)
    w, b = np.zeros(2), ys.mean()  # gdlearn starts at the best constant model
    mean, t = None, 0
    for epoch in range(3):
        for s in range(0, 40, B):
            r = Xs[s : s + B] @ w + b - ys[s : s + B]
            w, b = w - alpha * Xs[s : s + B].T @ r / B, b - alpha * r.mean()
            if epoch >= 1:  # averaging starts after the first epoch (5 steps)
                t += 1
                weight = 4.0 / (t + 3.0)
                mean = np.r_[w, b] if mean is None else (1 - weight) * mean + weight * np.r_[w, b]
    np.testing.assert_allclose(np.r_[model.coef_, model.intercept_], mean, rtol=1e-12, atol=0)
    plain = LinearRegression(solver="gd", learning_rate=alpha, batch_size=B, shuffle=False, precondition=False)
    plain.set_params(max_iter=3, tol=0.0).fit(Xs, ys)  # average="auto" keeps the tutorial's update with a set α
    np.testing.assert_allclose(np.r_[plain.coef_, plain.intercept_], np.r_[w, b], rtol=1e-12, atol=0)


def test_average_true_needs_a_stochastic_run():
    with pytest.raises(ValueError, match="average=True averages the iterates of stochastic runs"):
        LinearRegression(average=True).fit(X, Y)
    with pytest.raises(ValueError, match="average must be 'auto', True or False"):
        LinearRegression(average="yes").fit(X, Y)


def test_momentum_automatic_step_accounts_for_beta_in_stochastic_runs_only():
    fast = LinearRegression(solver="momentum", batch_size=32, momentum=0.5, max_iter=1).fit(X, Y)
    plain = LinearRegression(solver="gd", batch_size=32, max_iter=1).fit(X, Y)
    assert fast.learning_rate_ == pytest.approx(0.5 * plain.learning_rate_, rel=1e-12)
    full = LinearRegression(solver="momentum", max_iter=1).fit(X, Y)
    gd = LinearRegression(solver="gd", max_iter=1).fit(X, Y)
    assert full.learning_rate_ == gd.learning_rate_  # full batch: α = 1/L is stable for heavy ball (< 2(1+β)/L)


def test_the_convergence_warning_names_the_criteria_of_a_stochastic_run():
    with pytest.warns(
        ConvergenceWarning,
        match=r"before the gradient norm .* fell to tol=0.0001 or the training loss went 10 epochs without",
    ):
        make("regression", "gd", max_iter=2, random_state=0).fit(X, Y)
