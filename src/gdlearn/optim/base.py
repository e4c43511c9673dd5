"""What the solver loop needs from an optimizer.

An optimizer is an object with explicit state:

``init(theta) -> state``
    A dict of arrays and numbers (saved in checkpoints, carried by ``partial_fit``).
``step(objective, theta, value, grad, state) -> (theta, value, grad, state)``
    One update.  ``value`` and ``grad`` are the smooth part of J and its
    gradient at ``theta``; the method returns them at the new ``theta``, so that
    each full-batch iteration costs one gradient evaluation for the
    gradient-descent family.

Flags say what an optimizer can do; they are the one source of truth for
which settings combine (:func:`gdlearn.optim.factory.check_compatible`) and
which coordinates suit it (:func:`gdlearn.training.preconditioning_kind`):
``expects_descent`` (every step must decrease J: an increase means the step is
too large), ``full_batch_only``, ``supports_l1``, ``per_coordinate`` (it scales
each coordinate itself, so it keeps the features' own axes),
``affine_invariant`` (its iterates do not depend on the coordinates) and
``uses_curvature`` (a quasi-Newton or Newton method).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Optimizer"]


class Optimizer:
    """Base class of gdlearn's optimizers."""

    name = "optimizer"
    expects_descent = False
    full_batch_only = False
    supports_l1 = True
    per_coordinate = False
    affine_invariant = False
    uses_curvature = False

    def init(self, theta: np.ndarray) -> dict:
        raise NotImplementedError

    def step(self, objective, theta, value, grad, state, evaluate=True):
        raise NotImplementedError

    @property
    def initial_lr(self) -> float | None:
        """α at step 0 (None for methods that pick their step by line search)."""
        schedule = getattr(self, "schedule", None)
        return None if schedule is None else float(schedule(0))

    def estimate(self, theta: np.ndarray, state: dict) -> np.ndarray:
        """The point the model is: the iterate θ (an averaging optimizer returns its average)."""
        return theta

    def current_lr(self, state: dict) -> float | None:
        """The step size α used by the last update (None if not meaningful)."""
        return None

    def max_stable_lr(self, L: float) -> float | None:
        """Largest fixed learning rate that cannot diverge on a quadratic with constant L."""
        return None

    def __repr__(self) -> str:
        return f"<optimizer {self.name}>"
