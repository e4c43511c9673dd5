"""Internal preconditioning that never changes the answer: a change of variables θ = Tθ_s.

Gradient descent crawls when the loss surface is a long narrow valley: raw
features of very different scales (raw housing: condition number ≈ 1.4e8), or
correlated features, which no rescaling of single columns can fix.  gdlearn
solves the *same* problem in better coordinates,

.. math::

    W = τ\\, M\\, W_s, \\qquad b = τ\\, b_s − μ^\\top W ,

so that XW + b = τ[(X − μ) M W_s + b_s].  M is either

* **diagonal**, M = diag(1/σ) with σ the weighted column standard deviations
  (standardised coordinates), or
* **dense**, M = D⁻¹ V Λ^{-1/2} with D = diag(σ) and V Λ Vᵀ the
  eigendecomposition of the weighted correlation matrix D⁻¹(G + λ₂/m·I)D⁻¹,
  G = (1/m) Σ sᵢ(xᵢ − μ)(xᵢ − μ)ᵀ: *whitened* coordinates, in which the columns (X − μ)M are uncorrelated with
  unit variance.  For the squared loss G is the Hessian, so the surface in W_s
  is a perfectly round bowl; for the log losses it is as round as the link's
  curvature allows.  Directions in which the data do not vary (collinear or
  constant columns, eigenvalues below 1e-12 of the largest) are dropped: their
  columns of M are zero, so the solver never moves along them and the answer
  is the minimum-norm one, as with least squares.

μ is the weighted column mean with an intercept and zero without one (one
cannot centre without an intercept to absorb the shift).  For the squared loss
the target's spread τ is factored out too and the solver minimises J/τ², a
constant multiple of J with the same minimiser; parameters, gradients and the
tolerance are then unit-free.  This is a change of variables, not a change of
data or of objective: X is never copied or modified, J(Tθ_s) has the same
minimum, the solver's gradient is ∇_s = Tᵀ∇J/τ², and the result is mapped
back to W, b in the user's units.
"""

from __future__ import annotations

import numpy as np

from .data.stats import Statistics

__all__ = ["Coordinates", "diagonal_coordinates", "whitened_coordinates"]

#: eigenvalues of the (scaled) Gram matrix below this fraction of the largest are taken as zero
RANK_RTOL = 1e-12


class Coordinates:
    """The change of variables W = τ M W_s, b = τ b_s − μᵀW.

    Parameters
    ----------
    mean : ndarray of shape (n_features,)
        μ (zeros when not centring).
    matrix : ndarray of shape (n_features,) or (n_features, n_features)
        M: a diagonal (as a vector) or a dense matrix.
    inverse : ndarray of the same shape
        A left inverse M⁺ on the range of M (1/M for a diagonal).
    target_scale : float, default=1.0
        τ; the solver minimises J/τ².
    scale : ndarray of shape (n_features,)
        σ, the columns' spread (user units), for messages and checks.
    frozen : ndarray of bool, shape (n_features,), optional
        Diagonal coordinates held fixed (columns without spread).
    unit : ndarray of shape (n_features,), optional
        β, powers of two near each column's largest |x|: the units in which
        second-order sums over X are formed (default ones).
    """

    def __init__(self, mean, matrix, inverse, *, target_scale: float = 1.0, scale=None, frozen=None, unit=None) -> None:
        self.mean = np.asarray(mean, dtype=float)
        self.matrix = np.asarray(matrix, dtype=float)
        self.inverse = np.asarray(inverse, dtype=float)
        self.target_scale = float(target_scale)
        self.value_scale = self.target_scale**2
        self.scale = np.ones_like(self.mean) if scale is None else np.asarray(scale, dtype=float)
        self.frozen = np.zeros(self.mean.shape, dtype=bool) if frozen is None else np.asarray(frozen, dtype=bool)
        self.unit = np.ones_like(self.mean) if unit is None else np.asarray(unit, dtype=float)
        self.dense = self.matrix.ndim == 2

    @property
    def kind(self) -> str:
        return "dense" if self.dense else "diagonal"

    def _apply(self, A, V):
        return A @ V if self.dense else A[:, None] * V

    def to_original(self, theta_s: np.ndarray) -> np.ndarray:
        """θ = Tθ_s: W = τMW_s, b = τb_s − μᵀW (also maps directions)."""
        theta = np.empty_like(theta_s)
        theta[:-1] = self.target_scale * self._apply(self.matrix, theta_s[:-1])
        theta[-1] = self.target_scale * theta_s[-1] - self.mean @ theta[:-1]
        return theta

    def from_original(self, theta: np.ndarray) -> np.ndarray:
        """θ_s = T⁺θ: W_s = M⁺W/τ, b_s = (b + μᵀW)/τ."""
        theta_s = np.empty_like(theta)
        theta_s[:-1] = self._apply(self.inverse, theta[:-1]) / self.target_scale
        theta_s[-1] = (theta[-1] + self.mean @ theta[:-1]) / self.target_scale
        return theta_s

    def grad_to_solver(self, g: np.ndarray) -> np.ndarray:
        """Gradient of J/τ² in θ_s: Tᵀ∇J/τ², i.e. g_Ws = Mᵀ(g_W − μ g_bᵀ)/τ, g_bs = g_b/τ."""
        gs = np.empty_like(g)
        centred = g[:-1] - np.outer(self.mean, g[-1])
        # divide by τ after M: their product may underflow when both are tiny
        gs[:-1] = (self.matrix.T @ centred if self.dense else centred * self.matrix[:, None]) / self.target_scale
        gs[-1] = g[-1] / self.target_scale
        gs[:-1][self.frozen] = 0.0
        return gs

    def l1_weights(self) -> np.ndarray:
        """Weights w with λ‖W‖₁/τ² = λ Σ wⱼ|W_s,j| (diagonal coordinates only)."""
        if self.dense:
            raise ValueError("An L1 penalty needs diagonal coordinates (the proximal step is per coordinate).")
        with np.errstate(over="ignore"):
            return (self.matrix / self.target_scale)[:, None]


