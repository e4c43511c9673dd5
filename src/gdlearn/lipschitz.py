"""The Lipschitz constant L of the gradient, by power iteration.

For the squared loss L is the largest eigenvalue of [X 1]ᵀ[X 1]/m (a weighted
version with sample weights), for the log loss a quarter of it, for the
multinomial loss a half; λ₂/m is added with an L2 penalty.  Gradient descent
with a fixed step α is stable exactly when α < 2/L; gdlearn's ``"auto"`` step is
1/L, which also guarantees that every step decreases the loss.
"""

from __future__ import annotations

import numpy as np

__all__ = ["lipschitz_constant", "minibatch_lipschitz"]


def lipschitz_constant(objective, *, rtol: float = 1e-4, max_iter: int = 100, random_state=0) -> float:
    """Estimate L = λ_max(H) of an objective by power iteration.

    Parameters
    ----------
    objective : Objective or Standardized
        Anything with ``shape`` and ``hessian_bound_matvec``.
    rtol : float, default=1e-4
        Stop when the Rayleigh quotient changes by less than this, relatively.
    max_iter : int, default=100
    random_state : int, Generator or None
        Seeds the random start vector (results are deterministic for an int).

    Returns
    -------
    float
        The estimate, which is never above the true L (a Rayleigh quotient) and
        converges to it; 0.0 for an all-zero problem.
    """
    rng = np.random.default_rng(random_state)
    p1 = objective.shape[0]
    v = rng.standard_normal((p1, 1))
    if not objective.fit_intercept:
        v[-1] = 0.0
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(max_iter):
        w = objective.hessian_bound_matvec(v)
        new = float(np.vdot(v, w))
        norm = float(np.linalg.norm(w))
        if norm == 0.0 or not np.isfinite(norm):
            return max(new, 0.0)
        v = w / norm
        if abs(new - lam) <= rtol * abs(new):
            lam = new
            break
        lam = new
    return lam


def minibatch_lipschitz(L: float, L_max: float, n: int, batch_size: int) -> float:
    """Expected smoothness of a mini-batch gradient (sampling without replacement).

    L_B = n(B − 1)/(B(n − 1))·L + (n − B)/(B(n − 1))·L_max, which equals L for a
    full batch and L_max (the largest single-sample constant) for B = 1
    (Gower et al., "SGD: General Analysis and Improved Rates", ICML 2019).
    """
    if batch_size >= n or n <= 1:
        return L
    B = batch_size
    return n * (B - 1) / (B * (n - 1)) * L + (n - B) / (B * (n - 1)) * L_max
