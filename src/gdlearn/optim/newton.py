"""Newton's method with a backtracking line search.

Each iteration solves H d = −∇J with the exact Hessian H of the objective (the
data term's, from one pass over X, plus the L2 penalty's) and steps
θ ← θ + α d, with α = 1 first and halved until Armijo's condition
J(θ + αd) ≤ J(θ) + c₁α∇Jᵀd holds.  Near the optimum α = 1 is accepted and the
error squares at every step, so a handful of iterations reach machine
precision whatever the conditioning.

**Convergence test.**  The residual compared with ``tol`` is the gradient's
norm in the metric of the Hessian, √(∇JᵀH⁻¹∇J) (the Newton decrement): the
gradient norm in coordinates where the curvature is one in every direction.
It is independent of the units and bounds the gap, J − J* ≈ ½·(decrement)².
Each trial point is evaluated with its Hessian in the same pass over X
(``value_grad_hessian``), so the accepted point's Hessian serves both this test
and the next step.

A Hessian pass costs about (p + 1)·k times a gradient pass (p features, k
outputs), so Newton's method is gdlearn's ``"auto"`` solver for the log losses
only when (p + 1)·k is small (:data:`gdlearn.optim.factory.NEWTON_MAX_PARAMS`);
beyond that, L-BFGS in whitened coordinates is cheaper.  Directions of zero
curvature (the softmax's invariance to adding a constant to every class's
score, collinear features) are handled by a pseudo-inverse, with a plain
gradient step along them.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .base import Optimizer
from .linesearch import armijo

__all__ = ["Newton", "HessianSolve"]


class HessianSolve:
    """Solves H d = −g: Cholesky, or where H is (nearly) singular an eigendecomposition.

    On the null space (eigenvalues ≤ 1e-10 of the largest) it takes a gradient
    step of length 1/λ_max instead, so that the direction is always a descent
    direction.
    """

    def __init__(self, H: np.ndarray) -> None:
        self.chol = None
        try:
            chol = scipy.linalg.cho_factor(H, lower=True, check_finite=False)
            pivots = np.diag(chol[0]) ** 2  # no pivot below 1e-10 of the largest curvature: the same cut as below
            if np.all(np.isfinite(chol[0])) and np.min(pivots) > 1e-10 * np.max(np.diag(H)):
                self.chol = chol
        except (np.linalg.LinAlgError, ValueError):
            pass
        if self.chol is None:
            self.lam, self.V = np.linalg.eigh(H)
            self.top = max(float(self.lam[-1]), np.finfo(float).tiny)
            self.keep = self.lam > 1e-10 * self.top

    def direction(self, g: np.ndarray) -> np.ndarray:
        if self.chol is not None:
            return -scipy.linalg.cho_solve(self.chol, g, check_finite=False)
        coef = self.V.T @ g
        scaled = np.where(self.keep, coef / np.where(self.keep, self.lam, 1.0), coef / self.top)
        return -(self.V @ scaled)


class Newton(Optimizer):
    """Newton's method with Armijo backtracking (full batch, smooth objectives).

    Parameters
    ----------
    c1 : float, default=1e-4
        Armijo constant.
    max_backtracks : int, default=40
    """

    name = "newton"
    full_batch_only = True
    supports_l1 = False
    affine_invariant = True
    uses_curvature = True

    def __init__(self, c1: float = 1e-4, max_backtracks: int = 40) -> None:
        self.c1, self.max_backtracks = c1, max_backtracks
        self._cache: tuple[bytes, HessianSolve] | None = None

    def init(self, theta):
        return {"count": 0, "lr": 1.0, "stalled": 0, "residual_norm": -1.0}

    def _solver_at(self, objective, theta) -> HessianSolve:
        """The factorised Hessian at θ: from the previous step's last evaluation, or one more pass."""
        key = theta.tobytes()
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, HessianSolve(objective.value_grad_hessian(theta)[2]))
        return self._cache[1]

    def step(self, objective, theta, value, grad, state, evaluate=True):
        g = grad.ravel()
        d = self._solver_at(objective, theta).direction(g)
        slope = float(g @ d)
        if not slope < 0:  # rounding made it useless: a plain gradient step
            d = -g
            slope = -float(g @ g)
        # each trial evaluates its Hessian in the same pass: the accepted one serves the next step
        found = armijo(
            objective.value_grad_hessian, theta, d, value, slope, c1=self.c1, max_backtracks=self.max_backtracks
        )
        if found is None:
            return theta, value, grad, {**state, "count": state["count"] + 1, "stalled": 1}
        lr, new, (v_new, g_new, H_new) = found
        solve = HessianSolve(H_new)
        self._cache = (new.tobytes(), solve)
        flat = g_new.ravel()
        decrement = float(np.sqrt(max(-flat @ solve.direction(flat), 0.0)))
        return new, v_new, g_new, {"count": state["count"] + 1, "lr": lr, "stalled": 0, "residual_norm": decrement}

    def current_lr(self, state):
        return state["lr"]
