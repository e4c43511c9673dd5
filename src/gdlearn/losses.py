"""Pointwise losses on the raw score ``z``.

Every loss here is written as a function of the raw score ``z = XW + b`` (before
the link), together with its *inverse link* ``h`` that turns the score into a
prediction ``ŷ = h(z)``.  The three losses are chosen so that, for all of them,

.. math::

    \\frac{\\partial \\ell(y, z)}{\\partial z} = h(z) - y .

This is the key result of the tutorial: linear regression (identity link,
half squared error), logistic regression (sigmoid link, log loss) and softmax
regression (softmax link, multinomial log loss) share one gradient.  The
coefficient gradient built from it lives in exactly one place,
:mod:`gdlearn.objective`.

Shapes: ``y`` and ``z`` are ``(n_samples, n_outputs)`` arrays of floats.  For
the binary log loss ``n_outputs == 1`` and ``y`` holds 0/1; for the multinomial
loss ``y`` is one-hot with ``n_outputs == n_classes``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit as _expit
from scipy.special import log_expit, logsumexp
from scipy.special import softmax as _softmax

__all__ = [
    "Loss",
    "HalfSquaredError",
    "BinaryLogLoss",
    "MultinomialLogLoss",
    "sigmoid",
    "softmax",
]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic sigmoid σ(z) = 1 / (1 + e^(−z)), without overflow or warnings.

    Its derivative is σ'(z) = σ(z)(1 − σ(z)).

    Parameters
    ----------
    z : ndarray of any shape

    Returns
    -------
    ndarray of the same shape, values in [0, 1].
    """
    return _expit(z)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax: p_k = e^(z_k) / Σ_j e^(z_j), computed stably.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_classes)

    Returns
    -------
    ndarray of shape (n_samples, n_classes); each row sums to 1.
    """
    return _softmax(z, axis=1)


class Loss:
    """A pointwise loss ℓ(y, z) on the raw score, with its inverse link ŷ = h(z).

    Subclasses define :meth:`pointwise` and :meth:`inverse_link`.  The
    attribute ``curvature`` bounds the second derivative of ℓ in z (the largest
    eigenvalue of its Hessian in z); it scales the Lipschitz constant of the
    coefficient gradient: L = curvature × λ_max([X 1]ᵀ[X 1] / m).
    """

    name: str = "loss"
    curvature: float = 1.0
    is_classification: bool = False
    #: which formula the compiled kernel uses (None: the NumPy kernel calls this class's methods)
    kernel_id: int | None = None

    def pointwise(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Loss of each sample, shape (n_samples,)."""
        raise NotImplementedError

    def inverse_link(self, z: np.ndarray) -> np.ndarray:
        """Prediction ŷ = h(z), shape (n_samples, n_outputs)."""
        raise NotImplementedError

    def link(self, y_mean: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`inverse_link`: the score whose prediction is ``y_mean``.

        Used to start the intercept at the best constant model.
        """
        raise NotImplementedError

    def hessian_weights(self, z: np.ndarray) -> np.ndarray:
        """∂²ℓ/∂z² of each sample, shape (n_samples, n_outputs, n_outputs) (for Newton's method)."""
        raise NotImplementedError

    def sum_and_residual(self, y, z, sample_weight=None, need_residual: bool = True):
        """Σ sᵢℓ(yᵢ, zᵢ) and the residual r = s ⊙ (h(z) − y), for the fast kernel.

        ``z`` is scratch: implementations may overwrite it (the returned ``r``
        may be ``z`` itself).  Numbers equal :meth:`pointwise` and
        :meth:`inverse_link` (checked in ``tests/test_losses.py``).
        """
        ell = self.pointwise(y, z)
        total = float(ell.sum()) if sample_weight is None else float(ell @ sample_weight)
        if not need_residual:
            return total, None
        r = self.inverse_link(z)
        r -= y
        if sample_weight is not None:
            r *= sample_weight[:, None]
        return total, r

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class HalfSquaredError(Loss):
    """ℓ(y, z) = ½ (z − y)² summed over outputs, identity link ŷ = z.

    The ½ is part of the definition (the tutorial's J = 1/(2m) Σ (ŷ − y)²): it
    makes dℓ/dz = ŷ − y exactly.
    """

    name = "squared_error"
    curvature = 1.0
    kernel_id = 0

    def pointwise(self, y, z):
        d = z - y
        return 0.5 * np.einsum("ij,ij->i", d, d)

    def inverse_link(self, z):
        return z

    def link(self, y_mean):
        return np.asarray(y_mean, dtype=float)

    def hessian_weights(self, z):
        return np.broadcast_to(np.eye(z.shape[1]), (z.shape[0], z.shape[1], z.shape[1]))

    def sum_and_residual(self, y, z, sample_weight=None, need_residual=True):
        z -= y  # r = z − y, in place
        if sample_weight is None:
            total = 0.5 * float(np.vdot(z, z))
        else:
            total = 0.5 * float(np.einsum("ij,ij,i->", z, z, sample_weight))
            z *= sample_weight[:, None]
        return total, z


class BinaryLogLoss(Loss):
    """ℓ(y, z) = −y log σ(z) − (1 − y) log(1 − σ(z)), sigmoid link ŷ = σ(z).

    Computed from the score as ``-y·log_expit(z) - (1-y)·log_expit(-z)``, so it
    never takes log(0): it is finite and accurate for any finite z (|z| = 1e4
    and beyond), including the tiny losses of confidently right predictions.
    The second derivative σ(z)(1 − σ(z)) is at most ¼, hence ``curvature = 0.25``.
    """

    name = "log_loss"
    curvature = 0.25
    is_classification = True
    kernel_id = 1

    def pointwise(self, y, z):
        y = y[:, 0]
        z = z[:, 0]
        return -(y * log_expit(z) + (1.0 - y) * log_expit(-z))

    def inverse_link(self, z):
        return _expit(z)

    def link(self, y_mean):
        p = np.clip(np.asarray(y_mean, dtype=float), 1e-12, 1 - 1e-12)
        return np.log(p) - np.log1p(-p)

    def hessian_weights(self, z):
        e = np.exp(-np.abs(z))  # σ(z)(1 − σ(z)) = e/(1 + e)² with e = e^(−|z|): no cancellation, no overflow
        return (e / (1.0 + e) ** 2)[:, :, None]

    def sum_and_residual(self, y, z, sample_weight=None, need_residual=True):
        # one exponential for both: e = e^(−|z|);  ℓ = (max(z, 0) − yz) + log(1 + e)
        # (the exact part first, so tiny losses keep full accuracy);  σ(z) = 1/(1+e) or e/(1+e)
        e = np.exp(-np.abs(z))
        ell = np.maximum(z, 0.0)
        ell -= y * z
        ell += np.log1p(e)
        total = float(ell.sum()) if sample_weight is None else float(ell[:, 0] @ sample_weight)
        if not need_residual:
            return total, None
        np.add(e, 1.0, out=ell)
        positive = z >= 0
        np.copyto(e, 1.0, where=positive)
        np.divide(e, ell, out=z)
        z -= y
        if sample_weight is not None:
            z *= sample_weight[:, None]
        return total, z


class MultinomialLogLoss(Loss):
    """ℓ(y, z) = logsumexp(z) − Σ_k y_k z_k, softmax link ŷ = softmax(z).

    ``y`` is one-hot (n_samples, n_classes).  The Hessian in z,
    diag(p) − ppᵀ, has largest eigenvalue at most ½, hence ``curvature = 0.5``.
    """

    name = "multinomial_log_loss"
    curvature = 0.5
    is_classification = True
    kernel_id = 2

    def pointwise(self, y, z):
        return logsumexp(z, axis=1) - np.einsum("ij,ij->i", y, z)

    def sum_and_residual(self, y, z, sample_weight=None, need_residual=True):
        # one exponential for both: with s = z − max_k z and e = e^s (1 at the largest score, the other classes'
        # sum q), ℓ = log(1 + q) − yᵀs (as Σ_k y_k = 1; log1p keeps the tiny losses of confident right answers)
        # and softmax(z) = e/Σ_k e_k, that sum taken again in softmax's order (1 + q rounds differently).  SciPy's
        # logsumexp and softmax, one call each, cost more than the arithmetic at a mini-batch's size.
        rows, top = np.arange(z.shape[0]), np.argmax(z, axis=1)
        z -= z[rows, top][:, None]
        e = np.exp(z)
        e[rows, top] = 0.0
        q = e.sum(axis=1)
        ell = np.log1p(q)
        ell -= np.einsum("ij,ij->i", y, z)
        total = float(ell.sum()) if sample_weight is None else float(ell @ sample_weight)
        if not need_residual:
            return total, None
        e[rows, top] = 1.0
        e /= e.sum(axis=1, keepdims=True)  # (summed as softmax sums: the same numbers as inverse_link)
        e -= y
        if sample_weight is not None:
            e *= sample_weight[:, None]
        return total, e

    def inverse_link(self, z):
        return _softmax(z, axis=1)

    def link(self, y_mean):
        p = np.clip(np.asarray(y_mean, dtype=float), 1e-12, None)
        logp = np.log(p)
        return logp - logp.mean()

    def hessian_weights(self, z):
        p = _softmax(z, axis=1)
        return p[:, :, None] * (np.eye(z.shape[1]) - p[:, None, :])  # diag(p) − ppᵀ
