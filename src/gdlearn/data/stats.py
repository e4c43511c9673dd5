"""Column statistics of a data source, in one pass: what preconditioning needs.

The largest |x| of each column, the weighted column means μ, and either the
weighted second moments about a centring point a (a = μ with an intercept,
a = 0 without: one cannot centre without an intercept to absorb the shift), or
the whole weighted Gram matrix

.. math::

    G = \\frac{1}{m}\\sum_i s_i\\, a_i a_i^\\top,\\qquad
    a_i = \\big[(x_i - a)/β,\\; (y_i - \\bar y)/β_y\\big],

whose diagonal holds the same second moments.  Every column is divided by a
power of two β (near its largest |x|) before anything is squared, so that
features near the floating-point limits (1e±300) neither overflow nor
underflow and the scaling itself is exact; the Gram matrix is formed from
centred blocks, so E[x²] − μ² never cancels.  Each block is centred at its
own mean and the blocks are merged pairwise (Chan, Golub and LeVeque 1979),
so the source is read once: a file in one pass, a Dask array in one graph.  For the squared loss the Gram
matrix with the target columns is the whole data term
(:class:`gdlearn.data.source.GramSource`).
"""

from __future__ import annotations

import functools
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


def _block_part(X, Y, sw, center, gram, targets):
    """The statistics of one block, about its own mean and in units of its own scales.

    ``(w, big, c, y_big, y_c, second, y_second)``: the block's weight sum; max |x|
    per column; the weighted mean in units of the block's scale β_b (the power
    of two above ``big``); the same two for the targets; and (1/w) Σ sᵢ aᵢaᵢᵀ
    (the Gram matrix, or its diagonal) and (1/w) Σ sᵢ ((yᵢ − ȳ_b)/β_y,b)², with
    aᵢ the row about the block's mean (about 0 without centring) in those units.
    The block is in memory: it is read twice here, the source once.
    """
    w = float(X.shape[0] if sw is None else np.sum(sw))
    with np.errstate(over="ignore", invalid="ignore"):  # sums near 1e308 overflow: summed again below
        big, total = kernels.column_moments(X, sw, np.ones(X.shape[1]))
    y_big = np.abs(Y).max(axis=0, initial=0.0)
    scale, y_scale = power_of_two(big), power_of_two(y_big)
    width = X.shape[1] + (Y.shape[1] if gram and targets else 0)
    if w == 0:  # rows of weight zero count for the scales only
        zero = np.zeros((width, width) if gram else width)
        return w, big, np.zeros_like(big), y_big, np.zeros_like(y_big), zero, np.zeros_like(y_big)
    with np.errstate(over="ignore", invalid="ignore"):
        c = total / w / scale
    if not np.all(np.isfinite(c)):  # the sums overflowed (|x| near 1e300): sum again in units of β_b
        c = kernels.column_moments(X, sw, 1.0 / scale)[1] / w
    c = np.clip(c, -big / scale, big / scale)  # a mean within the values, also when rounding says otherwise
    y_c = (Y.sum(axis=0) if sw is None else sw @ Y) / w / y_scale
    shift = c * scale if center else np.zeros_like(c)
    y_shift = y_c * y_scale if center else np.zeros_like(y_c)
    if gram:
        second = kernels.gram(X, Y if targets else None, sw, shift, 1.0 / scale, y_shift, 1.0 / y_scale)
    else:
        second = kernels.column_variance(X, sw, shift, 1.0 / scale)
    d = (Y - y_shift) / y_scale  # the targets are small (rows × n_outputs): plain NumPy
    y_second = (d * d).sum(axis=0) if sw is None else sw @ (d * d)
    return w, big, c, y_big, y_c, second / w, y_second / w


def _products(v, y_v, like):
    """vvᵀ shaped as ``like``: over [v, y_v] when ``like`` has the target columns, the diagonal when it is 1-D."""
    v = np.concatenate([v, y_v]) if like.shape[0] > v.shape[0] else v
    return np.outer(v, v) if like.ndim == 2 else v * v


def _merge(a, b, center: bool):
    """Two blocks' statistics as one: Chan, Golub and LeVeque's pairwise update, in units of the larger scales.

    With f = w_a/w, β = max(β_a, β_b) (powers of two, so rescaling is exact) and
    δ = c_b − c_a in units of β, the moments about the joint mean are
    f·G_a + (1 − f)·G_b + f(1 − f)·δδᵀ; about 0 (no centring) there is no
    cross term.  Associative and commutative up to rounding: blocks may be
    merged in any order or tree (a Dask reduction).
    """
    w, big, y_big = a[0] + b[0], np.maximum(a[1], b[1]), np.maximum(a[3], b[3])
    scale, y_scale = power_of_two(big), power_of_two(y_big)
    fa = a[0] / w if w > 0 else 0.0
    parts = []
    for part, f in ((a, fa), (b, 1.0 - fa)):
        r, y_r = power_of_two(part[1]) / scale, power_of_two(part[3]) / y_scale
        parts.append((f, part[2] * r, part[4] * y_r, part[5] * _products(r, y_r, part[5]), part[6] * y_r * y_r))
    (fa, ca, y_ca, Ga, ya), (fb, cb, y_cb, Gb, yb) = parts
    second, y_second = fa * Ga + fb * Gb, fa * ya + fb * yb
    if center:
        d, y_d = cb - ca, y_cb - y_ca
        second = second + fa * fb * _products(d, y_d, Ga)
        y_second = y_second + fa * fb * y_d * y_d
    return w, big, fa * ca + fb * cb, y_big, fa * y_ca + fb * y_cb, second, y_second


def compute_statistics(source, *, center: bool, gram: bool, targets: bool) -> Statistics:
    """Statistics of ``source`` (a :class:`~gdlearn.data.source.BlockSource`) in one pass (:meth:`reduce`).

    Each block's statistics are taken about its own mean (:func:`_block_part`)
    and merged pairwise (:func:`_merge`), so a file is read once and a Dask
    array reduced in one graph.

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
    merge = functools.partial(_merge, center=center)
    _, big, c, y_big, y_c, second, y_second = source.reduce(_block_part, center, gram, targets, combine=merge)
    m = source.weight_sum
    scale, y_scale = power_of_two(big), power_of_two(y_big)
    mean, y_mean = np.clip(c, -big / scale, big / scale) * scale, y_c * y_scale  # within the values: finite
    shift = mean if center else np.zeros_like(mean)
    G = None
    if gram:
        G, second = second, np.diag(second)[: source.n_features].copy()
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
