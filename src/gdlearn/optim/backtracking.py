"""Gradient descent with a backtracking (Armijo) line search.

Each iteration tries α = 2·α_prev (α₀ at the first) and halves it until the
sufficient-decrease condition of Beck & Teboulle (2009) holds,

.. math::

    J(θ^+) \\le J(θ) + ∇J(θ)^\\top(θ^+ − θ) + \\frac{1}{2α}\\lVert θ^+ − θ\\rVert^2 ,
    \\qquad θ^+ = \\operatorname{prox}_{α}(θ − α∇J(θ)),

which for a smooth objective is Armijo's condition J(θ − αg) ≤ J(θ) − (α/2)‖g‖².
No Lipschitz constant is needed and the loss decreases at every step.
"""

from __future__ import annotations

import numpy as np

from .base import Optimizer

__all__ = ["Backtracking"]


class Backtracking(Optimizer):
    """Proximal gradient descent with backtracking line search.

    Parameters
    ----------
    lr0 : float, default=1.0
        First trial step.
    shrink : float, default=0.5
    grow : float, default=2.0
        Each iteration starts from ``grow`` times the last accepted step.
    max_backtracks : int, default=60
    """

    name = "gd"
    full_batch_only = True

    def __init__(self, lr0: float = 1.0, shrink: float = 0.5, grow: float = 2.0, max_backtracks: int = 60) -> None:
        self.lr0, self.shrink, self.grow, self.max_backtracks = lr0, shrink, grow, max_backtracks

    def init(self, theta):
        return {"lr": float(self.lr0) / self.grow, "count": 0, "stalled": 0}

    def step(self, objective, theta, value, grad, state, evaluate=True):
        lr = state["lr"] * self.grow
        slack = 1e-12 * abs(value)
        for _ in range(self.max_backtracks):
            new = objective.prox(theta - lr * grad, lr)
            d = new - theta
            v_new, g_new = objective.value_and_grad(new)
            if (
                np.isfinite(v_new)
                and v_new <= value + float(np.vdot(grad, d)) + float(np.vdot(d, d)) / (2 * lr) + slack
            ):
                return new, v_new, g_new, {"lr": lr, "count": state["count"] + 1, "stalled": 0}
            lr *= self.shrink
        return theta, value, grad, {"lr": state["lr"], "count": state["count"] + 1, "stalled": 1}

    def current_lr(self, state):
        return state["lr"]
