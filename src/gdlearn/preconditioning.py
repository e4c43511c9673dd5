"""Internal preconditioning that never changes the answer.

Raw features of very different scales make gradient descent crawl: the
Lipschitz constant follows the largest column, progress along the smallest
one is slow (raw housing data: condition number ≈ 1.4e8).  gdlearn may solve
the *same* problem in standardised coordinates

.. math::

    W = W_s / σ, \\qquad b = b_s − μ^\\top W ,

so that ``XW + b = ((X − μ)/σ) W_s + b_s``.  For the squared error the
target's spread τ (its standard deviation) is factored out too:
W = τ W_s/σ, b = τ b_s − μᵀW, and the solver minimises J/τ², a constant
multiple of J with the same minimiser.  Then parameters, gradients and the
tolerance are unit-free: prices in dollars or in thousands of dollars take the
same iterations.  This is a change of variables
θ = Tθ_s, not a change of data or of objective: J(Tθ_s) has the same minimum,
gradient descent on θ_s simply sees a better-conditioned surface, and the
result is mapped back to W, b in the user's units.  X is never copied or
modified: the wrapper maps parameters and gradients (∇_s J = Tᵀ∇J), which also
works for sparse and out-of-core data.

μ is the weighted column mean when there is an intercept (zero otherwise: one
cannot centre without an intercept to absorb the shift); σ is the weighted
column standard deviation around μ (1 for constant columns).
"""

from __future__ import annotations

import numpy as np

from .objective import Objective

__all__ = ["ColumnScaling", "Standardized", "column_stats"]


