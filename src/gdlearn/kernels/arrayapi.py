"""The kernel for arrays of other libraries (PyTorch, CuPy, …), written against the array API standard.

X, Y and the sample weights stay where they live (a GPU, say); every function
here reads them with the operations of their own namespace
(``array_api_compat.array_namespace``) and returns what the rest of gdlearn
needs as small float64 NumPy arrays: the parameters (p × k numbers) go to the
device, and the sums (p × k numbers and a scalar) come back, once per pass.
The loss sums of every iteration are formed in X's own dtype (float32 X is
read as float32, as a GPU reads it fastest); the one-off passes (statistics,
Gram matrix, Hessian, row norms) in float64 block by block, where the device
has float64, since the squared loss's J is read off the Gram matrix with
cancellation.  Everything is returned in float64.

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
    "host",
    "to_device",
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
#: Row blocks of the loss sums (None: all rows at once, two products over the whole of X).
LOSS_BLOCK_BYTES: int | None = None


def is_foreign(X) -> bool:
    """True for an array of another array API library (PyTorch, CuPy, JAX, array_api_strict, …).

    Not for NumPy arrays, SciPy sparse matrices, Dask collections, pandas objects or lists, which keep their paths.
    """
    if isinstance(X, np.ndarray) or hasattr(X, "tocsr"):
        return False
    module = type(X).__module__
    if module.startswith(("dask", "pandas", "polars")):
        return False
    return hasattr(X, "__array_namespace__") or module.startswith(("torch", "cupy", "jax"))


def namespace(*arrays):
    """The array API namespace of ``arrays`` (``array_api_compat.array_namespace``)."""
    compat = import_optional("array_api_compat", extra="array-api", purpose="arrays of other libraries")
    return compat.array_namespace(*(a for a in arrays if a is not None))


def _device(x):
    return import_optional("array_api_compat", extra="array-api").device(x)


def to_numpy(a) -> np.ndarray:
    """A float64 NumPy copy of a small array of any library (from the GPU when it lives there)."""
    return host(a).astype(np.float64, copy=False)


def host(a) -> np.ndarray:
    """A NumPy copy of an array of any library, in its own dtype (targets, labels, weights: m numbers, once)."""
    if isinstance(a, np.ndarray) or not hasattr(a, "shape"):
        return np.asarray(a)
    if type(a).__module__.startswith("cupy"):
        return a.get()
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return np.from_dlpack(a)


def to_device(a, like):
    """NumPy (or any) array ``a`` as an array of ``like``'s namespace, dtype and device."""
    xp = namespace(like)
    return xp.asarray(np.asarray(a, dtype=np.float64), dtype=like.dtype, device=_device(like))


