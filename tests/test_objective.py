"""The objective: one gradient formula, checked by finite differences in every combination."""

import numpy as np
import pytest
import scipy.sparse as sp

from gdlearn import LinearRegression, LogisticRegression, check_gradient
from gdlearn.losses import BinaryLogLoss, HalfSquaredError, MultinomialLogLoss
from gdlearn.objective import Objective
from gdlearn.preconditioning import ColumnScaling, Standardized


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


@pytest.mark.parametrize("loss", [HalfSquaredError(), BinaryLogLoss(), MultinomialLogLoss()])
@pytest.mark.parametrize("sparse", [False, True])
def test_fused_and_reference_kernels_agree(rng, loss, sparse):
    n, p = 20_000, 30  # several row blocks
    X = rng.normal(size=(n, p)) * (rng.random((n, p)) < (0.2 if sparse else 1.0))
    k = 3 if isinstance(loss, MultinomialLogLoss) else 1
    if isinstance(loss, MultinomialLogLoss):
        Y = np.eye(k)[rng.integers(0, k, n)]
    elif isinstance(loss, BinaryLogLoss):
        Y = rng.integers(0, 2, size=(n, 1)).astype(float)
    else:
        Y = rng.normal(size=(n, 1))
    theta = rng.normal(size=(p + 1, k)) * 0.1
    sw = rng.uniform(size=n)
    Xin = sp.csr_matrix(X) if sparse else X
    a = Objective(Xin, Y, loss, sample_weight=sw, fused=True).value_and_grad(theta)
    b = Objective(X, Y, loss, sample_weight=sw, fused=False).value_and_grad(theta)
    assert a[0] == pytest.approx(b[0], rel=1e-12)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-10, atol=1e-13)
    value_only = Objective(Xin, Y, loss, sample_weight=sw, fused=True).smooth_value(theta)
    assert value_only == pytest.approx(b[0], rel=1e-12)


def test_sparse_input_gives_the_same_objective(rng):
    X = rng.normal(size=(50, 6)) * (rng.random((50, 6)) < 0.3)
    y = X @ rng.normal(size=6)
    theta = rng.normal(size=(7, 1))
    dense = Objective(X, y[:, None], HalfSquaredError()).value_and_grad(theta)
    sparse = Objective(sp.csr_matrix(X), y[:, None], HalfSquaredError()).value_and_grad(theta)
    assert dense[0] == pytest.approx(sparse[0], rel=1e-12)
    np.testing.assert_allclose(dense[1], sparse[1], rtol=1e-12)
    a = LinearRegression(tol=1e-10).fit(X, y)
    b = LinearRegression(tol=1e-10).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-8)


def test_standardized_coordinates_are_a_change_of_variables(rng):
    """J(Tθ_s) is J; its gradient is Tᵀ∇J/τ²; the map round-trips."""
    X, y = data(rng, "linear")
    objective = Objective(X, y[:, None], HalfSquaredError(), l2=2.0)
    scaling = ColumnScaling.fit(X, Y=y[:, None], ridge=2.0 / len(y))
    work = Standardized(objective, scaling)
    theta_s = rng.normal(size=objective.shape)
    theta = scaling.to_original(theta_s)
    np.testing.assert_allclose(scaling.from_original(theta), theta_s, rtol=1e-12)
    assert work.value(theta_s) * scaling.value_scale == pytest.approx(objective.value(theta), rel=1e-12)
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
