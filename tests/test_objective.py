"""The objective: one gradient formula, checked by finite differences in every combination."""

import numpy as np
import pytest
import scipy.sparse as sp

from gdlearn import LinearRegression, LogisticRegression, check_gradient
from gdlearn.data.source import ArraySource
from gdlearn.losses import BinaryLogLoss, HalfSquaredError
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


@pytest.mark.parametrize("kind", ["diagonal", "dense"])
def test_problem_in_preconditioned_coordinates_scales_every_part(rng, kind):
    """Value (with L1), mini-batch value, curvature and Hessian: each is J's in θ = Tθ_s, divided by c = τ²."""
    X, y = data(rng, "linear")
    src = ArraySource(X, y[:, None])
    stats = src.statistics(center=True, gram=True, targets=True)
    make = diagonal_coordinates if kind == "diagonal" else whitened_coordinates
    coords = make(stats, ridge=0.0, target_scale=stats.target_std)
    assert coords.value_scale > 1.5  # τ² well away from 1, so a missing or inverted scale shows
    plain = Objective(HalfSquaredError(), l1=(2.0 if kind == "diagonal" else 0.0), penalty_norm=src.weight_sum)
    work = plain.bind(src, coords)
    user = plain.bind(src)
    theta_s = rng.normal(size=work.shape)
    theta = coords.to_original(theta_s)
    c = coords.value_scale
    assert work.value(theta_s) * c == pytest.approx(user.value(theta), rel=1e-12)
    assert work.nonsmooth_value(theta_s) * c == pytest.approx(user.nonsmooth_value(theta), rel=1e-12)
    rows = np.arange(len(y))
    assert work.batch_value_and_grad(theta_s, rows)[0] == pytest.approx(work.value_and_grad(theta_s)[0], rel=1e-12)
    np.testing.assert_allclose(work.batch_value_and_grad(theta_s, rows)[1], work.value_and_grad(theta_s)[1], rtol=1e-12)


def test_without_an_intercept_b_gets_no_curvature_and_an_identity_hessian_row(rng):
    X, y = data(rng, "binary")
    src = ArraySource(X, y[:, None].astype(float))
    problem = Objective(BinaryLogLoss(), fit_intercept=False, l2=1.0, penalty_norm=src.weight_sum).bind(src)
    v = rng.normal(size=problem.shape)
    assert problem.hessian_bound_matvec(v)[-1, 0] == 0.0
    _, grad, H = problem.value_grad_hessian(v)
    assert grad[-1, 0] == 0.0
    np.testing.assert_array_equal(H[-1], np.eye(len(H))[-1])
    np.testing.assert_array_equal(H[:, -1], np.eye(len(H))[-1])


def test_minibatch_smoothness_formula():
    from gdlearn.lipschitz import minibatch_lipschitz

    L, L_max, n = 2.0, 30.0, 100
    assert minibatch_lipschitz(L, L_max, n, 1) == pytest.approx(L_max)  # one sample: its own constant
    assert minibatch_lipschitz(L, L_max, n, n) == L and minibatch_lipschitz(L, L_max, n, 5 * n) == L
    assert minibatch_lipschitz(L, L_max, 1, 1) == L
    B = 10
    assert minibatch_lipschitz(L, L_max, n, B) == pytest.approx(
        n * (B - 1) / (B * (n - 1)) * L + (n - B) / (B * (n - 1)) * L_max
    )
    assert minibatch_lipschitz(L, L_max, 2, 1) == pytest.approx(L_max)


def test_power_iteration_finds_the_largest_eigenvalue_and_handles_a_zero_problem(rng):
    from gdlearn.lipschitz import lipschitz_constant

    X, y = data(rng, "linear")
    src = ArraySource(X, y[:, None])
    for fit_intercept in (True, False):
        problem = Objective(HalfSquaredError(), fit_intercept=fit_intercept, penalty_norm=src.weight_sum).bind(src)
        A = np.c_[X, np.ones(len(X))] if fit_intercept else X
        exact = np.linalg.eigvalsh(A.T @ A / len(X))[-1]
        assert lipschitz_constant(problem, rtol=1e-13, max_iter=2000) == pytest.approx(exact, rel=1e-9)
        rough = lipschitz_constant(problem, rtol=1e-2, max_iter=2000)
        assert rough <= exact * (1 + 1e-12) and rough == pytest.approx(exact, rel=0.05)  # a Rayleigh quotient
    zero = Objective(HalfSquaredError(), fit_intercept=False, penalty_norm=40.0).bind(
        ArraySource(np.zeros((40, 3)), np.zeros((40, 1)))
    )
    assert lipschitz_constant(zero) == 0.0
