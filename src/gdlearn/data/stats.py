"""Column statistics of a data source, in one or two passes: what preconditioning needs.

Pass 1 gives the largest |x| of each column and the weighted column means μ.
Pass 2 gives either the weighted second moments about a centring point a
(a = μ with an intercept, a = 0 without: one cannot centre without an
intercept to absorb the shift), or the whole weighted Gram matrix

.. math::

    G = \\frac{1}{m}\\sum_i s_i\\, a_i a_i^\\top,\\qquad
    a_i = \\big[(x_i - a)/β,\\; (y_i - \\bar y)/β_y\\big],

whose diagonal holds the same second moments.  Every column is divided by a
power of two β (near its largest |x|) before anything is squared, so that
features near the floating-point limits (1e±300) neither overflow nor
underflow and the scaling itself is exact; the Gram matrix is formed from
centred blocks, so E[x²] − μ² never cancels.  For the squared loss the Gram
matrix with the target columns is the whole data term
(:class:`gdlearn.data.source.GramSource`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import kernels

__all__ = ["Statistics", "compute_statistics", "power_of_two"]


def power_of_two(values: np.ndarray) -> np.ndarray:
    """The smallest power of two above each |value| (1 for zeros and non-finite values).

    Kept within [2⁻¹⁰²², 2¹⁰²³], so that it and its reciprocal are normal numbers
    (subnormal inputs get 2⁻¹⁰²²; values above 2¹⁰²³ get 2¹⁰²³ and still divide to at most 2).
    """
    values = np.abs(np.asarray(values, dtype=np.float64))
    ok = np.isfinite(values) & (values > 0)
    exponent = np.clip(np.frexp(np.where(ok, values, 1.0))[1], -1022, 1023)
    return np.where(ok, np.ldexp(1.0, exponent), 1.0)


@dataclass
class Statistics:
    """Weighted column statistics of (X, Y), in units of each column's scale β.

    Attributes
    ----------
    n_samples : int
    weight_sum : float
        m = Σ sᵢ.
    scale : ndarray of shape (n_features,)
        β: the smallest power of two above max |xⱼ|.
    mean : ndarray of shape (n_features,)
        μ, the weighted column means (user units).
    shift : ndarray of shape (n_features,)
        The centring point a: μ when ``centred``, else zeros.
    second : ndarray of shape (n_features,)
        (1/m) Σ sᵢ((xᵢⱼ − aⱼ)/βⱼ)²: the variance in units of β² when centred.
    gram : ndarray of shape (p + k, p + k) or None
        G above (k = 0 without targets).
    y_mean, y_scale, y_second : ndarray of shape (n_outputs,)
        ȳ, β_y and (1/m) Σ sᵢ(yᵢ − ȳ)²/β_y² (about 0 instead of ȳ when not centred).
    centred : bool
    max_abs, y_max_abs : ndarray of shape (n_features,) and (n_outputs,)
        max |xⱼ| and max |yₖ| (user units).
    """

    n_samples: int
    weight_sum: float
    scale: np.ndarray
    mean: np.ndarray
    shift: np.ndarray
    second: np.ndarray
    gram: np.ndarray | None
    y_mean: np.ndarray
    y_scale: np.ndarray
    y_second: np.ndarray
    centred: bool
    max_abs: np.ndarray
    y_max_abs: np.ndarray

    @property
    def n_features(self) -> int:
        return self.scale.shape[0]

    @property
    def std(self) -> np.ndarray:
        """√second · β: the weighted standard deviation (user units; about 0 when not centred)."""
        return np.sqrt(self.second) * self.scale

    @property
    def constant(self) -> np.ndarray:
        """Columns without spread: below rounding noise of their mean (centred), or all zero."""
        root = np.sqrt(self.second)
        if self.centred:
            return root <= 1e-12 * np.maximum(np.abs(self.mean) / self.scale, 1e-300)
        return root == 0

    def moment_matrix(self, shift: np.ndarray) -> np.ndarray:
        """(1/m) Σ sᵢ aᵢaᵢᵀ with aᵢ = [(xᵢ − shift)/β, 1], shape (p + 1, p + 1), from the Gram matrix.

        With (x − shift)/β = (x − a)/β + δ, δ = (a − shift)/β, and d = (μ − a)/β
        the mean of (x − a)/β: the block Gₓₓ + dδᵀ + δdᵀ + δδᵀ, the column d + δ, and 1.
        """
        p = self.n_features
        with np.errstate(over="ignore", invalid="ignore"):
            d = (self.mean - self.shift) / self.scale
            delta = (self.shift - shift) / self.scale
            out = np.empty((p + 1, p + 1))
            out[:p, :p] = self.gram[:p, :p] + np.outer(d, delta) + np.outer(delta, d) + np.outer(delta, delta)
            out[:p, p] = out[p, :p] = d + delta
        out[p, p] = 1.0
        return out

    @property
    def target_std(self) -> float:
        """τ: the root mean square over outputs of the targets' spread (1 for constant targets)."""
        tau = float(np.sqrt(np.mean(self.y_second * self.y_scale**2))) if self.y_scale.size else 1.0
        return tau if np.isfinite(tau) and tau > 0 else 1.0


