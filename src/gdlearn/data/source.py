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

Streaming files (:mod:`gdlearn.data.files`) and Dask arrays
(:mod:`gdlearn.data.dask`) are further :class:`BlockSource` subclasses: a file
yields its record batches; a Dask source adds the blocks' parts on the cluster
(:meth:`BlockSource.reduce`).
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .batches import batch_indices
from .stats import Statistics, compute_statistics

__all__ = ["BlockSource", "BlockRows", "ArraySource", "GramSource", "add_parts", "max_parts"]


def add_parts(a, b):
    """The sum of two partial results of a block function: numbers, arrays, or tuples of them (None stays None)."""
    if isinstance(a, tuple):
        return tuple(x if x is None else x + y for x, y in zip(a, b))
    return a + b


def max_parts(a, b):
    """The elementwise maximum of two partial results (numbers, arrays, or tuples of them)."""
    if isinstance(a, tuple):
        return tuple(np.maximum(x, y) for x, y in zip(a, b))
    return np.maximum(a, b)


# Block functions: what one block (X, Y, s) contributes.  Module-level (not closures), so that a cluster's
# workers can run them on their own chunks (gdlearn.data.dask).
def _loss_part(X, Y, sw, loss, W, b, need_grad, hessian):
    return tuple(kernels.loss_sums(X, Y, sw, W, b, loss, need_grad=need_grad, hessian=hessian))


def _curvature_part(X, Y, sw, W, b):
    return tuple(kernels.loss_sums(X, None, sw, W, b, None)[1:])


def _hessian_part(X, Y, sw, loss, W, b, shift, inv):
    return kernels.hessian_sums(X, sw, W, b, loss, shift, inv)


def _max_abs_part(X, Y, sw):
    with np.errstate(over="ignore", invalid="ignore"):  # only the maxima are kept, not the sums
        x_big = kernels.column_moments(X, sw, np.ones(X.shape[1]))[0]
    return x_big, np.abs(Y).max(axis=0, initial=0.0)


def _row_norm_part(X, Y, sw, shift, inv):
    return kernels.max_row_norm(X, sw, shift, inv)


def _target_part(X, Y, sw):
    return Y.sum(axis=0) if sw is None else sw @ Y


def _max_weight_part(X, Y, sw):
    return 1.0 if sw is None else float(np.max(sw, initial=0.0))


class BlockRows:
    """A mini-batch of a block source: ``rows`` of its block number ``block`` (``len`` is the batch size)."""

    __slots__ = ("block", "rows")

    def __init__(self, block: int, rows: np.ndarray) -> None:
        self.block = block
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)


