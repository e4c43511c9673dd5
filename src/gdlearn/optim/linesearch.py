"""Armijo backtracking along a descent direction, shared by L-BFGS and Newton's method.

From α = 1, halve α until the sufficient-decrease condition

.. math::

    J(θ + αd) \\le J(θ) + c_1 α\\, ∇J(θ)^\\top d

holds (a relative slack of 1e-12·|J| absorbs rounding at the optimum).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["armijo"]


def armijo(
    evaluate: Callable[[np.ndarray], tuple],
    theta: np.ndarray,
    direction: np.ndarray,
    value: float,
    slope: float,
    *,
    c1: float = 1e-4,
    max_backtracks: int = 40,
):
    """The first α in 1, ½, ¼, … that satisfies Armijo's condition.

    Parameters
    ----------
    evaluate : callable
        θ ↦ a tuple whose first item is J(θ) (the rest is handed back untouched).
    theta, direction : ndarray
        θ and d (d of any shape with θ's size).
    value, slope : float
        J(θ) and ∇J(θ)ᵀd (negative).

    Returns
    -------
    (α, θ + αd, evaluate(θ + αd)), or None when no α in ``max_backtracks`` halvings decreases J.
    """
    d = direction.reshape(theta.shape)
    lr = 1.0
    slack = 1e-12 * abs(value)
    for _ in range(max_backtracks):
        new = theta + lr * d
        out = evaluate(new)
        if np.isfinite(out[0]) and out[0] <= value + c1 * lr * slope + slack:
            return lr, new, out
        lr *= 0.5
    return None
