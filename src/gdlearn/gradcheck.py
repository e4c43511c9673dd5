"""Finite-difference check of the analytic gradient.

The tutorial's "nudge" test: change one parameter by ±ε, see how much the loss
moves, and compare (J(θ + εeⱼ) − J(θ − εeⱼ)) / 2ε with the analytic dJ/dθⱼ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["check_gradient", "GradientCheckResult"]


@dataclass
class GradientCheckResult:
    """Outcome of :func:`check_gradient`.

    Attributes
    ----------
    max_relative_error : float
        max_j |a_j − n_j| / max(|a_j|, |n_j|, floor) with floor =
        1e-8·max(1, max|a|), a the analytic and n the numerical gradient.
    analytic, numeric : ndarray of shape (n_features + 1, n_outputs)
        Rows 0..p−1 are dW, the last row is db.
    theta : ndarray
        The point at which the gradient was checked.
    """

    max_relative_error: float
    analytic: np.ndarray
    numeric: np.ndarray
    theta: np.ndarray

    def __repr__(self) -> str:
        return f"GradientCheckResult(max_relative_error={self.max_relative_error:.3e}, n_params={self.analytic.size})"


def check_gradient(
    model,
    X=None,
    y=None,
    *,
    theta: np.ndarray | None = None,
    sample_weight=None,
    eps: float = 1e-6,
    random_state=0,
) -> GradientCheckResult:
    """Compare gdlearn's analytic gradient with central finite differences.

    Parameters
    ----------
    model : LinearRegression, LogisticRegression, or callable
        An estimator (fitted or not; its ``l2``, ``l1`` and ``fit_intercept``
        are used) together with ``X`` and ``y``; or a function
        ``theta -> (value, grad)`` together with ``theta``.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    theta : ndarray of shape (n_features + 1, n_outputs), optional
        Point to check at; default: random N(0, 1) parameters.
    sample_weight : array-like of shape (n_samples,), optional
    eps : float, default=1e-6
        The nudge ε.
    random_state : int, default=0

    Returns
    -------
    GradientCheckResult

    Examples
    --------
    >>> import numpy as np
    >>> from gdlearn import LogisticRegression, check_gradient
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 3)); y = (X[:, 0] > 0).astype(int)
    >>> check_gradient(LogisticRegression(), X, y).max_relative_error < 1e-6
    True
    """
    if callable(model) and not hasattr(model, "fit"):
        if theta is None:
            raise ValueError("check_gradient(fun, theta=...): give the point theta at which to check fun.")
        fun: Callable = model

        def value_fn(t):
            return fun(t)[0]

    else:
        if X is None or y is None:
            raise ValueError("check_gradient(estimator, X, y): X and y are required with an estimator.")
        objective = model.get_objective(X, y, sample_weight)

        def fun(t):
            value, grad = objective.value_and_grad(t)
            if objective.has_l1:  # differentiable where no coefficient is zero
                value += objective.nonsmooth_value(t)
                grad = grad.copy()
                grad[:-1] += objective.penalty.l1 * np.sign(t[:-1])
            return value, grad

        value_fn = objective.value  # J itself, penalties included: no gradient per nudge
        if theta is None:
            theta = np.random.default_rng(random_state).standard_normal(objective.shape)
            if not objective.fit_intercept:
                theta[-1] = 0.0
    theta = np.array(theta, dtype=float)
    _, analytic = fun(theta)
    analytic = np.asarray(analytic, dtype=float)
    numeric = np.zeros_like(analytic)
    flat = theta.reshape(-1)
    num_flat = numeric.reshape(-1)
    for j in range(flat.size):
        orig = flat[j]
        flat[j] = orig + eps
        plus = value_fn(theta)
        flat[j] = orig - eps
        minus = value_fn(theta)
        flat[j] = orig
        num_flat[j] = (plus - minus) / (2 * eps)
    floor = 1e-8 * max(1.0, float(np.max(np.abs(analytic))))
    denom = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
    rel = float(np.max(np.abs(analytic - numeric) / denom))
    return GradientCheckResult(rel, analytic, numeric, theta.copy())
