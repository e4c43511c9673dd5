"""The kernel for arrays of other libraries (PyTorch, CuPy, …), written against the array API standard.

X, Y and the sample weights stay where they live (a GPU, say); every function
here reads them with the operations of their own namespace
(``array_api_compat.array_namespace``) and returns what the rest of gdlearn
needs as small float64 NumPy arrays: the parameters (p × k numbers) go to the
device, and the sums (p × k numbers and a scalar) come back, once per pass.
Sums are formed in X's own dtype (float32 X is read as float32, as a GPU
reads it fastest) and returned in float64.

The three built-in losses are written out here by their ``kernel_id``, as in
the compiled kernel: the residual is r = s ⊙ (h(z) − y) for all of them, the
tutorial's shared gradient (``gdlearn.losses``):

=========  ===========================================  =====================
kernel_id  ℓ(y, z)                                      h(z)
=========  ===========================================  =====================
0          ½ Σₖ (zₖ − yₖ)²                              z
1          max(z, 0) − yz + log(1 + e^(−|z|))           σ(z)
2          logsumexp(z) − Σₖ yₖzₖ                       softmax(z)
=========  ===========================================  =====================

Passes over large X go in row blocks of about :data:`BLOCK_BYTES`, so that no
temporary grows with the number of samples beyond z (m × k).
"""

from __future__ import annotations

import numpy as np

from .._optional import import_optional

__all__ = [
    "BLOCK_BYTES",
    "is_foreign",
    "namespace",
    "to_numpy",
    "loss_sums",
    "hessian_sums",
    "column_moments",
    "column_variance",
    "gram",
    "max_row_norm",
    "scores",
]

#: The row blocks of the passes that make a centred copy of X (statistics, the Gram matrix).
BLOCK_BYTES = 64 << 20


def is_foreign(X) -> bool:
    """True for an array that is neither a NumPy array nor a SciPy sparse matrix (nor a Dask array)."""
    return not (isinstance(X, np.ndarray) or hasattr(X, "tocsr") or type(X).__module__.startswith("dask"))


def namespace(*arrays):
    """The array API namespace of ``arrays`` (``array_api_compat.array_namespace``)."""
    compat = import_optional("array_api_compat", extra="array-api", purpose="arrays of other libraries")
    return compat.array_namespace(*(a for a in arrays if a is not None))


def _device(x):
    return import_optional("array_api_compat", extra="array-api").device(x)


def to_numpy(a) -> np.ndarray:
    """A float64 NumPy copy of a small array of any library (from the GPU when it lives there)."""
    if isinstance(a, np.ndarray):
        return a.astype(np.float64, copy=False)
    if type(a).__module__.startswith("cupy"):
        a = a.get()
    elif hasattr(a, "detach"):  # torch
        a = a.detach().cpu().numpy()
    else:  # any other library on the CPU: the DLPack protocol of the standard
        a = np.from_dlpack(a)
    return np.asarray(a, dtype=np.float64)


def to_device(a, like):
    """NumPy (or any) array ``a`` as an array of ``like``'s namespace, dtype and device."""
    xp = namespace(like)
    return xp.asarray(np.asarray(a, dtype=np.float64), dtype=like.dtype, device=_device(like))


