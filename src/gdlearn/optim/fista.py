"""FISTA: accelerated proximal gradient with monotone restarts.

Beck & Teboulle's accelerated method (2009), in its monotone form:

.. math::

    x^+ = \\operatorname{prox}_{α}(y − α∇f(y)),\\quad
    t^+ = \\tfrac{1}{2}(1 + \\sqrt{1 + 4t^2}),\\quad
    y^+ = x^+ + \\tfrac{t − 1}{t^+}(x^+ − x).

If J(x⁺) > J(x) the momentum is reset (t = 1) and a plain proximal gradient step
is taken from x instead (O'Donoghue & Candès, 2015), so J never increases.
With α = 1/L it converges at rate O(1/k²), and linearly on strongly convex
problems.  It is the ``"auto"`` solver for full-batch fits with an L1 penalty.
"""

from __future__ import annotations

import math

from .base import Optimizer
from .schedules import Schedule

__all__ = ["FISTA"]


class FISTA(Optimizer):
    """Accelerated proximal gradient (full batch).

    Parameters
    ----------
    schedule : Schedule
        Step size α_t; 1/L by default.
    """

    name = "fista"
    full_batch_only = True

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def init(self, theta):
        return {"y": theta.copy(), "t": 1.0, "y_is_x": 1, "count": 0, "lr": float(self.schedule(0))}

    def step(self, objective, theta, value, grad, state, evaluate=True):
        lr = float(self.schedule(state["count"]))
        if state["y_is_x"]:
            y, fy, gy = theta, value, grad
        else:
            y = state["y"]
            fy, gy = objective.value_and_grad(y)
        x_new = objective.prox(y - lr * gy, lr)
        v_new, g_new = objective.value_and_grad(x_new)
        F_old = value + objective.nonsmooth_value(theta)
        F_new = v_new + objective.nonsmooth_value(x_new)
        count = state["count"] + 1
        if F_new > F_old and not state["y_is_x"]:
            # restart: a plain proximal-gradient step from x, momentum reset
            x_new = objective.prox(theta - lr * grad, lr)
            v_new, g_new = objective.value_and_grad(x_new)
            return x_new, v_new, g_new, {"y": x_new, "t": 1.0, "y_is_x": 1, "count": count, "lr": lr}
        t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * state["t"] ** 2))
        y_new = x_new + ((state["t"] - 1.0) / t_new) * (x_new - theta)
        return x_new, v_new, g_new, {"y": y_new, "t": t_new, "y_is_x": 0, "count": count, "lr": lr}

    def current_lr(self, state):
        return state["lr"]
