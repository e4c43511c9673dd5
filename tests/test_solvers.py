"""Optimizers: each reaches the optimum, each follows its update equation step by step."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from gdlearn import ConvergenceWarning, LinearRegression, LogisticRegression
from gdlearn.objective import pack
from gdlearn.schedules import Constant, ExponentialDecay, InverseDecay, StepDecay

SOLVERS = ["auto", "gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "fista", "lbfgs"]
# iterations each needs at its documented defaults (generous); the optimum is what is tested
MAX_ITER = {"gd": 20_000, "adagrad": 20_000, "rmsprop": 30_000, "adam": 20_000}


def housing_optimum(X, y):
    A = np.c_[X, np.ones(len(X))]
    s = np.linalg.lstsq(A, y, rcond=None)[0]
    return 0.5 * np.mean((A @ s - y) ** 2)


@pytest.mark.parametrize("solver", SOLVERS)
def test_every_solver_reaches_housing_optimum(housing_std, solver):
    X, y = housing_std
    J_star = housing_optimum(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LinearRegression(solver=solver, tol=1e-6, max_iter=MAX_ITER.get(solver, 5000)).fit(X, y)
    J = model.get_objective(X, y).value(model.theta_)
    assert (J - J_star) / J_star <= 1e-6


@pytest.fixture(scope="module")
def cancer_l2_optimum(breast_cancer_std):
    X, y = breast_cancer_std
    ref = SkLogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12).fit(X, y)
    objective = LogisticRegression(l2=1.0).get_objective(X, y)
    return objective, objective.value(pack(ref.coef_.T, ref.intercept_))


@pytest.mark.parametrize("solver", SOLVERS)
def test_every_solver_reaches_l2_breast_cancer_optimum(breast_cancer_std, cancer_l2_optimum, solver):
    X, y = breast_cancer_std
    objective, J_star = cancer_l2_optimum
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(solver=solver, l2=1.0, tol=1e-6, max_iter=MAX_ITER.get(solver, 5000)).fit(X, y)
    assert (objective.value(model.theta_) - J_star) / J_star <= 1e-6


# ----------------------------------------------------------- update equations
X_TINY = np.array([[1.0, 2.0], [2.0, -1.0], [3.0, 0.5], [-1.0, 1.0]])
Y_TINY = np.array([1.0, 0.0, 2.0, -1.0])


def tiny_grad(theta):
    """Independent gradient of J = 1/(2m) Σ (Xw + b − y)²; theta = [w0, w1, b]."""
    r = X_TINY @ theta[:2] + theta[2] - Y_TINY
    return np.r_[X_TINY.T @ r, r.sum()] / len(Y_TINY)


def expected_path(rule, alpha, steps=4, beta=0.9, b1=0.9, b2=0.999, eps=1e-8, rho=0.9, l1=0.0):
    """Hand-written update rules, the docstrings' equations; with L1, a soft-threshold of W after each update
    at the chain's steady-state scale (α, α/(1 − β), α/(√G + ε), α/(√v̂ + ε) with Adam's bias correction)."""
    theta = np.zeros(3)
    out = [theta.copy()]
    v = np.zeros(3)
    s = np.zeros(3)
    m = np.zeros(3)
    for t in range(1, steps + 1):
        g = tiny_grad(theta)
        if rule == "gd":
            theta = theta - alpha * g
            scale = alpha
        elif rule == "momentum":
            v = beta * v + g
            theta = theta - alpha * v
            scale = alpha / (1 - beta)
        elif rule == "nesterov":
            v = beta * v + g
            theta = theta - alpha * (g + beta * v)
            scale = alpha / (1 - beta)
        elif rule == "adagrad":
            s = s + g**2
            theta = theta - alpha * g / (np.sqrt(s) + eps)
            scale = alpha / (np.sqrt(s) + eps)
        elif rule == "rmsprop":
            s = rho * s + (1 - rho) * g**2
            theta = theta - alpha * g / (np.sqrt(s) + eps)
            scale = alpha / (np.sqrt(s) + eps)
        elif rule == "adam":
            m = b1 * m + (1 - b1) * g
            s = b2 * s + (1 - b2) * g**2
            m_hat, s_hat = m / (1 - b1**t), s / (1 - b2**t)
            theta = theta - alpha * m_hat / (np.sqrt(s_hat) + eps)
            scale = alpha / (np.sqrt(s_hat) + eps)
        if l1:
            thr = (scale * np.ones(3))[:2] * l1 / len(Y_TINY)
            theta[:2] = np.sign(theta[:2]) * np.maximum(np.abs(theta[:2]) - thr, 0.0)
        out.append(theta.copy())
    return np.array(out)


RULES = ["gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]


@pytest.mark.parametrize("rule", RULES)
def test_update_rule_matches_its_equation(rule):
    alpha = 0.05
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LinearRegression(solver=rule, learning_rate=alpha, max_iter=4, tol=0, record_path=True)
        model.fit(X_TINY, Y_TINY, intercept_init=0.0)
    np.testing.assert_allclose(model.path_, expected_path(rule, alpha), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("rule", RULES)
def test_update_rule_with_other_hyperparameters_and_an_l1_step(rule):
    """Non-default β, β₁, β₂, ε, ρ reach the update, and the L1 proximal step uses each chain's own scale."""
    alpha, lam = 0.03, 0.6
    hyper = dict(momentum=0.6, beta_1=0.7, beta_2=0.95, epsilon=1e-3, rho=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LinearRegression(solver=rule, learning_rate=alpha, l1=lam, max_iter=5, tol=0, record_path=True, **hyper)
        model.fit(X_TINY, Y_TINY, intercept_init=0.0)
    want = expected_path(rule, alpha, steps=5, beta=0.6, b1=0.7, b2=0.95, eps=1e-3, rho=0.5, l1=lam)
    np.testing.assert_allclose(model.path_, want, rtol=1e-13, atol=1e-15)
    default = expected_path(rule, alpha, steps=5, l1=lam)
    if rule != "gd":  # every non-default value changed the path
        assert not np.allclose(want, default)


def test_gd_with_momentum_zero_is_gd():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = LinearRegression(solver="momentum", momentum=0.0, learning_rate=0.05, max_iter=5, tol=0).fit(X_TINY, Y_TINY)
        b = LinearRegression(solver="gd", learning_rate=0.05, max_iter=5, tol=0).fit(X_TINY, Y_TINY)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_schedules_values():
    assert Constant(0.1)(50) == 0.1
    assert ExponentialDecay(0.1, rate=0.5)(2) == pytest.approx(0.1 * np.exp(-1.0))
    assert InverseDecay(0.1, rate=0.5)(2) == pytest.approx(0.05)
    assert StepDecay(0.1, factor=0.5, step_size=10)(25) == pytest.approx(0.025)
    with pytest.raises(ValueError, match="rate"):
        ExponentialDecay(0.1, rate=-1.0).validate()


def test_schedule_drives_gd_step_sizes():
    schedule = ExponentialDecay(0.05, rate=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LinearRegression(solver="gd", learning_rate=schedule, max_iter=3, tol=0, record_path=True)
        model.fit(X_TINY, Y_TINY, intercept_init=0.0)
    theta = np.zeros(3)
    for t in range(3):
        theta = theta - schedule(t) * tiny_grad(theta)
        np.testing.assert_allclose(model.path_[t + 1], theta, rtol=1e-13)


def test_backtracking_line_search_descends_and_converges(housing):
    X, y = housing
    model = LinearRegression(learning_rate="backtracking", max_iter=5000).fit(X, y)
    assert model.solver_ == "gd" and model.converged_
    assert np.all(np.diff(model.loss_curve_) <= 1e-12 * model.loss_curve_[0])
    J_star = housing_optimum(X, y)
    assert (model.loss_curve_[-1] - J_star) / J_star < 1e-6


# -------------------------------------------------------------- mini-batches
@pytest.mark.parametrize(
    "batch_size,schedule",
    [(16, InverseDecay("auto", rate=0.01)), (1, ExponentialDecay("auto", rate=1e-4))],
)
def test_minibatch_sgd_with_decay_gets_within_one_percent(housing_std, batch_size, schedule):
    X, y = housing_std
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LinearRegression(
            batch_size=batch_size, learning_rate=schedule, max_iter=50, random_state=0, n_iter_no_change=1000
        ).fit(X, y)
    J_star = housing_optimum(X, y)
    assert (model.loss_curve_[-1] - J_star) / J_star < 0.01


def test_partial_fit_epochs_equal_fit(housing_std):
    X, y = housing_std
    params = dict(solver="adam", learning_rate=ExponentialDecay(0.05, rate=0.01), batch_size=32, random_state=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = LinearRegression(max_iter=4, tol=0, n_iter_no_change=100, **params).fit(X, y)
    stepwise = LinearRegression(**params)
    for _ in range(4):
        stepwise.partial_fit(X, y)
    np.testing.assert_array_equal(stepwise.coef_, full.coef_)
    assert stepwise.intercept_ == full.intercept_
    # the schedule kept counting across calls: 4 epochs × 16 batches
    session = stepwise._session
    assert session.state.opt_state["learning_rate"]["count"] == 4 * 16


def test_partial_fit_over_chunks_equals_one_epoch(housing_std):
    X, y = housing_std
    params = dict(solver="momentum", learning_rate=0.01, batch_size=23, shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = LinearRegression(max_iter=1, tol=0, **params).fit(X, y, intercept_init=y[:230].mean())
    chunked = LinearRegression(**params)
    for start in range(0, 506, 230):  # chunks of 230 = 10 batches of 23 (the last one shorter)
        chunked.partial_fit(X[start : start + 230], y[start : start + 230])
    np.testing.assert_allclose(chunked.coef_, full.coef_, rtol=1e-14, atol=1e-14)


def test_partial_fit_classifier_needs_classes_then_keeps_them(breast_cancer_std):
    X, y = breast_cancer_std
    clf = LogisticRegression(solver="gd", learning_rate=0.1, batch_size=50)
    with pytest.raises(ValueError, match="classes must be given"):
        clf.partial_fit(X[:100], y[:100])
    clf.partial_fit(X[:100], y[:100], classes=[0, 1])
    clf.partial_fit(X[100:], y[100:])
    assert list(clf.classes_) == [0, 1] and clf.score(X, y) > 0.9


# --------------------------------------------------- validation and stopping
def test_early_stopping_restores_best_epoch(rng):
    """Few samples, many noise features: validation loss turns up while training loss falls."""
    n, p = 80, 60
    X = rng.normal(size=(n, p))
    y = X[:, 0] + 0.5 * rng.normal(size=n)
    model = LinearRegression(
        solver="gd",
        learning_rate=0.05,
        early_stopping=True,
        validation_fraction=0.3,
        n_iter_no_change=25,
        max_iter=5000,
        record_path=True,
        random_state=0,
    ).fit(X, y)
    h = model.history_
    assert model.converged_ and "validation" in model.stop_reason_
    assert model.n_iter_ < 5000
    best = int(np.argmin(h["val_loss"]))
    assert model.best_iteration_ == best < model.n_iter_
    assert h["val_loss"][-1] > h["val_loss"][best]  # it really got worse ...
    assert h["loss"][-1] < h["loss"][best]  # ... while the training loss kept falling
    np.testing.assert_array_equal(np.r_[model.coef_, model.intercept_], model.path_[best])
    assert len(h["val_score"]) == len(h["score"]) == model.n_iter_ + 1


def test_validation_history_without_early_stopping(housing_std):
    X, y = housing_std
    model = LinearRegression(validation_fraction=0.2, random_state=0).fit(X, y)
    assert len(model.history_["val_loss"]) == model.n_iter_ + 1
    assert -1 < model.history_["val_score"][-1] <= 1


def test_warm_start_continues(housing_std):
    X, y = housing_std
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ten = LinearRegression(solver="gd", learning_rate=0.1, max_iter=10, tol=0).fit(X, y)
        warm = LinearRegression(solver="gd", learning_rate=0.1, max_iter=5, tol=0, warm_start=True).fit(X, y)
        warm.fit(X, y)
    np.testing.assert_array_equal(warm.coef_, ten.coef_)


def test_incompatible_choices_are_explained(housing_std):
    X, y = housing_std
    with pytest.raises(ValueError, match="full batch only"):
        LinearRegression(solver="lbfgs", batch_size=10).fit(X, y)
    with pytest.raises(ValueError, match="L1"):
        LinearRegression(solver="lbfgs", l1=1.0).fit(X, y)
    with pytest.raises(ValueError, match="solver must be one of"):
        LinearRegression(solver="sgd").fit(X, y)


def tiny_J(theta, l1=0.0):
    r = X_TINY @ theta[:2] + theta[2] - Y_TINY
    return 0.5 * np.mean(r**2) + l1 / len(Y_TINY) * np.abs(theta[:2]).sum()


def test_fista_matches_its_equations_with_l1_prox():
    """x⁺ = prox(y − α∇f(y)); t⁺ = (1 + √(1 + 4t²))/2; y⁺ = x⁺ + (t − 1)/t⁺ (x⁺ − x); restart if J rises."""
    alpha, lam = 0.05, 0.4
    thr = alpha * lam / len(Y_TINY)

    def prox(v):
        out = v.copy()
        out[:2] = np.sign(v[:2]) * np.maximum(np.abs(v[:2]) - thr, 0.0)
        return out

    x = np.zeros(3)
    y, t, y_is_x = x.copy(), 1.0, True
    expected = [x.copy()]
    for _ in range(5):
        x_new = prox(y - alpha * tiny_grad(y))
        if tiny_J(x_new, lam) > tiny_J(x, lam) and not y_is_x:
            x_new = prox(x - alpha * tiny_grad(x))
            y, t, y_is_x = x_new.copy(), 1.0, True
        else:
            t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
            y, t, y_is_x = x_new + (t - 1) / t_new * (x_new - x), t_new, False
        x = x_new
        expected.append(x.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LinearRegression(solver="fista", learning_rate=alpha, l1=lam, max_iter=5, tol=0, record_path=True)
        model.fit(X_TINY, Y_TINY, intercept_init=0.0)
    np.testing.assert_allclose(model.path_, np.array(expected), rtol=1e-13, atol=1e-15)


def test_lbfgs_matches_the_bfgs_update():
    """Second step: d = −H∇J with H = (I − ρsyᵀ)γI(I − ρysᵀ) + ρssᵀ, γ = sᵀy/yᵀy; Armijo from α = 1."""

    def armijo(x, d):
        g = tiny_grad(x)
        a = 1.0
        while tiny_J(x + a * d) > tiny_J(x) + 1e-4 * a * g @ d + 1e-12 * abs(tiny_J(x)):
            a *= 0.5
        return x + a * d

    x0 = np.zeros(3)
    g0 = tiny_grad(x0)
    x1 = armijo(x0, -g0 / max(1.0, np.linalg.norm(g0)))
    s, yv = x1 - x0, tiny_grad(x1) - g0
    rho, gamma = 1 / (s @ yv), (s @ yv) / (yv @ yv)
    eye = np.eye(3)
    H = (eye - rho * np.outer(s, yv)) @ (gamma * eye) @ (eye - rho * np.outer(yv, s)) + rho * np.outer(s, s)
    x2 = armijo(x1, -H @ tiny_grad(x1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LinearRegression(solver="lbfgs", precondition=False, max_iter=2, tol=0, record_path=True)
        model.fit(X_TINY, Y_TINY, intercept_init=0.0)
    np.testing.assert_allclose(model.path_, np.array([x0, x1, x2]), rtol=1e-12, atol=1e-14)
