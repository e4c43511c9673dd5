"""L-BFGS, written on gdlearn's own loss-and-gradient function.

Limited-memory BFGS (Nocedal, 1980; Liu & Nocedal, 1989): the direction is
d = −H∇J(θ), where H approximates the inverse Hessian from the last ``memory``
pairs sₖ = θₖ₊₁ − θₖ, yₖ = ∇Jₖ₊₁ − ∇Jₖ (two-loop recursion, H₀ = γI with
γ = sᵀy / yᵀy).  The step length comes from a backtracking line search on
Armijo's condition J(θ + αd) ≤ J(θ) + c₁α∇Jᵀd, starting from α = 1.

We write it rather than drive ``scipy.optimize`` so that its state (the pairs)
is explicit: it is checkpointed, resumed bit for bit, and its iterations are
recorded like every other solver's.  It handles smooth objectives (L2 but not
L1) on full batches.
"""

from __future__ import annotations

import numpy as np

from .base import Optimizer
from .linesearch import armijo

__all__ = ["LBFGS"]


class LBFGS(Optimizer):
    """Limited-memory BFGS with Armijo backtracking.

    Parameters
    ----------
    memory : int, default=10
        Number of (s, y) pairs kept.
    c1 : float, default=1e-4
        Armijo constant.
    max_backtracks : int, default=40
    """

    name = "lbfgs"
    full_batch_only = True
    supports_l1 = False
    uses_curvature = True

    def __init__(self, memory: int = 10, c1: float = 1e-4, max_backtracks: int = 40) -> None:
        self.memory, self.c1, self.max_backtracks = memory, c1, max_backtracks

    def init(self, theta):
        n = theta.size
        return {"S": np.zeros((0, n)), "Y": np.zeros((0, n)), "count": 0, "lr": 1.0, "stalled": 0}

    def _direction(self, g, S, Y):
        q = g.copy()
        k = S.shape[0]
        if k == 0:
            return -q / max(1.0, float(np.linalg.norm(q)))
        rho = 1.0 / np.einsum("ij,ij->i", S, Y)
        alpha = np.empty(k)
        for i in range(k - 1, -1, -1):
            alpha[i] = rho[i] * (S[i] @ q)
            q -= alpha[i] * Y[i]
        q *= (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1])
        for i in range(k):
            beta = rho[i] * (Y[i] @ q)
            q += (alpha[i] - beta) * S[i]
        return -q

    def step(self, objective, theta, value, grad, state, evaluate=True):
        g = grad.ravel()
        S, Y = state["S"], state["Y"]
        d = self._direction(g, S, Y)
        slope = float(g @ d)
        if not slope < 0:  # not a descent direction: forget the curvature pairs
            S, Y = S[:0], Y[:0]
            d = self._direction(g, S, Y)
            slope = float(g @ d)
        found = armijo(objective.value_and_grad, theta, d, value, slope, c1=self.c1, max_backtracks=self.max_backtracks)
        if found is None:
            return theta, value, grad, {**state, "count": state["count"] + 1, "stalled": 1}
        lr, new, (v_new, g_new) = found
        s = (new - theta).ravel()
        y = (g_new - grad).ravel()
        sy = float(s @ y)
        if sy > 1e-10 * float(y @ y) and sy > 0:
            S = np.vstack([S, s])[-self.memory :]
            Y = np.vstack([Y, y])[-self.memory :]
        return new, v_new, g_new, {"S": S, "Y": Y, "count": state["count"] + 1, "lr": lr, "stalled": 0}

    def current_lr(self, state):
        return state["lr"]
