"""The objective J(θ) and its gradient: the one place where the gradient is defined.

For a linear model with scores z = XW + b, a pointwise loss ℓ from
:mod:`gdlearn.losses` and sample weights s (all ones by default),

.. math::

    J(W, b) = \\frac{1}{m}\\sum_{i=1}^{n} s_i\\,\\ell(y_i, z_i) + \\frac{1}{m} P(W),
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

Parameters are packed in one array ``theta`` of shape (n_features + 1, n_outputs):
rows 0..p−1 hold W, the last row holds b.  Optimizers see only this array.
"""

from __future__ import annotations

import numpy as np

from . import _kernels
from .losses import Loss
from .penalties import Penalty

__all__ = ["Objective", "pack", "unpack"]


def pack(W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Stack W (p, k) and b (k,) into theta (p + 1, k)."""
    return np.vstack([W, np.asarray(b, dtype=float).reshape(1, -1)])


def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split theta (p + 1, k) into views W (p, k) and b (k,)."""
    return theta[:-1], theta[-1]


class Objective:
    """J(θ) for one linear model, one loss, one data set, one penalty.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
        Targets, already encoded for the loss (0/1 for the binary log loss,
        one-hot for the multinomial one).
    loss : Loss
    sample_weight : ndarray of shape (n_samples,), optional
    fit_intercept : bool, default=True
        When False, b is held at its initial value (zero) and its gradient is 0.
    l2, l1 : float, default=0.0
        Penalty strengths λ₂, λ₁ (see :mod:`gdlearn.penalties`).
    data_norm : float, optional
        Denominator of the data term; defaults to m = Σ sᵢ.  A mini-batch uses
        |B|·s̄ so that its objective is an unbiased estimate of the full one.
    penalty_norm : float, optional
        Denominator of the penalty; defaults to ``data_norm``.  A mini-batch
        keeps the full data set's m.
    fused : bool, default=True
        Use the one-pass blocked kernel (same numbers as the reference path).
    """

    def __init__(
        self,
        X,
        Y: np.ndarray,
        loss: Loss,
        *,
        sample_weight: np.ndarray | None = None,
        fit_intercept: bool = True,
        l2: float = 0.0,
        l1: float = 0.0,
        data_norm: float | None = None,
        penalty_norm: float | None = None,
        fused: bool = True,
    ) -> None:
        self.X = X
        self.Y = Y
        self.loss = loss
        self.sample_weight = sample_weight
        self.fit_intercept = bool(fit_intercept)
        self.l2 = float(l2)
        self.l1 = float(l1)
        n = X.shape[0]
        weight_sum = float(n if sample_weight is None else np.sum(sample_weight))
        self.data_norm = float(data_norm) if data_norm is not None else weight_sum
        self.penalty_norm = float(penalty_norm) if penalty_norm is not None else self.data_norm
        if self.data_norm <= 0 or self.penalty_norm <= 0:
            raise ValueError("The sample weights sum to zero: there is nothing to learn from.")
        self.penalty = Penalty(l2=self.l2 / self.penalty_norm, l1=self.l1 / self.penalty_norm)
        self._kernel = _kernels.blocked_forward_backward if fused else _kernels.forward_backward

    # ------------------------------------------------------------------ shapes
    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.Y.shape[1]

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of theta: (n_features + 1, n_outputs)."""
        return (self.n_features + 1, self.n_outputs)

    @property
    def has_l1(self) -> bool:
        return self.penalty.has_l1

    def _split(self, theta):
        W, b = unpack(theta)
        return (W, b) if self.fit_intercept else (W, np.zeros_like(b))

    # ------------------------------------------------------------ the gradient
    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Smooth part of J (data term + L2 penalty) and its gradient.

        Parameters
        ----------
        theta : ndarray of shape (n_features + 1, n_outputs)

        Returns
        -------
        value : float
        grad : ndarray of shape (n_features + 1, n_outputs)
            Rows 0..p−1: dW = (1/m) Xᵀ(s ⊙ (Ŷ − Y)) + λ₂W/m; last row:
            db = (1/m) Σ sᵢ(ŷᵢ − yᵢ) (zero when ``fit_intercept`` is False).
        """
        W, b = self._split(theta)
        total, XtR, rsum = self._kernel(self.X, self.Y, W, b, self.sample_weight, self.loss)
        grad = np.empty_like(theta)
        grad[:-1] = XtR
        grad[-1] = rsum if self.fit_intercept else 0.0
        grad /= self.data_norm
        value = total / self.data_norm
        if self.penalty.l2:
            value += self.penalty.smooth_value(W)
            grad[:-1] += self.penalty.smooth_grad(W)
        return value, grad

    def smooth_value(self, theta: np.ndarray) -> float:
        """Smooth part of J without computing the gradient."""
        W, b = self._split(theta)
        total, _, _ = self._kernel(self.X, self.Y, W, b, self.sample_weight, self.loss, need_grad=False)
        return total / self.data_norm + self.penalty.smooth_value(W)

    def nonsmooth_value(self, theta: np.ndarray, weights=1.0) -> float:
        """The L1 part λ₁/m ‖W‖₁ of J."""
        return self.penalty.l1_value(theta[:-1], weights)

    def value(self, theta: np.ndarray) -> float:
        """The full objective J(θ), penalties included."""
        return self.smooth_value(theta) + self.nonsmooth_value(theta)

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

    # -------------------------------------------------------- curvature bound
    def hessian_bound_matvec(self, v: np.ndarray) -> np.ndarray:
        """Apply H = c·AᵀSA/m + (λ₂/m)·I_W, with A = [X 1], to v of shape (p + 1, k).

        c is the loss curvature bound (1, ¼ or ½), so H bounds the Hessian of J
        and its largest eigenvalue L is the Lipschitz constant of the gradient.
        """
        W, b = unpack(v)
        z = self.X @ W
        if self.fit_intercept:
            z = z + b
        if self.sample_weight is not None:
            z = z * self.sample_weight[:, None]
        out = np.empty_like(v)
        out[:-1] = self.X.T @ z
        out[-1] = z.sum(axis=0) if self.fit_intercept else 0.0
        out *= self.loss.curvature / self.data_norm
        if self.penalty.l2:
            out[:-1] += self.penalty.l2 * W
        return out

    def row_norm_bound(self) -> float:
        """max_i c·sᵢ·(‖xᵢ‖² + 1)/s̄: the Lipschitz constant of one sample's term."""
        X = self.X
        sq = np.asarray(X.multiply(X).sum(axis=1)).ravel() if hasattr(X, "multiply") else np.einsum("ij,ij->i", X, X)
        if self.fit_intercept:
            sq = sq + 1.0
        mean_w = self.data_norm / self.n_samples
        if self.sample_weight is not None:
            sq = sq * self.sample_weight / mean_w
        return float(self.loss.curvature * sq.max() + self.penalty.l2)

    # ---------------------------------------------------------------- helpers
    def decision_function(self, theta: np.ndarray, X=None) -> np.ndarray:
        """Scores z = XW + b, shape (n_samples, n_outputs)."""
        W, b = self._split(theta)
        return (self.X if X is None else X) @ W + b

    def subset(self, idx: np.ndarray) -> Objective:
        """The objective of the rows ``idx`` (a mini-batch), normalised as a mean.

        Its data term is Σ_B sᵢℓᵢ / (|B|·s̄), an unbiased estimate of the full
        data term; its penalty keeps the full data set's m.
        """
        sw = None if self.sample_weight is None else self.sample_weight[idx]
        mean_w = self.data_norm / self.n_samples
        return Objective(
            self.X[idx],
            self.Y[idx],
            self.loss,
            sample_weight=sw,
            fit_intercept=self.fit_intercept,
            l2=self.l2,
            l1=self.l1,
            data_norm=len(idx) * mean_w,
            penalty_norm=self.penalty_norm,
            fused=self._kernel is _kernels.blocked_forward_backward,
        )
