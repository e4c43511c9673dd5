"""Data sources: where the rows (X, Y, s) come from, handed to the objective at each evaluation.

A source yields row blocks and adds up what the kernel (:mod:`gdlearn.kernels`)
returns for each; the objective never holds data.  Every source answers the
same three questions:

``loss_sums(loss, W, b)``
    (Σ sᵢℓᵢ, Xᵀr, Σr) with r = s ⊙ (h(XW + b) − y): the data term and its gradient;
``curvature_sums(W, b)``
    (Xᵀ(s ⊙ z), Σ s ⊙ z) with z = XW + b: the product behind the curvature bound;
``statistics(center=…, gram=…, targets=…)``
    the column statistics for preconditioning (:mod:`gdlearn.data.stats`).

Sources
-------
:class:`ArraySource`
    In-memory arrays (dense or sparse).  One block; the compiled kernel threads
    over its rows.  Mini-batches are rows of it, selected by index
    (``rows=``), never copies wrapped in new objects.
:class:`GramSource`
    The squared loss's sufficient statistics: after one pass that forms the
    Gram matrix of [X, y], J, ∇J and the curvature follow in O(n_features²)
    without reading X again.

Streaming files and Dask arrays are further :class:`BlockSource` subclasses:
they only have to yield their blocks (see ``docs/architecture.md``).
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .stats import Statistics, compute_statistics

__all__ = ["BlockSource", "ArraySource", "GramSource"]


class BlockSource:
    """Rows of (X, Y, s) in blocks: the interface every data source implements.

    Subclasses set ``n_samples``, ``n_features``, ``n_outputs``,
    ``weight_sum`` (m = Σ sᵢ) and ``sparse``, and define :meth:`blocks`.
    """

    n_samples: int
    n_features: int
    n_outputs: int
    weight_sum: float
    sparse: bool = False

    def blocks(self):
        """Iterate over row blocks (X, Y, sample_weight or None)."""
        raise NotImplementedError

    def loss_sums(self, loss, W, b, *, need_grad: bool = True, hessian=None):
        """(Σ sᵢℓᵢ, Xᵀr of shape (p, k), Σr of shape (k,)), added over the blocks.

        ``hessian=(shift, inv)``: also the Hessian sums (:meth:`hessian_sums`), as a fourth item.
        """
        total = None
        for X, Y, sw in self.blocks():
            part = kernels.loss_sums(X, Y, sw, W, b, loss, need_grad=need_grad, hessian=hessian)
            total = list(part) if total is None else [a if a is None else a + c for a, c in zip(total, part)]
        return tuple(total)

    def curvature_sums(self, W, b):
        """(Xᵀ(s ⊙ z), Σ s ⊙ z) with z = XW + b."""
        gW, gb = None, None
        for X, _, sw in self.blocks():
            _, w, c = kernels.loss_sums(X, None, sw, W, b, None)
            gW = w if gW is None else gW + w
            gb = c if gb is None else gb + c
        return gW, gb

    def hessian_sums(self, loss, W, b, shift, inv):
        """Σ sᵢ ∂²ℓᵢ/∂z² ⊗ aᵢaᵢᵀ, aᵢ = [(xᵢ − shift)·inv, 1]: shape (k, k, p + 1, p + 1)."""
        return sum(kernels.hessian_sums(X, sw, W, b, loss, shift, inv) for X, _, sw in self.blocks())

    def statistics(self, *, center: bool, gram: bool, targets: bool = False) -> Statistics:
        """Column statistics (and optionally the Gram matrix) in one or two passes."""
        return compute_statistics(self, center=center, gram=gram and not self.sparse, targets=targets)

    def max_abs(self) -> tuple[np.ndarray, np.ndarray]:
        """(max |xᵢⱼ| of each column, max |yᵢₖ| of each output): one pass."""
        x_big, y_big = np.zeros(self.n_features), np.zeros(self.n_outputs)
        ones = np.ones(self.n_features)
        for X, Y, sw in self.blocks():
            with np.errstate(over="ignore", invalid="ignore"):  # only the maxima are kept, not the sums
                np.maximum(x_big, kernels.column_moments(X, sw, ones)[0], out=x_big)
            np.maximum(y_big, np.abs(Y).max(axis=0, initial=0.0), out=y_big)
        return x_big, y_big

    def max_row_norm(self, shift, inv) -> float:
        """max over rows of sᵢ‖(xᵢ − shift)·inv‖²."""
        return max(kernels.max_row_norm(X, sw, shift, inv) for X, _, sw in self.blocks())


class ArraySource(BlockSource):
    """In-memory X (dense or CSR), encoded targets Y and sample weights.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        float32 or float64; used as given, never copied (except a sparse
        matrix with duplicate entries, which is summed into a canonical copy:
        column statistics count each stored position once).
    Y : ndarray of shape (n_samples, n_outputs)
        Targets encoded for the loss (float64).
    sample_weight : ndarray of shape (n_samples,), optional
        None means all ones.
    """

    def __init__(self, X, Y: np.ndarray, sample_weight: np.ndarray | None = None) -> None:
        if hasattr(X, "has_canonical_format") and not X.has_canonical_format:
            X = X.tocsr(copy=True)
            X.sum_duplicates()
        self.X = X
        self.Y = Y
        self.sample_weight = sample_weight
        self.n_samples, self.n_features = X.shape
        self.n_outputs = Y.shape[1]
        self.weight_sum = float(self.n_samples if sample_weight is None else np.sum(sample_weight))
        self.sparse = hasattr(X, "tocsr")

    def blocks(self):
        yield self.X, self.Y, self.sample_weight

    def loss_sums(self, loss, W, b, *, rows=None, need_grad: bool = True, hessian=None):
        """As :meth:`BlockSource.loss_sums`, for all rows or the mini-batch ``rows``."""
        return kernels.loss_sums(
            self.X, self.Y, self.sample_weight, W, b, loss, rows=rows, need_grad=need_grad, hessian=hessian
        )


class GramSource(BlockSource):
    """The squared loss on (X, Y), from the weighted Gram matrix of [X − a, Y − c_y].

    With x̃ = x − a, ỹ = y − c_y, the residual is r = x̃ᵀW − ỹ + δ with
    δ = aᵀW + b − c_y, so every sum the objective needs is a quadratic form
    in the statistics (d = mean of x̃, e = mean of ỹ, both zero when centred):

    .. math::

        \\tfrac{1}{m}\\textstyle\\sum s r^2 = W^\\top G_{xx} W - 2W^\\top G_{xy} + G_{yy}
            + 2δ(d^\\top W - e) + δ^2,\\quad
        \\tfrac{1}{m}\\textstyle\\sum s r = d^\\top W - e + δ,\\quad
        \\tfrac{1}{m}\\textstyle\\sum s x r = G_{xx}W - G_{xy} + dδ + a\\,(d^\\top W - e + δ).

    The same numbers as reading X (up to rounding), in O(n_features²) per
    evaluation.  ``tests/test_source.py`` checks it against the kernel.

    Parameters
    ----------
    stats : Statistics
        Computed with ``gram=True, targets=True``.
    """

    def __init__(self, stats: Statistics) -> None:
        if stats.gram is None or stats.gram.shape[0] == stats.n_features:
            raise ValueError("GramSource needs statistics with the Gram matrix of X and the targets.")
        self.stats = stats
        self.n_samples = stats.n_samples
        self.n_features = stats.n_features
        self.n_outputs = stats.gram.shape[0] - stats.n_features
        self.weight_sum = stats.weight_sum
        p = self.n_features
        beta = stats.scale
        self._Gxx = stats.gram[:p, :p]
        self._Gxy = stats.gram[:p, p:] * stats.y_scale  # y in its own units, x in units of β
        self._Gyy = np.diag(stats.gram)[p:] * stats.y_scale**2
        self._d = (stats.mean - stats.shift) / beta
        self._e = stats.y_mean - (stats.y_mean if stats.centred else 0.0)
        self._c_y = stats.y_mean if stats.centred else np.zeros_like(stats.y_mean)

    def blocks(self):  # pragma: no cover - a GramSource has no rows
        raise TypeError("A GramSource holds statistics, not rows.")

    def _sums(self, W, b, targets: bool):
        st = self.stats
        Wb = W * st.scale[:, None]  # W' = β ⊙ W, so that x̃ᵀW = (x̃/β)ᵀW'
        GW = self._Gxx @ Wb
        c_y = self._c_y if targets else 0.0
        e = self._e if targets else 0.0
        delta = st.shift @ W + b - c_y
        u = self._d @ Wb
        mean_r = u - e + delta
        inner = GW + np.outer(self._d, delta)
        if targets:
            inner -= self._Gxy
        XtR = st.scale[:, None] * inner + np.outer(st.shift, mean_r)
        quad = (Wb * GW).sum(axis=0) + 2 * delta * (u - e) + delta**2
        if targets:
            quad += self._Gyy - 2 * (Wb * self._Gxy).sum(axis=0)
        m = self.weight_sum
        return 0.5 * m * float(np.sum(np.maximum(quad, 0.0))), m * XtR, m * mean_r

    def loss_sums(self, loss, W, b, *, need_grad: bool = True, hessian=None):
        if loss.kernel_id != 0:
            raise TypeError(f"GramSource answers for the squared loss only, not {loss!r}.")
        value, XtR, rsum = self._sums(W, b, targets=True)
        out = (value, XtR, rsum) if need_grad else (value, None, None)
        return out if hessian is None else (*out, self.hessian_sums(loss, W, b, *hessian))

    def curvature_sums(self, W, b):
        _, XtR, rsum = self._sums(W, b, targets=False)
        return XtR, rsum

    def hessian_sums(self, loss, W, b, shift, inv):
        if loss.kernel_id != 0:
            raise TypeError(f"GramSource answers for the squared loss only, not {loss!r}.")
        ratio = np.append(self.stats.scale * inv, 1.0)  # the Gram matrix is in units of β
        A = self.stats.moment_matrix(shift) * ratio[:, None] * ratio[None, :] * self.weight_sum
        k = self.n_outputs
        H = np.zeros((k, k) + A.shape)
        for o in range(k):
            H[o, o] = A
        return H

    def statistics(self, *, center: bool, gram: bool, targets: bool = False) -> Statistics:
        if center != self.stats.centred:
            raise ValueError("GramSource: statistics were computed with the other centring.")
        return self.stats
