"""J over two parameters, the others held fixed: the plane the surface pictures and the explorer show.

A :class:`Slice` evaluates J and its two partial derivatives at (a, b) with
every other entry of θ held where ``theta`` has it.  For a model with one
feature and b the slice is the whole of J; otherwise it is a slice through
``theta``.  :meth:`Slice.descend` runs plain gradient descent on the slice
itself, (a, b) ← (a, b) − α ∇J(a, b): with two parameters that is exactly
``solver="gd", precondition=False``.  No matplotlib here (the explorer uses
this module too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Slice", "Run"]


@dataclass
class Run:
    """Plain gradient descent on a slice: the points it visited and how it ended.

    Attributes
    ----------
    alpha : float
        The step size α.
    path : ndarray of shape (n_steps + 1, 2)
        (a, b) after k steps, k = 0 .. n_steps.
    outcome : {"converged", "diverged", "max_steps"}
        ``"diverged"``: J stopped being finite or the point left ``bounds``
        (the run flew off); ``"converged"``: the step fell below 1e-10 of the
        region's size.
    zigzag : bool
        Successive steps point in opposite directions at least once (the step
        overshoots the valley floor: α·λ > 1 along the steepest direction).
    """

    alpha: float
    path: np.ndarray
    outcome: str
    zigzag: bool


class Slice:
    """J(a, b): the loss over two entries of θ, the others held at ``theta``.

    Parameters
    ----------
    problem : gdlearn.objective.Problem
        From ``estimator.get_objective(X, y)``.
    theta : ndarray of shape (n_features + 1, n_outputs)
        The point the slice goes through.
    index : pair of (row, output)
        The two entries of θ that vary.
    """

    def __init__(self, problem, theta: np.ndarray, index) -> None:
        self.problem = problem
        self.theta = np.array(theta, dtype=float)
        self.index = [tuple(map(int, i)) for i in index]

    @property
    def exact(self) -> bool:
        """The model has exactly these two parameters, so the slice is all of J."""
        return self.theta.size == 2

    @property
    def center(self) -> np.ndarray:
        """(a, b) of ``theta``."""
        return np.array([self.theta[i] for i in self.index])

    def point(self, ab) -> np.ndarray:
        """The full θ at (a, b)."""
        t = self.theta.copy()
        for i, v in zip(self.index, ab):
            t[i] = v
        return t

    def value(self, ab) -> float:
        return float(self.problem.value(self.point(ab)))

    def value_and_grad(self, ab) -> tuple[float, np.ndarray]:
        """J(a, b) and (∂J/∂a, ∂J/∂b)."""
        value, grad = self.problem.value_and_grad(self.point(ab))
        return float(value), np.array([grad[i] for i in self.index])

    def hessian_bound(self) -> np.ndarray:
        """The 2 × 2 block of the curvature bound of J (the exact Hessian for the squared loss)."""
        H = np.empty((2, 2))
        for k, i in enumerate(self.index):
            e = np.zeros_like(self.theta)
            e[i] = 1.0
            column = self.problem.hessian_bound_matvec(e)
            H[:, k] = [column[j] for j in self.index]
        return 0.5 * (H + H.T)

    def lipschitz(self) -> float:
        """L of the slice: the largest eigenvalue of :meth:`hessian_bound`; gd on the slice is stable for α < 2/L."""
        return float(np.linalg.eigvalsh(self.hessian_bound())[-1])

    def descend(self, start, alpha: float, max_steps: int, bounds) -> Run:
        """Plain gradient descent on the slice from ``start``.

        Parameters
        ----------
        start : pair of float
        alpha : float
        max_steps : int
        bounds : ((a_lo, a_hi), (b_lo, b_hi))
            Leaving this box, or a J that is not finite, counts as divergence
            (the run stops at the first point outside).

        Returns
        -------
        Run
        """
        ab = np.array(start, dtype=float)
        lo = np.array([bounds[0][0], bounds[1][0]], dtype=float)
        hi = np.array([bounds[0][1], bounds[1][1]], dtype=float)
        tiny = 1e-10 * float(np.max(hi - lo))
        points, steps, outcome = [ab.copy()], [], "max_steps"
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(int(max_steps)):
                value, grad = self.value_and_grad(ab)
                if not (np.isfinite(value) and np.all(np.isfinite(grad))):
                    outcome = "diverged"
                    break
                step = -alpha * grad
                ab = ab + step
                points.append(ab.copy())
                steps.append(step)
                if np.any(ab < lo) or np.any(ab > hi) or not np.all(np.isfinite(ab)):
                    outcome = "diverged"
                    break
                if np.linalg.norm(step) <= tiny:
                    outcome = "converged"
                    break
        S = np.array(steps).reshape(-1, 2)
        zigzag = bool(np.any(np.sum(S[1:] * S[:-1], axis=1) < 0)) if len(S) > 1 else False
        return Run(float(alpha), np.array(points), outcome, zigzag)
