"""The objective: one gradient formula, checked by finite differences in every combination."""

import numpy as np
import pytest
import scipy.sparse as sp

from gdlearn import LinearRegression, LogisticRegression, check_gradient
from gdlearn.data.source import ArraySource
from gdlearn.losses import HalfSquaredError
from gdlearn.objective import Objective
from gdlearn.preconditioning import diagonal_coordinates, whitened_coordinates


def bound(X, Y, loss, sample_weight=None, l2=0.0, coords=None):
    data = ArraySource(X, Y, sample_weight)
    return Objective(loss, l2=l2, penalty_norm=data.weight_sum).bind(data, coords)


def data(rng, kind, n=40, p=4):
    X = rng.normal(size=(n, p)) * [1, 10, 0.1, 3][:p] + 2
    if kind == "linear":
        return X, X @ rng.normal(size=p) + rng.normal(size=n)
    if kind == "binary":
        return X, rng.integers(0, 2, size=n)
    return X, rng.integers(0, 3, size=n)


@pytest.mark.parametrize("kind", ["linear", "binary", "multinomial"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", [0.0, 3.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_check(rng, kind, fit_intercept, l2, weighted):
    X, y = data(rng, kind)
    X = (X - X.mean(0)) / X.std(0)
    Est = LinearRegression if kind == "linear" else LogisticRegression
    sw = rng.uniform(0.1, 3, size=len(y)) if weighted else None
    result = check_gradient(Est(fit_intercept=fit_intercept, l2=l2), X, y, sample_weight=sw)
    assert result.max_relative_error < 1e-6
    if not fit_intercept:
        assert np.all(result.analytic[-1] == 0)


def test_gradient_check_detects_a_wrong_gradient(rng):
    """The check can fail: a gradient missing the 1/m factor is caught."""
    X, y = data(rng, "linear")
    objective = LinearRegression().get_objective(X, y)

    def wrong(theta):
        value, grad = objective.value_and_grad(theta)
        return value, grad * len(y)

    result = check_gradient(wrong, theta=rng.normal(size=objective.shape))
    assert result.max_relative_error > 0.5


def test_sparse_input_gives_the_same_objective(rng):
    X = rng.normal(size=(50, 6)) * (rng.random((50, 6)) < 0.3)
    y = X @ rng.normal(size=6)
    theta = rng.normal(size=(7, 1))
    dense = bound(X, y[:, None], HalfSquaredError()).value_and_grad(theta)
    sparse = bound(sp.csr_matrix(X), y[:, None], HalfSquaredError()).value_and_grad(theta)
    assert dense[0] == pytest.approx(sparse[0], rel=1e-12)
    np.testing.assert_allclose(dense[1], sparse[1], rtol=1e-12)
    a = LinearRegression(tol=1e-10).fit(X, y)
    b = LinearRegression(tol=1e-10).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-8)


@pytest.mark.parametrize("kind", ["diagonal", "dense"])
@pytest.mark.parametrize("center", [True, False])
def test_preconditioned_coordinates_are_a_change_of_variables(rng, kind, center):
    """J(Tθ_s)/τ² is J/τ²; its gradient is Tᵀ∇J/τ² (finite differences); the map round-trips."""
    X, y = data(rng, "linear")
    data_ = ArraySource(X, y[:, None])
    stats = data_.statistics(center=center, gram=True, targets=True)
    make = diagonal_coordinates if kind == "diagonal" else whitened_coordinates
    coords = make(stats, ridge=2.0 / len(y), target_scale=stats.target_std)
    plain = bound(X, y[:, None], HalfSquaredError(), l2=2.0)
    work = bound(X, y[:, None], HalfSquaredError(), l2=2.0, coords=coords)
    theta_s = rng.normal(size=plain.shape)
    theta = coords.to_original(theta_s)
    np.testing.assert_allclose(coords.from_original(theta), theta_s, rtol=1e-10, atol=1e-12)
    assert work.value(theta_s) * coords.value_scale == pytest.approx(plain.value(theta), rel=1e-12)
    result = check_gradient(work.value_and_grad, theta=theta_s)
    assert result.max_relative_error < 1e-6


def test_lipschitz_estimate_matches_eigenvalue(rng):
    from gdlearn.lipschitz import lipschitz_constant

    X, y = data(rng, "binary")
    objective = LogisticRegression(l2=1.0).get_objective(X, y)
    A = np.c_[X, np.ones(len(X))]
    H = 0.25 * A.T @ A / len(X)
    H[:-1, :-1] += np.eye(X.shape[1]) * 1.0 / len(X)
    exact = np.linalg.eigvalsh(H)[-1]
    assert lipschitz_constant(objective, rtol=1e-12, max_iter=1000) == pytest.approx(exact, rel=1e-6)
