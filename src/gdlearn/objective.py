"""The objective J(θ) and its gradient: the one place where the gradient is defined.

For a linear model with scores z = XW + b, a pointwise loss ℓ from
:mod:`gdlearn.losses` and sample weights s (all ones by default),

.. math::

    J(W, b) = \\frac{1}{m}\\sum_{i} s_i\\,\\ell(y_i, z_i) + \\frac{1}{m} P(W),
    \\qquad m = \\sum_i s_i .

Because dℓ/dz = h(z) − y for every loss in gdlearn (h is the inverse link),
the chain rule through z = XW + b gives, for linear, logistic and softmax
regression alike,

.. math::

    \\frac{\\partial J}{\\partial z_i} = \\frac{s_i\\,(\\hat y_i - y_i)}{m},\\qquad
    dW = \\frac{1}{m} X^\\top \\big(s \\odot (\\hat Y - Y)\\big) + \\frac{1}{m}\\nabla P(W),\\qquad
    db = \\frac{1}{m}\\sum_i s_i(\\hat y_i - y_i).

This is the tutorial's dW = (1/m)(Ŷ − Y)ᵀX and db = (1/m)Σ(Ŷ − Y), in the
(n_samples, n_features) convention.  ``docs/math.md`` derives it.

The objective holds no data (after scikit-learn's ``LinearModelLoss``): a data
source (:mod:`gdlearn.data.source`) is handed to it at each evaluation and
returns the sums Σ sᵢℓᵢ, Xᵀr and Σr; the objective divides by m and adds the
penalty.  :meth:`Objective.bind` ties it to one source and one change of
variables (:mod:`gdlearn.preconditioning`), giving the :class:`Problem` that
the optimizers minimise.

Parameters are packed in one array ``theta`` of shape (n_features + 1, n_outputs):
rows 0..p−1 hold W, the last row holds b.  Optimizers see only this array.
"""

from __future__ import annotations

import numpy as np

from .losses import Loss
from .penalties import Penalty
from .preconditioning import Coordinates

__all__ = ["Objective", "Problem", "pack", "unpack"]


