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

# Rows per block for the fused path: ~256 KiB of float64 X per block keeps the
# block in L2 cache between the forward and backward products.
_BLOCK_BYTES = 1 << 18


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
    ell = loss.pointwise(Y, z)
    if sample_weight is None:
        value = float(ell.sum())
    else:
        value = float(ell @ sample_weight)
    if not need_grad:
        return value, None, None
    r = loss.inverse_link(z)
    r -= Y
    if sample_weight is not None:
        r *= sample_weight[:, None]
    return value, X.T @ r, r.sum(axis=0)


def blocked_forward_backward(X, Y, W, b, sample_weight, loss, need_grad=True):
    """Same result as :func:`forward_backward`, reading X once, block by block."""
    m, p = X.shape
    rows = max(64, _BLOCK_BYTES // max(1, 8 * p))
    if rows >= m:
        return forward_backward(X, Y, W, b, sample_weight, loss, need_grad)
    value = 0.0
    gW = np.zeros_like(W) if need_grad else None
    gb = np.zeros_like(b) if need_grad else None
    for start in range(0, m, rows):
        sl = slice(start, start + rows)
        sw = None if sample_weight is None else sample_weight[sl]
        v, gw_blk, gb_blk = forward_backward(X[sl], Y[sl], W, b, sw, loss, need_grad)
        value += v
        if need_grad:
            gW += gw_blk
            gb += gb_blk
    return value, gW, gb