def _moments_part(X, Y, sw):
    """Pass 1 of one block: (max |x| per column, Σ s x, Σ s y, max |y| per output)."""
    big, total = kernels.column_moments(X, sw, np.ones(X.shape[1]))
    y_sum = Y.sum(axis=0) if sw is None else sw @ Y
    return big, total, y_sum, np.abs(Y).max(axis=0, initial=0.0)


def _combine_moments(a, b):
    return np.maximum(a[0], b[0]), a[1] + b[1], a[2] + b[2], np.maximum(a[3], b[3])


def _scaled_sum_part(X, Y, sw, inv):
    return kernels.column_moments(X, sw, inv)[1]


def _second_part(X, Y, sw, gram, targets, shift, inv, y_shift, y_inv):
    """Pass 2 of one block: (the Gram matrix or the column variances, Σ s((y − ȳ)/β_y)²)."""
    if gram:
        second = kernels.gram(X, Y if targets else None, sw, shift, inv, y_shift, y_inv)
    else:
        second = kernels.column_variance(X, sw, shift, inv)
    d = (Y - y_shift) * y_inv  # the targets are small (rows × n_outputs): plain NumPy
    return second, (d * d).sum(axis=0) if sw is None else sw @ (d * d)


def compute_statistics(source, *, center: bool, gram: bool, targets: bool) -> Statistics:
    """Statistics of ``source`` (a :class:`~gdlearn.data.source.BlockSource`): two passes (:meth:`reduce`).

    Parameters
    ----------
    source : gdlearn.data.source.BlockSource
    center : bool
        Centre at the weighted mean (with an intercept) or at zero.
    gram : bool
        Form the Gram matrix (dense X) instead of the column second moments.
    targets : bool
        Include the target columns in the Gram matrix (for the squared loss).
    """
    m = source.weight_sum
    big, total, y_sum, y_big = source.reduce(_moments_part, combine=_combine_moments)
    scale = power_of_two(big)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = total / m
    if not np.all(np.isfinite(mean)):  # the sums overflowed (|x| near 1e300): sum again in units of β
        mean = source.reduce(_scaled_sum_part, 1.0 / scale) / m * scale
    y_mean = y_sum / m
    shift = mean if center else np.zeros_like(mean)
    y_shift = y_mean if center else np.zeros_like(y_mean)
    y_scale = power_of_two(y_big)
    second, y_second = source.reduce(_second_part, gram, targets, shift, 1.0 / scale, y_shift, 1.0 / y_scale)
    G = None
    if gram:
        G = second / m
        second = np.diag(G)[: source.n_features].copy()
    else:
        second = second / m
    y_second = y_second / m
    return Statistics(
        n_samples=source.n_samples,
        weight_sum=m,
        scale=scale,
        mean=mean,
        shift=shift,
        second=second,
        gram=G,
        y_mean=y_mean,
        y_scale=y_scale,
        y_second=y_second,
        centred=center,
        max_abs=big,
        y_max_abs=y_big,
    )
