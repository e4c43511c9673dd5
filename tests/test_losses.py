"""Pointwise losses: values, stability at extreme scores, and the shared derivative h(z) − y."""

import numpy as np
import pytest
from sklearn.metrics import log_loss as sk_log_loss

from gdlearn.losses import BinaryLogLoss, HalfSquaredError, MultinomialLogLoss, sigmoid, softmax


def col(a):
    return np.asarray(a, dtype=float).reshape(-1, 1)


def test_half_squared_error_has_the_half():
    y, z = col([1.0, 2.0]), col([3.0, 2.0])
    np.testing.assert_allclose(HalfSquaredError().pointwise(y, z), [2.0, 0.0])


def test_log_loss_matches_sklearn(rng):
    z = rng.normal(scale=3, size=200)
    y = (rng.random(200) < sigmoid(z)).astype(float)
    ours = BinaryLogLoss().pointwise(col(y), col(z)).mean()
    assert ours == pytest.approx(sk_log_loss(y, sigmoid(z)), rel=1e-12)


@pytest.mark.parametrize("z", [1e4, -1e4, 1e6, -1e300, 745.0, -745.0, 40.0, -40.0])
def test_log_loss_finite_and_accurate_at_extreme_scores(z):
    """No log(0), no overflow warning (pytest turns RuntimeWarning into errors here)."""
    loss = BinaryLogLoss()
    right = loss.pointwise(col([1.0 if z > 0 else 0.0]), col([z]))[0]  # confident and right
    wrong = loss.pointwise(col([0.0 if z > 0 else 1.0]), col([z]))[0]  # confident and wrong
    assert np.isfinite(right) and np.isfinite(wrong)
    assert wrong == pytest.approx(abs(z), rel=1e-12)  # log(1 + e^|z|) ≈ |z|
    # log(1 + e^-|z|) ≈ e^-|z| (underflows to 0 only when it is below the smallest double)
    assert right == pytest.approx(np.exp(-abs(z)), rel=1e-12, abs=0)


def test_sigmoid_never_overflows_or_warns():
    z = np.array([-1e4, -800.0, 0.0, 800.0, 1e4])
    s = sigmoid(z)
    np.testing.assert_allclose(s, [0.0, 0.0, 0.5, 1.0, 1.0])
    # σ'(z) = σ(z)(1 − σ(z)), by central differences
    z = np.linspace(-5, 5, 11)
    h = 1e-6
    np.testing.assert_allclose((sigmoid(z + h) - sigmoid(z - h)) / (2 * h), sigmoid(z) * (1 - sigmoid(z)), rtol=1e-8)


@pytest.mark.parametrize("loss", [HalfSquaredError(), BinaryLogLoss(), MultinomialLogLoss()])
def test_derivative_in_z_is_prediction_minus_target(loss, rng):
    """The key result: dℓ/dz = h(z) − y for every loss (central differences)."""
    k = 3 if isinstance(loss, MultinomialLogLoss) else 1
    z = rng.normal(size=(20, k))
    if isinstance(loss, MultinomialLogLoss):
        y = np.eye(k)[rng.integers(0, k, 20)]
    elif isinstance(loss, BinaryLogLoss):
        y = rng.integers(0, 2, (20, 1)).astype(float)
    else:
        y = rng.normal(size=(20, 1))
    h = 1e-6
    numeric = np.zeros_like(z)
    for j in range(k):
        e = np.zeros_like(z)
        e[:, j] = h
        numeric[:, j] = (loss.pointwise(y, z + e) - loss.pointwise(y, z - e)) / (2 * h)
    np.testing.assert_allclose(numeric, loss.inverse_link(z) - y, rtol=1e-7, atol=1e-9)


def test_multinomial_loss_is_cross_entropy_and_stable():
    z = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    values = MultinomialLogLoss().pointwise(y, z)
    np.testing.assert_allclose(values, [0.0, np.log(3)], atol=1e-12)
    np.testing.assert_allclose(softmax(z).sum(1), 1.0)


def test_link_inverts_inverse_link():
    for loss, y_mean in [(BinaryLogLoss(), np.array([0.3])), (HalfSquaredError(), np.array([4.2]))]:
        np.testing.assert_allclose(loss.inverse_link(loss.link(y_mean)[None, :])[0], y_mean)
    p = np.array([0.2, 0.5, 0.3])
    np.testing.assert_allclose(softmax(MultinomialLogLoss().link(p)[None, :])[0], p)


@pytest.mark.parametrize("loss", [HalfSquaredError(), BinaryLogLoss(), MultinomialLogLoss()])
@pytest.mark.parametrize("weighted", [False, True])
def test_fast_sum_and_residual_equals_the_reference_formulas(loss, weighted, rng):
    """The kernel's in-place path gives the numbers of pointwise() and inverse_link()."""
    k = 3 if isinstance(loss, MultinomialLogLoss) else 1
    z = rng.normal(scale=20, size=(500, k))
    z[:4, 0] = [40.0, -40.0, 800.0, -800.0]  # saturated scores, tiny and huge losses
    if isinstance(loss, MultinomialLogLoss):
        y = np.eye(k)[rng.integers(0, k, 500)]
        y[0], z[0] = [1.0, 0.0, 0.0], [40.0, 0.0, -5.0]  # confidently right: ℓ = log(1 + e⁻⁴⁰ + e⁻⁴⁵)
    elif isinstance(loss, BinaryLogLoss):
        y = rng.integers(0, 2, (500, 1)).astype(float)
        y[:4, 0] = [1.0, 0.0, 1.0, 0.0]  # confidently right
    else:
        y = rng.normal(size=(500, 1))
    sw = rng.uniform(0, 2, 500) if weighted else None
    ell = loss.pointwise(y, z)
    expected_total = ell.sum() if sw is None else ell @ sw
    expected_r = (loss.inverse_link(z) - y) * (1.0 if sw is None else sw[:, None])
    total, r = loss.sum_and_residual(y, z.copy(), sw)
    assert total == pytest.approx(expected_total, rel=1e-12)
    np.testing.assert_allclose(r, expected_r, rtol=1e-12, atol=1e-300)
    if not isinstance(loss, HalfSquaredError):  # tiny losses are not rounded away
        single, _ = loss.sum_and_residual(y[:1], z[:1].copy())
        tiny = np.exp(-40.0) + (np.exp(-45.0) if k == 3 else 0.0)
        assert single == pytest.approx(tiny, rel=1e-12, abs=0)  # abs=0: 0.0 must not pass