class BlockSource:
    """Rows of (X, Y, s) in blocks: the interface every data source implements.

    Subclasses set ``n_samples``, ``n_features``, ``n_outputs``,
    ``weight_sum`` (m = Σ sᵢ) and ``sparse``, and define :meth:`blocks`.
    Every sum is :meth:`reduce` of a block function; a source that can add its
    blocks' parts another way (on a cluster: :class:`gdlearn.data.dask.DaskSource`)
    overrides :meth:`reduce` only.  Sources that can read one block on demand
    (``n_blocks``, :meth:`block`) support mini-batches (:meth:`minibatches`).
    """

    n_samples: int
    n_features: int
    n_outputs: int
    weight_sum: float
    sparse: bool = False
    n_blocks: int = 0

    def blocks(self):
        """Iterate over row blocks (X, Y, sample_weight or None)."""
        return (self.block(i) for i in range(self.n_blocks))

    def block(self, i: int):
        """Block number ``i`` as (X, Y, sample_weight or None), for mini-batches."""
        raise NotImplementedError

    def reduce(self, func, *args, combine=add_parts):
        """``combine`` over the blocks of ``func(X, Y, sw, *args)``: one pass.

        Parameters
        ----------
        func : callable
            A module-level function of a block and ``args`` that returns a number, an
            array or a tuple of them (small: of the size of the parameters).
        combine : callable, default=add_parts
            Associative and commutative (:func:`add_parts`, :func:`max_parts`).
        """
        total = None
        for X, Y, sw in self.blocks():
            part = func(X, Y, sw, *args)
            total = part if total is None else combine(total, part)
        return total

    def loss_sums(self, loss, W, b, *, rows=None, need_grad: bool = True, hessian=None):
        """(Σ sᵢℓᵢ, Xᵀr of shape (p, k), Σr of shape (k,)), added over the blocks.

        ``hessian=(shift, inv)``: also the Hessian sums (:meth:`hessian_sums`), as a fourth item.
        ``rows``: a mini-batch from :meth:`minibatches` instead of all rows.
        """
        W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if rows is not None:
            X, Y, sw = self._cached_block(rows.block)
            return kernels.loss_sums(X, Y, sw, W, b, loss, rows=rows.rows, need_grad=need_grad, hessian=hessian)
        return self.reduce(_loss_part, loss, W, b, need_grad, hessian)

    def curvature_sums(self, W, b):
        """(Xᵀ(s ⊙ z), Σ s ⊙ z) with z = XW + b."""
        return self.reduce(_curvature_part, np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64))

    def hessian_sums(self, loss, W, b, shift, inv):
        """Σ sᵢ ∂²ℓᵢ/∂z² ⊗ aᵢaᵢᵀ, aᵢ = [(xᵢ − shift)·inv, 1]: shape (k, k, p + 1, p + 1)."""
        return self.reduce(_hessian_part, loss, W, b, shift, inv)

    def statistics(self, *, center: bool, gram: bool, targets: bool = False) -> Statistics:
        """Column statistics (and optionally the Gram matrix) in one or two passes."""
        return compute_statistics(self, center=center, gram=gram and not self.sparse, targets=targets)

    def max_abs(self) -> tuple[np.ndarray, np.ndarray]:
        """(max |xᵢⱼ| of each column, max |yᵢₖ| of each output): one pass."""
        return self.reduce(_max_abs_part, combine=max_parts)

    def max_row_norm(self, shift, inv) -> float:
        """max over rows of sᵢ‖(xᵢ − shift)·inv‖²."""
        return float(self.reduce(_row_norm_part, shift, inv, combine=max_parts))

    def target_mean(self) -> np.ndarray:
        """The weighted mean of the encoded targets, shape (n_outputs,): Σ sᵢyᵢ / m."""
        return self.reduce(_target_part) / self.weight_sum

    @property
    def max_weight(self) -> float:
        """The largest sample weight (1 without weights)."""
        if getattr(self, "_max_weight", None) is None:
            self._max_weight = float(self.reduce(_max_weight_part, combine=max_parts))
        return self._max_weight

    def minibatches(self, batch_size: int, epoch: int, seed: int, shuffle: bool = True):
        """The mini-batches of one epoch, lazily: blocks in a shuffled order, each block's rows shuffled and cut.

        Blocks that must be read in sequence (:attr:`block_groups`: a Parquet row group's record
        batches) keep their order; the groups are shuffled.
        The order depends only on (seed, epoch), as :func:`gdlearn.data.batches.batch_indices`'s.
        A block's last batch may be shorter (the solver weighs it by its share).  Only one block is
        held in memory at a time, consecutive batches coming from the same block, and only one
        block's row order: memory does not grow with the number of rows.
        """
        rng = np.random.default_rng([seed, epoch])
        groups, sizes = self.block_groups, self.block_rows
        order = rng.permutation(len(groups)) if shuffle else range(len(groups))
        for i in (i for g in order for i in groups[g]):
            rows = rng.permutation(sizes[i]) if shuffle else np.arange(sizes[i])
            yield from (BlockRows(int(i), rows[s : s + batch_size]) for s in range(0, sizes[i], batch_size))

    @property
    def block_rows(self) -> list:
        """The number of rows of each block (for :meth:`minibatches`)."""
        raise NotImplementedError

    @property
    def block_groups(self) -> list:
        """Lists of blocks read one after the other in a mini-batch epoch (default: each block alone)."""
        return [[i] for i in range(self.n_blocks)]

    def _cached_block(self, i: int):
        """Block ``i``, read once while consecutive mini-batches use it."""
        cached = getattr(self, "_last_block", None)
        if cached is None or cached[0] != i:
            self._last_block = cached = (i, self.block(i))
        return cached[1]


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

    n_blocks = 1

    def blocks(self):
        yield self.X, self.Y, self.sample_weight

    def block(self, i: int):
        return self.X, self.Y, self.sample_weight

    def loss_sums(self, loss, W, b, *, rows=None, need_grad: bool = True, hessian=None):
        """As :meth:`BlockSource.loss_sums`, for all rows or the mini-batch ``rows`` (an index array)."""
        return kernels.loss_sums(
            self.X, self.Y, self.sample_weight, W, b, loss, rows=rows, need_grad=need_grad, hessian=hessian
        )

    def minibatches(self, batch_size: int, epoch: int, seed: int, shuffle: bool = True) -> list:
        """Index arrays of the mini-batches of one epoch (:func:`~gdlearn.data.batches.batch_indices`)."""
        return batch_indices(self.n_samples, batch_size, epoch, seed, shuffle)

    def target_mean(self) -> np.ndarray:
        Y, sw = self.Y, self.sample_weight
        return Y.mean(axis=0) if sw is None else (sw @ Y) / np.sum(sw)

    @property
    def max_weight(self) -> float:
        return 1.0 if self.sample_weight is None else float(np.max(self.sample_weight))


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
