"""gdlearn.tutorial, in the tutorial's notation, gives the main API's numbers (transposed)."""

import warnings

import numpy as np
import pytest

from gdlearn import ConvergenceWarning, LinearRegression, LogisticRegression
from gdlearn import tutorial as T
from gdlearn.objective import pack


def test_losses_and_grads_equal_the_objective(housing_std, rng):
    X, y = housing_std
    W = rng.normal(size=(1, X.shape[1]))
    b = 0.7
    Y_pred = T.linear_forward(X.T, W, b)
    objective = LinearRegression().get_objective(X, y)
    value, grad = objective.value_and_grad(pack(W.T, [b]))
    assert T.mse_loss(y[None, :], Y_pred) == pytest.approx(value, rel=1e-12)
    dW, db = T.grads(X.T, y[None, :], Y_pred)
    assert dW.shape == (1, X.shape[1])
    np.testing.assert_allclose(dW.ravel(), grad[:-1, 0], rtol=1e-12)
    assert db == pytest.approx(grad[-1, 0], rel=1e-12)


def test_log_loss_and_grads_equal_the_objective(breast_cancer_std, rng):
    X, y = breast_cancer_std
    W = 0.1 * rng.normal(size=(1, X.shape[1]))
    Y_pred = T.logistic_forward(X.T, W, -0.2)
    objective = LogisticRegression().get_objective(X, y)
    value, grad = objective.value_and_grad(pack(W.T, [-0.2]))
    assert T.log_loss(y[None, :], Y_pred) == pytest.approx(value, rel=1e-12)
    dW, db = T.grads(X.T, y[None, :], Y_pred)
    np.testing.assert_allclose(dW.ravel(), grad[:-1, 0], rtol=1e-10)
    assert db == pytest.approx(grad[-1, 0], rel=1e-10)


@pytest.mark.parametrize("model", ["linear", "logistic"])
def test_training_loop_equals_gd_solver(housing_std, breast_cancer_std, model):
    X, y = housing_std if model == "linear" else breast_cancer_std
    Est = LinearRegression if model == "linear" else LogisticRegression
    W, b, losses = T.train(X.T, y[None, :], model=model, learning_rate=0.1, num_iterations=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = Est(solver="gd", learning_rate=0.1, max_iter=30, tol=0).fit(X, y, intercept_init=0.0)
    np.testing.assert_allclose(W.ravel(), np.ravel(est.coef_), rtol=1e-10, atol=1e-14)
    assert b == pytest.approx(float(np.ravel(est.intercept_)[0]), rel=1e-10, abs=1e-14)
    np.testing.assert_allclose(losses, est.loss_curve_, rtol=1e-10)


def test_sigmoid_derivative_identity():
    z = np.linspace(-4, 4, 9)
    h = 1e-6
    np.testing.assert_allclose(
        (T.sigmoid(z + h) - T.sigmoid(z - h)) / (2 * h), T.sigmoid(z) * (1 - T.sigmoid(z)), rtol=1e-8
    )
