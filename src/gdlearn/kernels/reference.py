"""The readable NumPy kernel: every statistic of X written as plain array code.

This is the reference that :mod:`gdlearn.kernels.compiled` must agree with, and
the path gdlearn takes where NumPy is as fast (small, cache-resident X, where
its BLAS calls win), or where the compiled kernel does not apply (sparse X,
F-ordered or strided arrays, custom losses).  X is walked in row blocks of
about 1 MiB, so that no temporary grows with the number of samples; sparse
CSR X is never densified beyond one block.

All functions return float64 sums, whatever the dtype of X.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dsyrk as _syrk

__all__ = ["loss_sums", "hessian_sums", "column_moments", "column_variance", "gram", "max_row_norm", "row_blocks"]

_BLOCK_BYTES = 1 << 20


def row_blocks(n_rows: int, n_cols: int) -> list[slice]:
    """Slices of about 1 MiB of float64 rows (at least 64 rows) covering ``range(n_rows)``."""
    rows = max(64, _BLOCK_BYTES // max(1, 8 * n_cols))
    if rows >= n_rows:
        return [slice(0, n_rows)]
    return [slice(start, min(start + rows, n_rows)) for start in range(0, n_rows, rows)]


def _dense(block) -> np.ndarray:
    return block.toarray() if hasattr(block, "toarray") else np.asarray(block, dtype=np.float64)


def loss_sums(X, Y, sw, W, b, loss, rows=None, need_grad: bool = True, hessian=None):
    """(Σ sᵢℓ(yᵢ, zᵢ), Xᵀr, Σr) with z = XW + b and r = s ⊙ (h(z) − y).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (m, p)
    Y : ndarray of shape (m, k), or None for the curvature pass (ℓ = 0, r = s ⊙ z)
    sw : ndarray of shape (m,) or None
    W : ndarray of shape (p, k)
    b : ndarray of shape (k,)
    loss : gdlearn.losses.Loss
    rows : integer array, optional
        Use only these rows (a mini-batch).
    need_grad : bool
    hessian : tuple (shift, inv), optional
        Also return :func:`hessian_sums` at (W, b), from the same pass.

    Returns
    -------
    (float, ndarray of shape (p, k) or None, ndarray of shape (k,) or None),
    and the Hessian sums as a fourth item when ``hessian`` is given.
    """
    if rows is not None:
        X = X[rows]
        Y = None if Y is None else Y[rows]
        sw = None if sw is None else sw[rows]
    p, k = W.shape
    value = 0.0
    gW = np.zeros(W.shape)
    gb = np.zeros(k)
    H = None if hessian is None else np.zeros((k, k, p + 1, p + 1))
    for blk in row_blocks(X.shape[0], X.shape[1]):
        Xb = X[blk]
        z = np.asarray(Xb @ W, dtype=np.float64)
        z += b
        swb = None if sw is None else sw[blk]
        if H is not None:
            _add_hessian(H, Xb, z, swb, loss, *hessian)
        if Y is None:
            r = z if swb is None else z * swb[:, None]
        else:
            total, r = loss.sum_and_residual(Y[blk], z, swb, need_residual=need_grad)
            value += total
        if need_grad:
            gW += np.asarray(Xb.T @ r)
            gb += r.sum(axis=0)
    out = (value, gW, gb) if need_grad else (value, None, None)
    return out if H is None else (*out, H)


def _add_hessian(H, Xb, z, swb, loss, shift, inv) -> None:
    """H[k, l] += Σ sᵢ ∂²ℓᵢ/∂zₖ∂zₗ aᵢaᵢᵀ over the block, aᵢ = [(xᵢ − shift)·inv, 1]."""
    p = Xb.shape[1]
    k = z.shape[1]
    A = np.empty((Xb.shape[0], p + 1))
    np.subtract(_dense(Xb), shift, out=A[:, :p])
    A[:, :p] *= inv
    A[:, p] = 1.0
    C = loss.hessian_weights(z)
    if swb is not None:
        C = C * swb[:, None, None]
    if k == 1:  # non-negative weights: (A√w)ᵀ(A√w), which NumPy hands to BLAS as a symmetric product
        A *= np.sqrt(C[:, 0, 0])[:, None]
        H[0, 0] += A.T @ A
        return
    for o in range(k):
        for q in range(o, k):
            w = C[:, o, q]
            if w.any():
                H[o, q] += A.T @ (A * w[:, None])
                H[q, o] = H[o, q]


def hessian_sums(X, sw, W, b, loss, shift, inv):
    """Σ sᵢ ∂²ℓᵢ/∂zₖ∂zₗ · aᵢaᵢᵀ with aᵢ = [(xᵢ − shift)·inv, 1], shape (k, k, p + 1, p + 1).

    The Hessian of the data term (times m) in the parameters (W·β, b + shiftᵀW),
    for Newton's method; one pass, k(k + 1)/2 BLAS products per block.
    """
    p, k = W.shape
    H = np.zeros((k, k, p + 1, p + 1))
    for blk in row_blocks(X.shape[0], p + 1):
        Xb = X[blk]
        z = np.asarray(Xb @ W, dtype=np.float64) + b
        _add_hessian(H, Xb, z, None if sw is None else sw[blk], loss, shift, inv)
    return H


def column_moments(X, sw, inv):
    """(max |x| of each column, Σ sᵢ xᵢⱼ·invⱼ), both of shape (p,)."""
    p = X.shape[1]
    big = np.zeros(p)
    total = np.zeros(p)
    for blk in row_blocks(X.shape[0], p):
        Xb = _dense(X[blk])
        np.maximum(big, np.abs(Xb).max(axis=0, initial=0.0), out=big)
        Xb = Xb * inv
        total += Xb.sum(axis=0) if sw is None else sw[blk] @ Xb
    return big, total


def column_variance(X, sw, shift, inv):
    """Σ sᵢ ((xᵢⱼ − shiftⱼ)·invⱼ)² of each column, shape (p,).

    For sparse X the implicit zeros contribute (shift·inv)² each, added in
    closed form: no E[x²] − μ² cancellation, no densification.
    """
    p = X.shape[1]
    out = np.zeros(p)
    if hasattr(X, "tocsr"):
        X = X.tocsr()
        s_all = np.ones(X.shape[0]) if sw is None else sw
        seen = np.zeros(p)  # Σ sᵢ over the stored entries of each column
        for blk in row_blocks(X.shape[0], 1 << 10):
            Xb = X[blk]
            s_rows = np.repeat(s_all[blk], np.diff(Xb.indptr))
            d = (Xb.data - shift[Xb.indices]) * inv[Xb.indices]
            out += np.bincount(Xb.indices, weights=s_rows * d * d, minlength=p)
            seen += np.bincount(Xb.indices, weights=s_rows, minlength=p)
        # the implicit zeros' weight: exact from counts (a column stored in full has none; rounding
        # Σsᵢ two ways must not leave it a spurious, possibly negative, share)
        stored = np.bincount(X.indices, minlength=p)
        if sw is None:
            implicit = np.maximum(X.shape[0] - stored, 0).astype(np.float64)
        else:
            implicit = np.where(stored == X.shape[0], 0.0, np.maximum(s_all.sum() - seen, 0.0))
        return out + implicit * (shift * inv) ** 2
    for blk in row_blocks(X.shape[0], p):
        d = (np.asarray(X[blk], dtype=np.float64) - shift) * inv
        d *= d
        out += d.sum(axis=0) if sw is None else sw[blk] @ d
    return out


def gram(X, Y, sw, shift, inv, y_shift, y_inv):
    """Σ sᵢaᵢaᵢᵀ with aᵢ = [(xᵢ − shift)·inv, (yᵢ − y_shift)·y_inv], shape (p + k, p + k).

    Dense X only.  Each block is centred and scaled into one reused buffer and
    added by BLAS ``dsyrk`` (half the products of a general matrix product; the
    buffer is handed over transposed, F-ordered, so that no copy is made),
    which is the compiled kernel of this pass.
    """
    m, p = X.shape
    k = 0 if Y is None else Y.shape[1]
    q = p + k
    G = np.zeros((q, q), order="F")  # upper triangle, accumulated in place
    rows = max(64, _BLOCK_BYTES // (8 * q))
    buf = np.empty((min(rows, m), q))
    root = None if sw is None else np.sqrt(sw)
    for blk in row_blocks(m, q):
        A = buf[: blk.stop - blk.start]
        np.subtract(X[blk], shift, out=A[:, :p])
        A[:, :p] *= inv
        if k:
            np.subtract(Y[blk], y_shift, out=A[:, p:])
            A[:, p:] *= y_inv
        if root is not None:
            A *= root[blk, None]
        if blk.stop - blk.start == m:  # one block (small X): a plain product is quicker than dsyrk's bookkeeping
            return A.T @ A
        G = _syrk(1.0, A.T, beta=1.0, c=G, trans=0, lower=0, overwrite_c=1)
    return np.triu(G) + np.triu(G, 1).T


def max_row_norm(X, sw, shift, inv) -> float:
    """max over rows of sᵢ·‖(xᵢ − shift)·inv‖²."""
    top = 0.0
    for blk in row_blocks(X.shape[0], X.shape[1]):
        d = (_dense(X[blk]) - shift) * inv
        q = np.einsum("ij,ij->i", d, d)
        if sw is not None:
            q *= sw[blk]
        top = max(top, float(q.max(initial=0.0)))
    return top