def _column_spread(stats: Statistics, ridge: float) -> np.ndarray:
    """σⱼ = √(varⱼ + λ₂/m) in user units (1 where it is zero); constant columns count as var = 0."""
    with np.errstate(over="ignore", under="ignore"):
        std = np.where(stats.constant, 0.0, np.sqrt(stats.second) * stats.scale)
        sigma = np.hypot(std, np.sqrt(ridge))  # overflow-safe √(var + ridge)
    return np.where(np.isfinite(sigma) & (sigma > 0), sigma, 1.0)


def diagonal_coordinates(stats: Statistics, *, ridge: float = 0.0, target_scale: float = 1.0) -> Coordinates:
    """Standardised coordinates: M = diag(1/σ), σⱼ = √(varⱼ + λ₂/m).

    ``ridge = λ₂/m`` keeps the penalty's curvature in these coordinates bounded
    for near-constant columns.  Constant columns get σ = 1 (or √ridge) and are
    held fixed when centred: their weight cannot change J.
    """
    sigma = _column_spread(stats, ridge)
    with np.errstate(over="ignore"):
        matrix = 1.0 / sigma
    frozen = stats.constant if stats.centred else None
    return Coordinates(
        stats.shift, matrix, sigma, target_scale=target_scale, scale=sigma, frozen=frozen, unit=stats.scale
    )


def whitened_coordinates(stats: Statistics, *, ridge: float = 0.0, target_scale: float = 1.0) -> Coordinates:
    """Whitened coordinates: M = diag(1/σ) V Λ^{-1/2}, with V Λ Vᵀ the correlation matrix (ridge included).

    The correlation matrix C = D⁻¹(G + λ₂/m·I)D⁻¹, D = diag(σ), comes from
    ``stats.gram``; its diagonal is one, so every entry is well scaled
    whatever the units of the columns.  Constant columns (when centred) are
    left out and held at zero, as in diagonal coordinates; eigen-directions
    with Λ ≤ 1e-12·max Λ are dropped (zero columns of M), which handles
    collinear columns.
    """
    p = stats.n_features
    sigma = _column_spread(stats, ridge)
    frozen = stats.constant if stats.centred else np.zeros(p, dtype=bool)
    live = np.flatnonzero(~frozen) if frozen.any() else slice(None)
    sl = live if isinstance(live, slice) else np.ix_(live, live)
    with np.errstate(under="ignore"):
        s = stats.scale[live] / sigma[live]  # β/σ: the Gram matrix is in units of β
        C = stats.gram[:p, :p][sl] * s[:, None] * s[None, :]
        C.flat[:: C.shape[0] + 1] += (np.sqrt(ridge) / sigma[live]) ** 2
    lam, V = np.linalg.eigh(C)
    keep = lam > RANK_RTOL * max(float(lam[-1]) if len(lam) else 0.0, np.finfo(float).tiny)
    root = np.sqrt(np.where(keep, lam, 1.0))
    matrix = np.zeros((p, p))
    inverse = np.zeros((p, p))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        matrix[sl] = (V * np.where(keep, 1.0 / root, 0.0)) / sigma[live, None]  # D⁻¹VΛ^{-1/2}
        inverse[sl] = (V.T * np.where(keep, root, 0.0)[:, None]) * sigma[None, live]
    if not (np.isfinite(matrix).all() and np.isfinite(inverse).all()):
        # a spread near the bottom of float64's range: 1/σ times Λ^{-1/2} overflows.  Diagonal
        # coordinates need only 1/σ, and the representability check judges them.
        return diagonal_coordinates(stats, ridge=ridge, target_scale=target_scale)
    return Coordinates(
        stats.shift, matrix, inverse, target_scale=target_scale, scale=sigma, frozen=frozen, unit=stats.scale
    )