def pack(W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Stack W (p, k) and b (k,) into theta (p + 1, k)."""
    return np.vstack([W, np.asarray(b, dtype=float).reshape(1, -1)])


def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split theta (p + 1, k) into views W (p, k) and b (k,)."""
    return theta[:-1], theta[-1]


class Objective:
    """J(θ) for one linear model, one loss, one penalty; the data are handed in.

    Parameters
    ----------
    loss : Loss
    fit_intercept : bool, default=True
        When False, b is held at its initial value (zero) and its gradient is 0.
    l2, l1 : float, default=0.0
        Penalty strengths λ₂, λ₁ (see :mod:`gdlearn.penalties`).
    penalty_norm : float, default=1.0
        m of the training data: the penalty is P(W)/m, also when the data term
        is evaluated on a mini-batch or a validation set.
    """

    def __init__(
        self, loss: Loss, *, fit_intercept: bool = True, l2: float = 0.0, l1: float = 0.0, penalty_norm: float = 1.0
    ) -> None:
        if not penalty_norm > 0:
            raise ValueError("The sample weights sum to zero: there is nothing to learn from.")
        self.loss = loss
        self.fit_intercept = bool(fit_intercept)
        self.l2 = float(l2)
        self.l1 = float(l1)
        self.penalty_norm = float(penalty_norm)
        self.penalty = Penalty(l2=self.l2 / self.penalty_norm, l1=self.l1 / self.penalty_norm)

    @property
    def has_l1(self) -> bool:
        return self.penalty.has_l1

    def _split(self, theta):
        W, b = unpack(theta)
        return (W, b) if self.fit_intercept else (W, np.zeros_like(b))

    @staticmethod
    def _data_norm(data, rows) -> float:
        """m for the whole source; |B|·s̄ for a mini-batch, so that its data term estimates the full one."""
        if rows is None:
            return data.weight_sum
        return len(rows) * data.weight_sum / data.n_samples

    # ------------------------------------------------------------ the gradient
    def value_grad_hessian(self, theta: np.ndarray, data, shift, inv):
        """Smooth part of J, its gradient, and the data term's Hessian sums (one pass).

        The Hessian is returned as :meth:`data.hessian_sums` gives it, divided
        by m: shape (k, k, p + 1, p + 1), in the parameters (β ⊙ W, b + shiftᵀW)
        with β = 1/inv; the penalty's part is added by :meth:`Problem.value_grad_hessian`.
        """
        W, b = self._split(theta)
        total, XtR, rsum, H = data.loss_sums(self.loss, W, b, hessian=(shift, inv))
        value, grad = self._assemble(theta, W, total, XtR, rsum, data.weight_sum)
        return value, grad, H / data.weight_sum

    def _assemble(self, theta, W, total, XtR, rsum, norm):
        """J and ∇J from the data sums: (Σsℓ + P)/m and [XᵀR + ∇P; ΣR]/m."""
        grad = np.empty_like(theta)
        grad[:-1] = XtR
        grad[-1] = rsum if self.fit_intercept else 0.0
        grad /= norm
        value = total / norm
        if self.penalty.l2:
            value += self.penalty.smooth_value(W)
            grad[:-1] += self.penalty.smooth_grad(W)
        return value, grad

    def value_and_grad(self, theta: np.ndarray, data, rows=None) -> tuple[float, np.ndarray]:
        """Smooth part of J (data term + L2 penalty) on ``data`` and its gradient.

        Parameters
        ----------
        theta : ndarray of shape (n_features + 1, n_outputs)
        data : data source (see :mod:`gdlearn.data.source`)
        rows : integer array, optional
            A mini-batch of ``data``'s rows: its data term is Σ_B sᵢℓᵢ/(|B|·s̄).

        Returns
        -------
        value : float
        grad : ndarray of shape (n_features + 1, n_outputs)
            Rows 0..p−1: dW = (1/m) Xᵀ(s ⊙ (Ŷ − Y)) + λ₂W/m; last row:
            db = (1/m) Σ sᵢ(ŷᵢ − yᵢ) (zero when ``fit_intercept`` is False).
        """
        W, b = self._split(theta)
        if rows is None:
            total, XtR, rsum = data.loss_sums(self.loss, W, b)
        else:
            total, XtR, rsum = data.loss_sums(self.loss, W, b, rows=rows)
        return self._assemble(theta, W, total, XtR, rsum, self._data_norm(data, rows))

    def smooth_value(self, theta: np.ndarray, data) -> float:
        """Smooth part of J on ``data``, without the gradient."""
        W, b = self._split(theta)
        total, _, _ = data.loss_sums(self.loss, W, b, need_grad=False)
        return total / data.weight_sum + self.penalty.smooth_value(W)

    def nonsmooth_value(self, theta: np.ndarray) -> float:
        """The L1 part λ₁/m ‖W‖₁ of J."""
        return self.penalty.l1_value(theta[:-1])

    def prox(self, theta: np.ndarray, step, weights=1.0) -> np.ndarray:
        """Proximal step of the L1 part (soft-threshold W; b untouched)."""
        if not self.has_l1:
            return theta
        out = theta.copy()
        step_w = step[:-1] if np.ndim(step) == 2 else step
        out[:-1] = self.penalty.prox(theta[:-1], step_w, weights)
        return out

    def residual(self, theta: np.ndarray, grad: np.ndarray, weights=1.0) -> np.ndarray:
        """Optimality residual: the gradient, or with L1 the minimum-norm subgradient.

        It is zero exactly at a minimiser; its norm is what ``tol`` is compared to.
        """
        if not self.has_l1:
            return grad
        out = grad.copy()
        out[:-1] = self.penalty.l1_residual(theta[:-1], grad[:-1], weights)
        return out

    def curvature_matvec(self, v: np.ndarray, data) -> np.ndarray:
        """Apply H = c·AᵀSA/m + (λ₂/m)·I_W, with A = [X 1], to v of shape (p + 1, k).

        c is the loss curvature bound (1, ¼ or ½), so H bounds the Hessian of J
        and its largest eigenvalue L is the Lipschitz constant of the gradient.
        """
        W, b = self._split(v)
        XtZ, zsum = data.curvature_sums(W, b)
        out = np.empty_like(v)
        out[:-1] = XtZ
        out[-1] = zsum if self.fit_intercept else 0.0
        out *= self.loss.curvature / data.weight_sum
        if self.penalty.l2:
            out[:-1] += self.penalty.l2 * W
        return out

    def bind(self, data, coords: Coordinates | None = None) -> Problem:
        """This objective on ``data``, seen in the coordinates ``coords`` (None: the user's own)."""
        return Problem(self, data, coords)


class Problem:
    """An :class:`Objective` on one data source, in the solver's coordinates θ_s.

    θ = Tθ_s with T from ``coords`` (identity when None).  The solver minimises
    J(Tθ_s)/c with c = ``value_scale`` (τ² for the squared loss in
    preconditioned coordinates, else 1); gradients are Tᵀ∇J/c.  This is what
    optimizers and the solver loop see; ``estimator.get_objective(X, y)``
    returns one in the user's coordinates.

    Parameters
    ----------
    objective : Objective
    data : data source
    coords : Coordinates, optional
    """

    def __init__(self, objective: Objective, data, coords: Coordinates | None = None) -> None:
        self.objective = objective
        self.data = data
        self.coords = coords
        self.value_scale = 1.0 if coords is None else coords.value_scale
        self._l1_weights = 1.0 if coords is None or not objective.has_l1 else coords.l1_weights()

    # ------------------------------------------------------------- shapes
    @property
    def n_samples(self) -> int:
        return self.data.n_samples

    @property
    def n_features(self) -> int:
        return self.data.n_features

    @property
    def n_outputs(self) -> int:
        return self.data.n_outputs

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of theta: (n_features + 1, n_outputs)."""
        return (self.n_features + 1, self.n_outputs)

    @property
    def loss(self) -> Loss:
        return self.objective.loss

    @property
    def penalty(self) -> Penalty:
        return self.objective.penalty

    @property
    def fit_intercept(self) -> bool:
        return self.objective.fit_intercept

    @property
    def has_l1(self) -> bool:
        return self.objective.has_l1

    # ------------------------------------------------------- coordinates
    def to_original(self, theta_s: np.ndarray) -> np.ndarray:
        return theta_s if self.coords is None else self.coords.to_original(theta_s)

    def from_original(self, theta: np.ndarray) -> np.ndarray:
        return theta if self.coords is None else self.coords.from_original(theta)

    def _grad_to_solver(self, g: np.ndarray) -> np.ndarray:
        return g if self.coords is None else self.coords.grad_to_solver(g)

    # --------------------------------------------------------- objective
    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Smooth part of J/c and its gradient, at θ_s."""
        value, g = self.objective.value_and_grad(self.to_original(theta), self.data)
        return value / self.value_scale, self._grad_to_solver(g)

    def batch_value_and_grad(self, theta: np.ndarray, rows) -> tuple[float, np.ndarray]:
        """The same on the mini-batch ``rows`` of the data (normalised as a mean)."""
        value, g = self.objective.value_and_grad(self.to_original(theta), self.data, rows=rows)
        return value / self.value_scale, self._grad_to_solver(g)

    def smooth_value(self, theta: np.ndarray) -> float:
        return self.objective.smooth_value(self.to_original(theta), self.data) / self.value_scale

    def nonsmooth_value(self, theta: np.ndarray) -> float:
        return self.objective.nonsmooth_value(self.to_original(theta)) / self.value_scale

    def value(self, theta: np.ndarray) -> float:
        """The full objective J(θ)/c, penalties included."""
        return self.smooth_value(theta) + (self.nonsmooth_value(theta) if self.has_l1 else 0.0)

    def prox(self, theta: np.ndarray, step) -> np.ndarray:
        return self.objective.prox(theta, step, self._l1_weights)

    def residual(self, theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
        return self.objective.residual(theta, grad, self._l1_weights)

    def value_grad_hessian(self, theta: np.ndarray):
        """J/c, its gradient and its Hessian at θ_s (one pass over X), for Newton's method.

        The Hessian has shape (θ.size, θ.size), θ flattened in C order.  The
        pass gives the data term's Hessian in the parameters (β ⊙ W, b + μᵀW),
        columns scaled by the powers of two β of the coordinates; it is mapped
        to θ_s (W = τMW_s, b = τb_s − μᵀW, and the τ² cancels against c) and
        the L2 penalty's λ₂MᵀM/m is added.  Rows of parameters held fixed (b
        without an intercept, frozen columns) are replaced by those of the
        identity, so that Newton's step leaves them be.
        """
        p, k = self.n_features, self.n_outputs
        mu, inv, T, RR, fixed = self._hessian_maps()
        value, g, Ha = self.objective.value_grad_hessian(self.to_original(theta), self.data, mu, inv)
        H = np.empty((p + 1, k, p + 1, k))
        for o in range(k):
            for q in range(k):
                H[:, o, :, q] = T.T @ Ha[o, q] @ T
        if RR is not None:
            for o in range(k):
                H[:p, o, :p, o] += RR
        if fixed.any():
            H[fixed] = 0.0
            H[:, :, fixed] = 0.0
            for j in np.flatnonzero(fixed):
                H[j, range(k), j, range(k)] = 1.0
        return value / self.value_scale, self._grad_to_solver(g), H.reshape((p + 1) * k, (p + 1) * k)

    def _hessian_maps(self):
        """What :meth:`hessian` needs of the coordinates, computed once: μ, 1/β, T, λ₂MᵀM, fixed rows."""
        if getattr(self, "_maps", None) is None:
            obj, co, p = self.objective, self.coords, self.n_features
            mu = np.zeros(p) if co is None else co.mean
            beta = np.ones(p) if co is None else co.unit
            T = np.eye(p + 1)
            if co is None:
                T[:p, :p] = np.diag(beta)
            else:
                # frozen columns map to nothing (their rows become the identity's below): β·1 of a
                # constant column near 1e300 would otherwise overflow TᵀHT
                diag = np.where(co.frozen, 0.0, beta * co.matrix) if not co.dense else None
                T[:p, :p] = beta[:, None] * co.matrix if co.dense else np.diag(diag)
            RR = None
            if obj.penalty.l2:
                M = np.eye(p) if co is None else (co.matrix if co.dense else np.diag(co.matrix))
                R = np.sqrt(obj.penalty.l2) * M
                RR = R.T @ R
            fixed = np.zeros(p + 1, dtype=bool)
            fixed[p] = not obj.fit_intercept
            if co is not None:
                fixed[:p] = co.frozen
            self._maps = (mu, 1.0 / beta, T, RR, fixed)
        return self._maps

    def hessian_bound_matvec(self, v: np.ndarray) -> np.ndarray:
        """The curvature bound H (see :meth:`Objective.curvature_matvec`) in θ_s: TᵀHTv/c (c = τ², in the map).

        Frozen coordinates (constant columns) are outside the problem: their
        rows and columns of H are zero.  (Mapping them would only add ±μⱼvⱼ to b
        and back, which overflows for a constant near 1e300.)
        """
        if self.coords is not None and self.coords.frozen.any():
            v = v.copy()
            v[:-1][self.coords.frozen] = 0.0
        return self._grad_to_solver(self.objective.curvature_matvec(self.to_original(v), self.data))