def column_stats(X, sample_weight=None, center: bool = True, ridge: float = 0.0):
    """Weighted column mean μ (zeros if not ``center``), scale σ, and constant-column mask of X.

    σ_j = √(var_j + ridge): with an L2 penalty λ₂/(2m)‖W‖², ``ridge = λ₂/m`` keeps
    the penalty's curvature in standardised coordinates bounded even for
    near-constant columns.  Statistics are computed on columns first divided by
    their largest absolute value, so that values near the floating-point limits
    (1e150, 1e-300) neither overflow nor underflow.  Returns arrays of shape
    (n_features,).  Constant columns get σ = 1 (or √ridge) so that the change of
    variables stays invertible.
    """
    n = X.shape[0]
    w = np.full(n, 1.0 / n) if sample_weight is None else sample_weight / np.sum(sample_weight)
    p = X.shape[1]
    if hasattr(X, "multiply"):  # scipy.sparse, never densified: var = E[x²] − μ²
        big = np.asarray(abs(X).max(axis=0).todense()).ravel()
        big = np.where(big > 0, big, 1.0)
        Xn = X.multiply(1.0 / big).tocsr()
        mean_n = np.asarray(Xn.T @ w).ravel() if center else np.zeros(p)
        var_n = np.maximum(np.asarray(Xn.multiply(Xn).T @ w).ravel() - mean_n**2, 0.0)
    else:  # dense: three passes over ~1 MiB blocks, no full-size temporaries
        rows = max(64, (1 << 20) // max(1, 8 * p))
        big = np.zeros(p)
        for s in range(0, n, rows):
            np.maximum(big, np.abs(X[s : s + rows]).max(axis=0), out=big)
        big = np.where(big > 0, big, 1.0)
        mean_n = np.zeros(p)
        if center:
            for s in range(0, n, rows):
                mean_n += w[s : s + rows] @ (X[s : s + rows] / big)
        var_n = np.zeros(p)  # E[(x − μ)²] in a second pass: no cancellation
        for s in range(0, n, rows):
            d = X[s : s + rows] / big - mean_n
            var_n += w[s : s + rows] @ (d * d)
    mean = mean_n * big  # zeros when not centring
    std_n = np.sqrt(var_n)
    # spread below rounding noise of the mean: the column is constant
    constant = std_n <= 1e-12 * np.maximum(np.abs(mean_n), 1e-300) if center else std_n == 0
    std = np.where(constant, 0.0, std_n * big)
    scale = np.hypot(std, np.sqrt(ridge))  # overflow-safe √(var + ridge)
    scale = np.where(scale > 0, scale, 1.0)
    return mean, scale, constant


class ColumnScaling:
    """The change of variables θ = Tθ_s with W = τW_s/σ, b = τb_s − μᵀW.

    Parameters
    ----------
    mean, scale : ndarray of shape (n_features,)
        μ and σ.
    target_scale : float, default=1.0
        τ; the solver minimises J/τ².
    """

    def __init__(self, mean: np.ndarray, scale: np.ndarray, target_scale: float = 1.0, frozen=None) -> None:
        self.mean = np.asarray(mean, dtype=float)
        self.scale = np.asarray(scale, dtype=float)
        self.target_scale = float(target_scale)
        self.value_scale = self.target_scale**2
        # centred constant columns are identically zero: their weight cannot change J
        self.frozen = np.zeros(self.mean.shape, dtype=bool) if frozen is None else np.asarray(frozen, dtype=bool)

    @classmethod
    def fit(cls, X, sample_weight=None, center: bool = True, Y=None, ridge: float = 0.0) -> ColumnScaling:
        """μ, σ of X (see :func:`column_stats`); τ from Y when given (regression)."""
        mean, scale, constant = column_stats(X, sample_weight, center, ridge)
        tau = 1.0
        if Y is not None:
            _, y_scale, _ = column_stats(Y, sample_weight, center)
            top = float(np.max(y_scale))
            tau = top * float(np.sqrt(np.mean((y_scale / top) ** 2)))
        return cls(mean, scale, tau, frozen=constant if center else None)

    def to_original(self, theta_s: np.ndarray) -> np.ndarray:
        """θ = Tθ_s: W = τW_s/σ, b = τb_s − μᵀW (also maps directions)."""
        theta = np.empty_like(theta_s)
        theta[:-1] = theta_s[:-1] * (self.target_scale / self.scale)[:, None]
        theta[-1] = self.target_scale * theta_s[-1] - self.mean @ theta[:-1]
        return theta

    def from_original(self, theta: np.ndarray) -> np.ndarray:
        """θ_s = T⁻¹θ: W_s = σW/τ, b_s = (b + μᵀW)/τ."""
        theta_s = np.empty_like(theta)
        theta_s[:-1] = theta[:-1] * (self.scale / self.target_scale)[:, None]
        theta_s[-1] = (theta[-1] + self.mean @ theta[:-1]) / self.target_scale
        return theta_s

    def grad_to_scaled(self, g: np.ndarray) -> np.ndarray:
        """Gradient of J/τ² in θ_s: Tᵀ∇J/τ², i.e. g_Ws = (g_W − μ g_bᵀ)/(στ), g_bs = g_b/τ."""
        gs = np.empty_like(g)
        # divide by σ, then by τ: their product may underflow when both are tiny
        gs[:-1] = (g[:-1] - np.outer(self.mean, g[-1])) / self.scale[:, None] / self.target_scale
        gs[-1] = g[-1] / self.target_scale
        gs[:-1][self.frozen] = 0.0
        return gs


class Standardized:
    """An :class:`~gdlearn.objective.Objective` seen in standardised coordinates.

    Has the same interface as the objective it wraps; ``theta`` arguments are
    θ_s.

    Parameters
    ----------
    objective : Objective
    scaling : ColumnScaling
    """

    def __init__(self, objective: Objective, scaling: ColumnScaling) -> None:
        self.base = objective
        self.scaling = scaling
        self.mean, self.scale = scaling.mean, scaling.scale
        self.to_original = scaling.to_original
        self.from_original = scaling.from_original
        self._grad_to_scaled = scaling.grad_to_scaled
        self.value_scale = scaling.value_scale
        # λ‖W‖₁/τ² = (λ/τ) Σ |W_s|/σ: coordinate-wise L1 weights in θ_s
        with np.errstate(over="ignore"):
            self._l1_weights = (1.0 / self.scale / scaling.target_scale)[:, None]

    def __getattr__(self, name):  # shapes, loss, flags: same as the base objective
        return getattr(self.base, name)

    # ------------------------------------------------------------- objective
    def value_and_grad(self, theta_s):
        value, g = self.base.value_and_grad(self.to_original(theta_s))
        return value / self.value_scale, self._grad_to_scaled(g)

    def smooth_value(self, theta_s):
        return self.base.smooth_value(self.to_original(theta_s)) / self.value_scale

    def nonsmooth_value(self, theta_s, weights=1.0):
        return self.base.nonsmooth_value(self.to_original(theta_s)) / self.value_scale

    def value(self, theta_s):
        return self.base.value(self.to_original(theta_s)) / self.value_scale

    def prox(self, theta_s, step, weights=1.0):
        return self.base.prox(theta_s, step, self._l1_weights)

    def residual(self, theta_s, grad_s, weights=1.0):
        return self.base.residual(theta_s, grad_s, self._l1_weights)

    def hessian_bound_matvec(self, v_s):
        return self._grad_to_scaled(self.base.hessian_bound_matvec(self.to_original(v_s)))

    def row_norm_bound(self) -> float:
        X = self.base.X
        n = X.shape[0]
        Xs_sq = _scaled_row_sq_norms(X, self.mean, self.scale)
        if self.base.fit_intercept:
            Xs_sq = Xs_sq + 1.0
        sw = self.base.sample_weight
        if sw is not None:
            Xs_sq = Xs_sq * sw / (self.base.data_norm / n)
        return float(self.base.loss.curvature * Xs_sq.max() + self.base.penalty.l2 * np.max(1 / self.scale**2))

    def decision_function(self, theta_s, X=None):
        return self.base.decision_function(self.to_original(theta_s), X)

    def subset(self, idx):
        return Standardized(self.base.subset(idx), self.scaling)


def _scaled_row_sq_norms(X, mean, scale) -> np.ndarray:
    """‖(xᵢ − μ)/σ‖² for each row, in row blocks (no full copy of X)."""
    n = X.shape[0]
    out = np.empty(n)
    rows = max(1, (1 << 22) // max(1, 8 * X.shape[1]))
    for s in range(0, n, rows):
        blk = X[s : s + rows]
        blk = blk.toarray() if hasattr(blk, "toarray") else np.asarray(blk)
        d = (blk - mean) / scale
        out[s : s + rows] = np.einsum("ij,ij->i", d, d)
    return out