def _f64(xp, block):
    """``block`` in float64 on its device (the one-off passes), or as it is where the device has no float64."""
    try:
        return xp.astype(block, xp.float64)
    except (TypeError, RuntimeError, ValueError):  # e.g. Apple's MPS
        return block


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

    Notes
    -----
    X is read twice, by XW and by Xᵀr; with :data:`LOSS_BLOCK_BYTES` set, both
    products run block by block, so that each block is read from memory once
    and again from the cache (``benchmarks/gpu.py`` measures both).
    """
    xp = namespace(X)
    X, Y, sw = (_take(xp, a, rows) for a in (X, Y, sw))
    Wd, bd = to_device(W, X), to_device(b, X)
    m, p = X.shape
    itemsize = 8 if X.dtype == xp.float64 else 4
    step = max(m, 1) if LOSS_BLOCK_BYTES is None else max(1, LOSS_BLOCK_BYTES // (itemsize * max(1, p)))
    total, gW, gb = 0.0, 0.0, 0.0
    for start in range(0, max(m, 1), step):
        blk = slice(start, min(start + step, m))
        Xb = X[blk, :]
        z = Xb @ Wd + bd
        swb = None if sw is None else sw[blk]
        if Y is None:
            r = z
        else:
            ell, r = _residual(xp, kind, Y[blk, :], z)
            total += xp.sum(ell if swb is None else ell * swb)
        if need_grad:
            if swb is not None:
                r = r * swb[:, None]
            gW = gW + Xb.T @ r
            gb = gb + xp.sum(r, axis=0)
    total = float(to_numpy(total)) if Y is not None else 0.0
    if not need_grad:
        return total, None, None
    return total, to_numpy(gW), to_numpy(gb)


def hessian_sums(X, sw, W, b, kind, shift, inv):
    """Σ sᵢ ∂²ℓᵢ/∂zₖ∂zₗ · aᵢaᵢᵀ with aᵢ = [(xᵢ − shift)·inv, 1], shape (k, k, p + 1, p + 1), float64."""
    xp = namespace(X)
    p, k = np.shape(W)
    H = np.zeros((k, k, p + 1, p + 1))
    for blk in _blocks(X):
        Xb = _f64(xp, X[blk, :])
        Wd, bd, sh, iv = (to_device(a, Xb) for a in (W, b, shift, inv))
        A = xp.concat([(Xb - sh) * iv, xp.ones((Xb.shape[0], 1), dtype=Xb.dtype, device=_device(Xb))], axis=1)
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
                w = C[o][q] if sw is None else C[o][q] * _f64(xp, sw[blk])
                H[o, q] += to_numpy(A.T @ (A * w[:, None]))
    return H


def column_moments(X, sw, inv):
    """(max |x| of each column, Σ sᵢxᵢⱼ·invⱼ), both float64 NumPy of shape (p,)."""
    xp = namespace(X)
    p = X.shape[1]
    big, total = np.zeros(p), np.zeros(p)
    for blk in _blocks(X):
        Xb = _f64(xp, X[blk, :])
        if Xb.shape[0]:
            np.maximum(big, to_numpy(xp.max(xp.abs(Xb), axis=0)), out=big)
        Xb = Xb * to_device(inv, Xb)
        total += to_numpy(xp.sum(Xb, axis=0) if sw is None else _f64(xp, sw[blk]) @ Xb)
    return big, total


def column_variance(X, sw, shift, inv):
    """Σ sᵢ((xᵢⱼ − shiftⱼ)·invⱼ)² of each column, float64 NumPy of shape (p,)."""
    xp = namespace(X)
    out = np.zeros(X.shape[1])
    for blk in _blocks(X):
        Xb = _f64(xp, X[blk, :])
        d = (Xb - to_device(shift, Xb)) * to_device(inv, Xb)
        d = d * d
        out += to_numpy(xp.sum(d, axis=0) if sw is None else _f64(xp, sw[blk]) @ d)
    return out


def gram(X, Y, sw, shift, inv, y_shift, y_inv):
    """Σ sᵢaᵢaᵢᵀ with aᵢ = [(xᵢ − shift)·inv, (yᵢ − y_shift)·y_inv], float64 NumPy of shape (p + k, p + k)."""
    xp = namespace(X)
    k = 0 if Y is None else Y.shape[1]
    G = np.zeros((X.shape[1] + k,) * 2)
    for blk in _blocks(X):
        Xb = _f64(xp, X[blk, :])
        parts = [(Xb - to_device(shift, Xb)) * to_device(inv, Xb)]
        if k:
            Yb = _f64(xp, Y[blk, :])
            parts.append((Yb - to_device(y_shift, Xb)) * to_device(y_inv, Xb))
        A = xp.concat(parts, axis=1) if k else parts[0]
        G += to_numpy(A.T @ (A if sw is None else A * _f64(xp, sw[blk])[:, None]))
    return G


def max_row_norm(X, sw, shift, inv) -> float:
    """max over rows of sᵢ‖(xᵢ − shift)·inv‖²."""
    xp = namespace(X)
    top = 0.0
    for blk in _blocks(X):
        Xb = _f64(xp, X[blk, :])
        d = (Xb - to_device(shift, Xb)) * to_device(inv, Xb)
        q = xp.sum(d * d, axis=1)
        if sw is not None:
            q = q * _f64(xp, sw[blk])
        if q.shape[0]:
            top = max(top, float(to_numpy(xp.max(q))))
    return top


def scores(X, W, b):
    """z = XW + b of shape (m, k), in X's namespace, dtype and device."""
    return X @ to_device(W, X) + to_device(b, X)


def probabilities(z, *, log: bool = False):
    """Class probabilities from scores z of shape (m, k) in z's namespace: [1 − σ, σ] for k = 1, softmax otherwise.

    With ``log=True`` their logarithms, computed from z without taking log(0).
    """
    xp = namespace(z)
    if z.shape[1] == 1:
        z = xp.concat([-z, z], axis=1)  # P = [σ(−z), σ(z)]
        zero = xp.zeros_like(z)
        log_p = -(xp.where(z > 0, zero, -z) + xp.log1p(xp.exp(-xp.abs(z))))  # log σ(t) = −log(1 + e^(−t))
    else:
        s = z - xp.max(z, axis=1, keepdims=True)
        log_p = s - xp.log(xp.sum(xp.exp(s), axis=1, keepdims=True))
    return log_p if log else xp.exp(log_p)


def labels(z, classes: np.ndarray):
    """The most probable class of each row of z, in z's namespace when the labels are numbers (else NumPy)."""
    xp = namespace(z)
    index = xp.astype(z[:, 0] > 0, xp.int64) if z.shape[1] == 1 else xp.argmax(z, axis=1)
    if classes.dtype.kind not in "biuf":  # a device holds no strings: the labels come back to the host
        return classes[host(index)]
    return xp.take(xp.asarray(classes, device=_device(z)), index, axis=0)
