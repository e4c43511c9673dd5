"""Iterate averaging for stochastic runs: the model is a weighted average of the iterates.

A constant step α makes stochastic gradient descent hover in a cloud of
radius ∝ α around the optimum; averaging the iterates (Polyak & Juditsky,
1992; scikit-learn's ``average=True``) sits at the cloud's centre while the
iterates keep the constant α.  gdlearn uses polynomial-decay averaging
(Shamir & Zhang, 2013): after ``start`` steps,

    θ̄ ← (1 − w) θ̄ + w θ,   w = (η + 1)/(t + η),   t = 1, 2, ...

which weights iterate s of T about (s/T)^η: η = 0 is the uniform average;
η = 3 (the default) forgets the early iterates, still far from the optimum,
as a suffix average would, with O(1) memory.  The iterates themselves are
unchanged, so the tutorial's update is still what each step does.
``docs/optimizers.md`` ("Mini-batch defaults") gives the measurements behind the
choice.
"""

from __future__ import annotations

import numpy as np

from .base import Optimizer

__all__ = ["Averaged"]


class Averaged(Optimizer):
    """``inner``'s steps, and the polynomial-decay average of its iterates after ``start`` steps.

    Parameters
    ----------
    inner : Optimizer
        A mini-batch optimizer (the gradient-descent family).
    start : int
        Steps before the average begins (gdlearn: one epoch).
    eta : float, default=3.0
        η ≥ 0 of the weights w = (η + 1)/(t + η).

    The state is ``inner``'s, plus the block ``average``: ``theta`` (θ̄, of
    θ's shape), ``count`` (iterates averaged) and ``steps`` (steps taken).
    """

    def __init__(self, inner: Optimizer, start: int, eta: float = 3.0) -> None:
        self.inner, self.start, self.eta = inner, int(start), float(eta)
        self.name = inner.name
        for flag in ("expects_descent", "full_batch_only", "supports_l1", "per_coordinate", "affine_invariant"):
            setattr(self, flag, getattr(inner, flag))
        self.schedule = getattr(inner, "schedule", None)

    def init(self, theta: np.ndarray) -> dict:
        return {**self.inner.init(theta), "average": {"theta": np.array(theta, dtype=float), "count": 0, "steps": 0}}

    def step(self, objective, theta, value, grad, state, evaluate=True):
        new, value, grad, inner = self.inner.step(objective, theta, value, grad, _inner(state), evaluate)
        avg = state["average"]
        steps, count, mean = avg["steps"] + 1, avg["count"], avg["theta"]
        if steps > self.start:
            count += 1
            w = (self.eta + 1.0) / (count + self.eta)
            mean = (1.0 - w) * mean + w * new  # count = 1: w = 1, the first iterate itself
        return new, value, grad, {**inner, "average": {"theta": mean, "count": count, "steps": steps}}

    def estimate(self, theta: np.ndarray, state: dict) -> np.ndarray:
        """θ̄ once averaging has begun, else the iterate θ."""
        return state["average"]["theta"] if state["average"]["count"] > 0 else theta

    def current_lr(self, state: dict) -> float | None:
        return self.inner.current_lr(_inner(state))

    def max_stable_lr(self, L: float) -> float | None:
        return self.inner.max_stable_lr(L)


def _inner(state: dict) -> dict:
    """The wrapped optimizer's own state: every block but ``average``."""
    return {k: v for k, v in state.items() if k != "average"}
