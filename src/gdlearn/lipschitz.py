"""The Lipschitz constant L of the gradient: exactly from the Gram matrix, or by power iteration.

For the squared loss L is the largest eigenvalue of [X 1]ᵀS[X 1]/m, for the log
loss a quarter of it, for the multinomial loss a half; λ₂/m is added with an
L2 penalty.  Gradient descent with a fixed step α is stable exactly when
α < 2/L; gdlearn's ``"auto"`` step is 1/L, which also guarantees that every
step decreases the loss.

When the statistics pass has formed the Gram matrix (dense X with a moderate
number of features), L is the largest eigenvalue of a (p + 1) × (p + 1)
matrix and costs no pass over X (:func:`lipschitz_from_statistics`).
Otherwise it is estimated by power iteration, one curvature pass per step
(:func:`lipschitz_constant`).
"""

from __future__ import annotations

import numpy as np

from ._norms import vector_norm

__all__ = ["lipschitz_constant", "lipschitz_from_statistics", "minibatch_lipschitz"]


def lipschitz_constant(problem, *, rtol: float = 1e-4, max_iter: int = 100, random_state=0) -> float:
    """Estimate L = λ_max(H) of a problem by power iteration.

    Parameters
    ----------
    problem : gdlearn.objective.Problem
        Anything with ``shape``, ``fit_intercept`` and ``hessian_bound_matvec``.
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
    p1 = problem.shape[0]
    v = rng.standard_normal((p1, 1))
    if not problem.fit_intercept:
        v[-1] = 0.0
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(max_iter):
        w = problem.hessian_bound_matvec(v)
        new = float(np.vdot(v, w))
        norm = vector_norm(w)  # w ≈ Lv: its entries' squares overflow when L > 1e154
        if norm == 0.0 or not np.isfinite(norm):
            return max(new, 0.0)
        v = w / norm
        if abs(new - lam) <= rtol * abs(new):
            lam = new
            break
        lam = new
    return lam


def lipschitz_from_statistics(stats, coords, *, curvature: float, ridge: float, fit_intercept: bool) -> float:
    """L in the coordinates ``coords`` (None: the user's), from the Gram matrix in ``stats``.

    With θ = Tθ_s (W = τMW_s, b = τb_s − μᵀW) and ξ = Mᵀ(x − μ), the bound on
    the Hessian of J/τ² is

    .. math::

        H_s = c\\begin{bmatrix} \\overline{ξξ^\\top} & \\bar ξ \\\\ \\bar ξ^\\top & 1 \\end{bmatrix}
              + \\frac{λ_2}{m}\\begin{bmatrix} M^\\top M & 0 \\\\ 0 & 0 \\end{bmatrix},

    averages weighted by s.  Everything is formed in units of the columns' β,
    so no entry overflows for features near the floating-point limits.

    Parameters
    ----------
    stats : gdlearn.data.stats.Statistics
        With ``gram``.
    coords : gdlearn.preconditioning.Coordinates or None
    curvature : float
        c, the loss's curvature bound.
    ridge : float
        λ₂/m.
    fit_intercept : bool
    """
    p = stats.n_features
    beta = stats.scale
    if coords is None:
        M, mu = None, np.zeros(p)
        K = np.diag(beta)
    else:
        M, mu = coords.matrix, coords.mean
        K = beta[:, None] * M if coords.dense else np.diag(beta * M)
    A = stats.moment_matrix(mu)  # (1/m) Σ s [(x − μ)/β, 1][…]ᵀ
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        H = np.empty((p + 1, p + 1))
        H[:p, :p] = curvature * (K.T @ A[:p, :p] @ K)
        if ridge:
            R = np.eye(p) if M is None else (np.diag(M) if M.ndim == 1 else M)
            R = np.sqrt(ridge) * R
            H[:p, :p] += R.T @ R
        H[:p, p] = H[p, :p] = curvature * (K.T @ A[:p, p])
        H[p, p] = curvature
    if coords is not None and coords.frozen.any():
        live = np.append(~coords.frozen, True)
        H = H[np.ix_(live, live)]
    if not fit_intercept:
        H = H[:-1, :-1]
    if H.size == 0:
        return 0.0
    if not np.all(np.isfinite(H)):
        return float("inf")
    return float(np.linalg.eigvalsh(H)[-1])


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