def _blocks(X) -> list[slice]:
    m, p = X.shape
    rows = max(1024, BLOCK_BYTES // max(1, 8 * p))
    return [slice(start, min(start + rows, m)) for start in range(0, m, rows)] or [slice(0, 0)]


def _residual(xp, kind: int, Y, z):
    """(ℓ of each row, shape (m,); h(z) − y, shape (m, k))."""
    if kind == 0:
        r = z - Y
        return 0.5 * xp.sum(r * r, axis=1), r
    if kind == 1:
        e = xp.exp(-xp.abs(z))  # one exponential for both; never log(0), never overflow
        ell = (xp.where(z > 0, z, xp.zeros_like(z)) - Y * z) + xp.log1p(e)
        h = xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return ell[:, 0], h - Y
    if kind == 2:
        s = z - xp.max(z, axis=1, keepdims=True)
        lse = xp.log(xp.sum(xp.exp(s), axis=1, keepdims=True))
        ell = lse[:, 0] - xp.sum(Y * s, axis=1)  # Σₖ yₖ = 1: logsumexp(z) − yᵀz = log Σ e^s − yᵀs
        return ell, xp.exp(s - lse) - Y
    raise TypeError(f"arrays of other libraries need one of gdlearn's own losses (kernel_id 0, 1, 2), not {kind!r}")


def _take(xp, a, rows):
    if a is None or rows is None:
        return a
    return xp.take(a, xp.asarray(np.asarray(rows, dtype=np.int64), device=_device(a)), axis=0)


def loss_sums(X, Y, sw, W, b, kind, *, rows=None, need_grad: bool = True):
    """(Σ sᵢℓᵢ, Xᵀr of shape (p, k), Σr of shape (k,)) as float64 NumPy, r = s ⊙ (h(XW + b) − y).

    Parameters
    ----------
    X : array of shape (m, p), any array API library
    Y : array of shape (m, k) of X's namespace and device, or None (the curvature pass: ℓ = 0, r = s ⊙ z)
    sw : array of shape (m,) of X's namespace and device, or None
    W : ndarray of shape (p, k); b : ndarray of shape (k,)
        On the host; sent to X's device in X's dtype.
    kind : int
        The loss's ``kernel_id``.
    rows : integer array, optional
        A mini-batch of X's rows.
    """
    xp = namespace(X)
    X, Y, sw = (_take(xp, a, rows) for a in (X, Y, sw))
    z = X @ to_device(W, X) + to_device(b, X)
    if Y is None:
        total, r = 0.0, z
    else:
        ell, r = _residual(xp, kind, Y, z)
        total = float(to_numpy(xp.sum(ell if sw is None else ell * sw)))
    if not need_grad:
        return total, None, None
    if sw is not None:
        r = r * sw[:, None]
    return total, to_numpy(X.T @ r), to_numpy(xp.sum(r, axis=0))


def hessian_sums(X, sw, W, b, kind, shift, inv):
    """Σ sᵢ ∂²ℓᵢ/∂zₖ∂zₗ · aᵢaᵢᵀ with aᵢ = [(xᵢ − shift)·inv, 1], shape (k, k, p + 1, p + 1), float64."""
    xp = namespace(X)
    p, k = np.shape(W)
    H = np.zeros((k, k, p + 1, p + 1))
    Wd, bd, sh, iv = (to_device(a, X) for a in (W, b, shift, inv))
    for blk in _blocks(X):
        Xb = X[blk, :]
        A = xp.concat([(Xb - sh) * iv, xp.ones((Xb.shape[0], 1), dtype=X.dtype, device=_device(X))], axis=1)
        z = Xb @ Wd + bd
        if kind == 0:
            C = [[xp.ones_like(z[:, 0]) if o == q else None for q in range(k)] for o in range(k)]
        elif kind == 1:
            e = xp.exp(-xp.abs(z[:, 0]))
            C = [[e / ((1.0 + e) * (1.0 + e))]]  # σ(1 − σ) without cancellation
        elif kind == 2:
            s = xp.exp(z - xp.max(z, axis=1, keepdims=True))
            P = s / xp.sum(s, axis=1, keepdims=True)
            C = [[P[:, o] * ((1.0 if o == q else 0.0) - P[:, q]) for q in range(k)] for o in range(k)]
        else:
            raise TypeError(f"arrays of other libraries need one of gdlearn's own losses, not kernel_id {kind!r}")
        for o in range(k):
            for q in range(k):
                if C[o][q] is None:
                    continue
                w = C[o][q] if sw is None else C[o][q] * sw[blk]
                H[o, q] += to_numpy(A.T @ (A * w[:, None]))
    return H


def column_moments(X, sw, inv):
    """(max |x| of each column, Σ sᵢxᵢⱼ·invⱼ), both float64 NumPy of shape (p,)."""
    xp = namespace(X)
    p = X.shape[1]
    big, total = np.zeros(p), np.zeros(p)
    iv = to_device(inv, X)
    for blk in _blocks(X):
        Xb = X[blk, :]
        if Xb.shape[0]:
            np.maximum(big, to_numpy(xp.max(xp.abs(Xb), axis=0)), out=big)
        Xb = Xb * iv
        total += to_numpy(xp.sum(Xb, axis=0) if sw is None else sw[blk] @ Xb)
    return big, total


def column_variance(X, sw, shift, inv):
    """Σ sᵢ((xᵢⱼ − shiftⱼ)·invⱼ)² of each column, float64 NumPy of shape (p,)."""
    xp = namespace(X)
    out = np.zeros(X.shape[1])
    sh, iv = to_device(shift, X), to_device(inv, X)
    for blk in _blocks(X):
        d = (X[blk, :] - sh) * iv
        d = d * d
        out += to_numpy(xp.sum(d, axis=0) if sw is None else sw[blk] @ d)
    return out


def gram(X, Y, sw, shift, inv, y_shift, y_inv):
    """Σ sᵢaᵢaᵢᵀ with aᵢ = [(xᵢ − shift)·inv, (yᵢ − y_shift)·y_inv], float64 NumPy of shape (p + k, p + k)."""
    xp = namespace(X)
    k = 0 if Y is None else Y.shape[1]
    G = np.zeros((X.shape[1] + k,) * 2)
    sh, iv = to_device(shift, X), to_device(inv, X)
    ysh, yiv = (to_device(a, X) for a in (y_shift, y_inv)) if k else (None, None)
    for blk in _blocks(X):
        parts = [(X[blk, :] - sh) * iv] + ([(Y[blk, :] - ysh) * yiv] if k else [])
        A = xp.concat(parts, axis=1) if k else parts[0]
        G += to_numpy(A.T @ (A if sw is None else A * sw[blk][:, None]))
    return G


def max_row_norm(X, sw, shift, inv) -> float:
    """max over rows of sᵢ‖(xᵢ − shift)·inv‖²."""
    xp = namespace(X)
    top = 0.0
    sh, iv = to_device(shift, X), to_device(inv, X)
    for blk in _blocks(X):
        d = (X[blk, :] - sh) * iv
        q = xp.sum(d * d, axis=1)
        if sw is not None:
            q = q * sw[blk]
        if q.shape[0]:
            top = max(top, float(to_numpy(xp.max(q))))
    return top


def scores(X, W, b):
    """z = XW + b of shape (m, k), in X's namespace, dtype and device."""
    return X @ to_device(W, X) + to_device(b, X)
