"""Preconditioning never changes the answer: whitened and diagonal coordinates reach the stated optimum."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from gdlearn import ConvergenceWarning, LinearRegression, LogisticRegression
from gdlearn.data.source import ArraySource
from gdlearn.lipschitz import lipschitz_from_statistics
from gdlearn.objective import pack
from gdlearn.preconditioning import diagonal_coordinates, whitened_coordinates


def correlated(rng, m=400, p=6, kind="correlated"):
    """Mixed scales (1e-2 to 1e2) and strong correlation; optionally collinear or with a constant column."""
    Q = np.linalg.qr(rng.normal(size=(p, p)))[0]
    X = rng.normal(size=(m, p)) @ (Q * np.logspace(0, -1.5, p)) @ Q.T
    X = X * np.logspace(-2, 2, p) + rng.normal(size=p) * 10
    if kind == "collinear":
        X[:, -1] = X[:, 0] * 2.0 - X[:, 1] * 3.0
    elif kind == "constant":
        X[:, 2] = 7.5
    return X


def lstsq_optimum(X, y, sw=None, fit_intercept=True, l2=0.0):
    """Closed form of the stated objective (weighted least squares with an unpenalised intercept)."""
    m = len(y)
    w = np.ones(m) if sw is None else sw
    A = np.c_[X, np.ones(m)] if fit_intercept else X
    R = np.sqrt(w)[:, None]
    P = np.eye(A.shape[1]) * l2
    if fit_intercept:
        P[-1, -1] = 0.0
    # stack the penalty as extra rows: min ‖R(Aθ − y)‖² + l2‖W‖² (a least-squares problem, rank-revealing)
    top = np.vstack([R * A, np.sqrt(P)])
    rhs = np.r_[np.sqrt(w) * y, np.zeros(A.shape[1])]
    theta = np.linalg.lstsq(top, rhs, rcond=None)[0]
    return (theta[:-1], theta[-1]) if fit_intercept else (theta, 0.0)


def J(model, X, y, sw=None):
    return model.get_objective(X, y, sw).value(model.theta_)


@pytest.mark.parametrize("kind", ["correlated", "collinear", "constant"])
@pytest.mark.parametrize("precondition", ["dense", "diagonal"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("l2", [0.0, 5.0])
def test_least_squares_optimum_in_every_coordinate_system(rng, kind, precondition, fit_intercept, weighted, l2):
    X = correlated(rng, kind=kind)
    y = X @ (rng.normal(size=X.shape[1]) / np.logspace(-2, 2, X.shape[1])) + rng.normal(size=len(X))
    sw = rng.uniform(0.2, 3, size=len(y)) if weighted else None
    W, b = lstsq_optimum(X, y, sw, fit_intercept, l2)
    model = LinearRegression(precondition=precondition, fit_intercept=fit_intercept, l2=l2, tol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, sample_weight=sw)
    objective = model.get_objective(X, y, sw)
    J_star = objective.value(pack(W[:, None], np.array([b])))
    assert (objective.value(model.theta_) - J_star) / J_star <= 1e-9
    if kind == "correlated" or l2 > 0:  # the answer is unique: the same coefficients
        np.testing.assert_allclose(model.coef_, W, rtol=1e-5, atol=1e-8 * np.abs(W).max())
    if kind == "constant" and fit_intercept and l2 == 0:
        assert model.coef_[2] == 0.0  # a constant column carries no information, and is never moved


@pytest.mark.parametrize("precondition", ["dense", "diagonal", False])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_logistic_optimum_matches_scikit_learn(rng, precondition, fit_intercept):
    X = correlated(rng, m=600, kind="correlated")
    z = (X - X.mean(0)) / X.std(0) @ rng.normal(size=X.shape[1])
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-z))).astype(int)
    sw = rng.uniform(0.5, 2, size=len(y))
    ref = SkLogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12, max_iter=500, fit_intercept=fit_intercept)
    ref.fit(X, y, sample_weight=sw)
    model = LogisticRegression(l2=1.0, precondition=precondition, fit_intercept=fit_intercept, tol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, sample_weight=sw)
    # scikit-learn minimises Σ sᵢℓᵢ + ‖w‖²/(2C); gdlearn (1/m)Σ sᵢℓᵢ + λ‖w‖²/(2m) with m = Σ sᵢ: l2=1 ⇔ C = 1
    objective = model.get_objective(X, y, sw)
    J_ref = objective.value(pack(ref.coef_.T, ref.intercept_ if fit_intercept else np.zeros(1)))
    assert (objective.value(model.theta_) - J_ref) / J_ref <= 1e-9
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-5, atol=1e-8)


def test_correlated_features_no_longer_slow_the_solvers(rng):
    """The point of whitening: on correlated mixed-scale data L-BFGS needs far fewer iterations."""
    X = correlated(rng, m=2000, p=20)
    y = X @ (rng.normal(size=20) / np.logspace(-2, 2, 20)) + rng.normal(size=2000)
    dense = LinearRegression(solver="lbfgs").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        diagonal = LinearRegression(solver="lbfgs", precondition="diagonal").fit(X, y)
    assert dense.n_iter_ <= 2 < diagonal.n_iter_  # the whitened least-squares bowl is round: one step


def test_fixed_learning_rate_is_the_tutorials_update(rng):
    """A number for learning_rate means W ← W − α dW, b ← b − α db on the data as given."""
    X = correlated(rng, m=50, p=3)
    y = rng.normal(size=50)
    alpha = 1e-6
    model = LinearRegression(learning_rate=alpha, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, coef_init=np.zeros(3), intercept_init=0.0)
    r = X @ np.zeros(3) + 0.0 - y  # Ŷ − Y at W = 0, b = 0
    dW = X.T @ r / len(y)
    db = r.mean()
    np.testing.assert_allclose(model.coef_, -alpha * dW, rtol=1e-10)
    assert model.intercept_ == pytest.approx(-alpha * db, rel=1e-10)
    clf = LogisticRegression(learning_rate=0.1, max_iter=1)
    labels = (y > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, labels, coef_init=np.zeros(3), intercept_init=0.0)
    r = 0.5 - labels  # σ(0) − y
    np.testing.assert_allclose(clf.coef_[0], -0.1 * X.T @ r / len(y), rtol=1e-10)


@pytest.mark.parametrize("kind", ["dense", "diagonal", None])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_lipschitz_from_the_gram_matrix_is_the_largest_eigenvalue(rng, kind, fit_intercept):
    X = correlated(rng, m=300, p=5)
    y = rng.normal(size=300)
    sw = rng.uniform(0.5, 2, size=300)
    data = ArraySource(X, y[:, None], sw)
    stats = data.statistics(center=fit_intercept, gram=True, targets=True)
    ridge = 0.3
    coords = None
    if kind is not None:
        make = whitened_coordinates if kind == "dense" else diagonal_coordinates
        coords = make(stats, ridge=ridge, target_scale=stats.target_std)
    L = lipschitz_from_statistics(stats, coords, curvature=0.25, ridge=ridge, fit_intercept=fit_intercept)
    # the same bound, built directly: H = Tᵀ(c·AᵀSA/m + ridge·I_W)T/τ² with T the coordinate map
    p = X.shape[1]
    A = np.c_[X, np.ones(300)]
    H = 0.25 * (A * sw[:, None]).T @ A / sw.sum()
    H[:p, :p] += ridge * np.eye(p)
    T = (
        np.eye(p + 1)
        if coords is None
        else np.column_stack([coords.to_original(e[:, None])[:, 0] for e in np.eye(p + 1)])
    )
    Hs = T.T @ H @ T / (1.0 if coords is None else coords.value_scale)
    if not fit_intercept:
        Hs = Hs[:-1, :-1]
    assert L == pytest.approx(np.linalg.eigvalsh(Hs)[-1], rel=1e-9)


def test_newton_hessian_is_the_derivative_of_the_gradient(rng):
    """Problem.value_grad_hessian against finite differences of the gradient, in whitened coordinates."""
    X = correlated(rng, m=200, p=3)
    y = rng.integers(0, 3, size=200)
    model = LogisticRegression(l2=2.0, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    session = model._session
    from gdlearn.data.source import ArraySource
    from gdlearn.losses import MultinomialLogLoss
    from gdlearn.objective import Objective

    Y = np.eye(3)[y]
    data = ArraySource(X, Y)
    problem = Objective(MultinomialLogLoss(), l2=2.0, penalty_norm=200).bind(data, session.coords)
    theta = rng.normal(size=problem.shape) * 0.3
    _, _, H = problem.value_grad_hessian(theta)
    eps = 1e-6
    numeric = np.empty_like(H)
    for j in range(theta.size):
        d = np.zeros(theta.size)
        d[j] = eps
        plus = problem.value_and_grad(theta + d.reshape(theta.shape))[1].ravel()
        minus = problem.value_and_grad(theta - d.reshape(theta.shape))[1].ravel()
        numeric[:, j] = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(H, numeric, rtol=1e-5, atol=1e-7 * np.abs(H).max())
