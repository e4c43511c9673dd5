"""L2, L1 and elastic-net penalties against scikit-learn, with the documented mapping.

Mapping (docs/penalties section of gdlearn.penalties): Ridge(alpha) = l2; Lasso(alpha) = l1/m;
ElasticNet(alpha, l1_ratio): alpha·l1_ratio = l1/m, alpha·(1 − l1_ratio) = l2/m;
LogisticRegression(C) = 1/l2 (L2) or 1/l1 (L1).
"""

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet, Lasso, Ridge
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from gdlearn import LinearRegression, LogisticRegression
from gdlearn.penalties import Penalty, soft_threshold


def sparse_problem(seed=0, n=200, p=20):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 3, size=p) + rng.normal(size=p)
    w = np.zeros(p)
    w[:5] = [3, -2, 1.5, 0.5, -0.25]
    y = X @ w + 4 + rng.normal(size=n)
    return X, y


@pytest.mark.parametrize("alpha", [0.1, 10.0])
def test_ridge(housing, alpha):
    X, y = housing
    ours = LinearRegression(l2=alpha, tol=1e-10).fit(X, y)
    ref = Ridge(alpha=alpha, solver="cholesky").fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-6)


@pytest.mark.parametrize("alpha", [0.1, 0.5, 2.0])
def test_lasso_values_and_zero_pattern(alpha):
    X, y = sparse_problem()
    m = len(y)
    ours = LinearRegression(l1=alpha * m, tol=1e-10, max_iter=20_000).fit(X, y)
    ref = Lasso(alpha=alpha, tol=1e-14, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-8)
    np.testing.assert_array_equal(ours.coef_ == 0, ref.coef_ == 0)
    assert np.any(ours.coef_ == 0)  # exact zeros from the proximal step
    assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-5)


@pytest.mark.parametrize("alpha,l1_ratio", [(0.1, 0.5), (0.3, 0.9)])
def test_elastic_net(alpha, l1_ratio):
    X, y = sparse_problem(1)
    m = len(y)
    ours = LinearRegression(l1=alpha * l1_ratio * m, l2=alpha * (1 - l1_ratio) * m, tol=1e-10, max_iter=20_000)
    ours.fit(X, y)
    ref = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-8)
    np.testing.assert_array_equal(ours.coef_ == 0, ref.coef_ == 0)


def test_logistic_l1_matches_sklearn(breast_cancer_std):
    X, y = breast_cancer_std
    C = 0.5
    ours = LogisticRegression(l1=1 / C, tol=1e-9, max_iter=20_000).fit(X, y)  # 6e-7 from saga at 1e-12
    ref = SkLogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(ours.coef_ == 0, ref.coef_ == 0)


def test_intercept_is_never_penalised(rng):
    """A huge penalty shrinks W to zero but leaves b at the mean of y."""
    X = rng.normal(size=(50, 3))
    y = X @ [1.0, 2.0, 3.0] + 100.0
    for kwargs in ({"l2": 1e9}, {"l1": 1e9}):
        model = LinearRegression(tol=1e-12, **kwargs).fit(X, y)
        np.testing.assert_allclose(model.coef_, 0.0, atol=1e-5)
        assert model.intercept_ == pytest.approx(y.mean(), rel=1e-6)


def test_penalty_primitives():
    W = np.array([[3.0], [-0.5], [0.2]])
    assert Penalty(l2=2.0).smooth_value(W) == pytest.approx(0.5 * 2.0 * (9 + 0.25 + 0.04))
    np.testing.assert_allclose(soft_threshold(W, 1.0), [[2.0], [0.0], [0.0]])
    p = Penalty(l1=1.0)
    # optimality residual: zero at a coordinate where |g| <= λ and w = 0
    r = p.l1_residual(np.array([[0.0], [1.0]]), np.array([[0.5], [-1.0]]))
    np.testing.assert_allclose(r, [[0.0], [0.0]])


@pytest.mark.parametrize("l1,l2", [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.3, 2.5)])
def test_penalty_formulas_for_every_strength(l1, l2):
    """Values, gradient, proximal step and optimality residual against the formulas, 0 and 1 included."""
    rng = np.random.default_rng(0)
    W = rng.normal(size=(4, 2))
    W[0, 0] = 0.0
    G = rng.normal(size=(4, 2))
    G[0, 0] = 0.5 * l1  # inside the subdifferential at zero
    pen = Penalty(l2=l2, l1=l1)
    assert pen.has_l1 == (l1 > 0)
    assert pen.smooth_value(W) == pytest.approx(0.5 * l2 * np.sum(W**2), abs=0)
    np.testing.assert_array_equal(pen.smooth_grad(W), l2 * W)
    assert pen.l1_value(W) == pytest.approx(l1 * np.abs(W).sum(), abs=0)
    weights = rng.uniform(0.5, 2, size=(4, 1))
    step = 0.7
    want = np.sign(W) * np.maximum(np.abs(W) - step * l1 * weights, 0.0)
    np.testing.assert_array_equal(pen.prox(W, step, weights), want if l1 else W)
    t = l1 * weights * np.ones_like(W)
    residual = np.where(W != 0, G + t * np.sign(W), np.sign(G) * np.maximum(np.abs(G) - t, 0.0))
    np.testing.assert_array_equal(pen.l1_residual(W, G, weights), residual if l1 else G)
    if l1:
        assert pen.l1_residual(W, G, weights)[0, 0] == 0.0  # |G| ≤ λ₁·w at a zero coefficient: optimal there
