"""Computational kernels behind :class:`gdlearn.objective.Objective`.

The objective asks one question of the data: for a parameter block (W, b),
what are the weighted loss sum Σ sᵢ ℓ(yᵢ, zᵢ) and the sums Xᵀr and Σ r with
r = s ⊙ (h(z) − y)?  Everything else (normalisation, penalties,
preconditioning) is done on small (n_features × n_outputs) arrays by the
caller.

``forward_backward`` is the readable reference path.  ``blocked_forward_backward``
is the fused one-pass path: it walks X in row blocks small enough to stay in
cache, so that the two products X @ W and Xᵀ @ r read each block of X from
memory once instead of twice.  Both give the same numbers up to rounding
(``tests/test_objective.py`` checks it).  A future array-API or compiled
kernel plugs in here without touching the gradient's definition.
"""

from __future__ import annotations

import numpy as np

from .losses import Loss

# Rows per block for the fused path: ~1 MiB of X per block stays in L2 cache
# between the forward and backward products, and is large enough that the
# per-block NumPy call overhead stays small (benchmarks/proto_kernel.py).
_BLOCK_BYTES = 1 << 20


def forward_backward(
    X: np.ndarray,
    Y: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    sample_weight: np.ndarray | None,
    loss: Loss,
    need_grad: bool = True,
):
    """Return (Σ sᵢℓᵢ, Xᵀr, Σ r) with r = s ⊙ (h(XW + b) − Y).

    Shapes: X (m, p), Y (m, k), W (p, k), b (k,).  Returns a float, an array of
    shape (p, k) and an array of shape (k,) (the last two None if ``need_grad``
    is False).
    """
    z = X @ W
    z += b
    # the base class's formulas (pointwise and inverse_link), not a loss's in-place fast path
    value, r = Loss.sum_and_residual(loss, Y, z, sample_weight, need_residual=need_grad)
    if not need_grad:
        return value, None, None
    return value, X.T @ r, r.sum(axis=0)


def blocked_forward_backward(X, Y, W, b, sample_weight, loss, need_grad=True):
    """Same result as :func:`forward_backward`, reading X once, block by block.

    One score buffer is reused for every block and the loss forms its residual
    in place (:meth:`gdlearn.losses.Loss.sum_and_residual`), so a pass allocates
    nothing of size n_samples.
    """
    m, p = X.shape
    rows = max(256, _BLOCK_BYTES // max(1, X.dtype.itemsize * p))
    if rows >= m:
        return forward_backward(X, Y, W, b, sample_weight, loss, need_grad)
    sparse = hasattr(X, "tocsr")
    zbuf = np.empty((rows, W.shape[1]))
    value = 0.0
    gW = np.zeros_like(W) if need_grad else None
    gb = np.zeros_like(b) if need_grad else None
    for start in range(0, m, rows):
        Xb = X[start : start + rows]
        z = zbuf[: Xb.shape[0]]
        if sparse:
            z[...] = Xb @ W
        else:
            np.matmul(Xb, W, out=z)
        z += b
        sw = None if sample_weight is None else sample_weight[start : start + rows]
        total, r = loss.sum_and_residual(Y[start : start + rows], z, sw, need_residual=need_grad)
        value += total
        if need_grad:
            gW += Xb.T @ r
            gb += r.sum(axis=0)
    return value, gW, gb
