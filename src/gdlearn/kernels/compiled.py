"""The compiled block kernel: one read of X per pass, on several threads.

Each pass walks its share of the rows in blocks of 512 rows, small enough to
stay in the core's L2 cache.  For a block it computes the scores z = XW + b
row by row, turns them into losses and residuals r = s ⊙ (h(z) − y) in one
vectorised loop (the exponential and logarithm are written so that the
compiler can vectorise them, :mod:`gdlearn.kernels._vmath`), and adds Xᵀr,
four rows at a time, while the block is still in cache: X travels from memory
once per gradient.  The squared loss with one output needs no such loop and
uses each row twice while it is in L1 instead (:func:`_pass_rows`).

* X is a C-ordered float32 or float64 array, read in place (never copied);
  products and sums are accumulated in float64.  Other layouts take the
  NumPy path (:mod:`gdlearn.kernels.reference`), which also reads them in place.
* ``rows`` selects a mini-batch by index without copying it.
* Threads: the rows are cut into one contiguous share per thread; each share
  is a call of a ``nogil`` function on a :class:`~concurrent.futures.ThreadPoolExecutor`,
  whose partial sums are added at the end.

The readable NumPy version of every function here is in
:mod:`gdlearn.kernels.reference`; ``tests/test_kernels.py`` checks that both
agree on random shapes, orders, dtypes and weights.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ._vmath import exp_neg, log1p_unit

__all__ = ["loss_sums", "column_moments", "column_variance", "max_row_norm", "n_threads"]

# Re-association lets LLVM vectorise the dot products and sums; the loss
# formulas are compiled separately without it (see _residuals).
_FAST = {"reassoc", "contract", "nsz", "arcp"}
_EXACT = {"contract", "nsz"}
_OPTS = {"nogil": True, "error_model": "numpy", "cache": True}

SQUARED, LOGISTIC, MULTINOMIAL, CURVATURE = 0, 1, 2, 3
_MIN_ROWS_PER_THREAD = 2048


# ----------------------------------------------------------- losses
@numba.njit(fastmath=_EXACT, **_OPTS)
def _residuals(Z, Yb, sb, n, loss, weighted, L):  # pragma: no cover - compiled
    """Overwrite scores Z[o, :n] with residuals s(h(z) − y); write losses s·ℓ to L[:n].

    Z and Yb have shape (k, block), sb and L (block,).  Vectorised over the block.
    """
    k = Z.shape[0]
    if loss == SQUARED and k == 1:
        for t in range(n):
            d = Z[0, t] - Yb[0, t]
            Z[0, t] = d
            L[t] = 0.5 * d * d
    elif loss == SQUARED:
        for t in range(n):
            L[t] = 0.0
        for o in range(k):
            for t in range(n):
                d = Z[o, t] - Yb[o, t]
                Z[o, t] = d
                L[t] += 0.5 * d * d
    elif loss == CURVATURE:  # the squared loss with a zero target: r = z (for the Hessian bound)
        for t in range(n):
            L[t] = 0.0
    elif loss == LOGISTIC:
        for t in range(n):
            z = Z[0, t]
            y = Yb[0, t]
            e = exp_neg(-abs(z))
            L[t] = log1p_unit(e) + max(z, 0.0) - y * z
            Z[0, t] = (1.0 if z >= 0 else e) / (1.0 + e) - y
    else:  # MULTINOMIAL: ℓ = log Σ e^z − Σ y z, r = softmax(z) − y
        for t in range(n):
            top = Z[0, t]
            for o in range(1, k):
                top = max(top, Z[o, t])
            total = 0.0
            yz = 0.0
            for o in range(k):
                e = exp_neg(Z[o, t] - top)
                yz += Yb[o, t] * Z[o, t]
                Z[o, t] = e
                total += e
            L[t] = math.log(total) + top - yz
            for o in range(k):
                Z[o, t] = Z[o, t] / total - Yb[o, t]
    if weighted:
        for t in range(n):
            L[t] *= sb[t]
        for o in range(k):
            for t in range(n):
                Z[o, t] *= sb[t]


@numba.njit(fastmath=_FAST, **_OPTS)
def _gather(Y, sw, rows, start, n, Yb, sb, loss, weighted):  # pragma: no cover - compiled
    """Targets and weights of the block's rows into contiguous buffers."""
    k = Yb.shape[0]
    by_index = rows.shape[0] > 0
    for t in range(n):
        i = rows[start + t] if by_index else start + t
        if loss != CURVATURE:
            for o in range(k):
                Yb[o, t] = Y[i, o]
        if weighted:
            sb[t] = sw[i]


@numba.njit(fastmath=_FAST, **_OPTS)
def _forward(X, rows, start, n, Wt, b, Z):  # pragma: no cover - compiled
    """Z[o, t] = b[o] + x_i · W[:, o] for the block's rows i (X C-ordered)."""
    p = X.shape[1]
    by_index = rows.shape[0] > 0
    for t in range(n):
        i = rows[start + t] if by_index else start + t
        for o in range(Wt.shape[0]):
            z = b[o]
            for j in range(p):
                z += X[i, j] * Wt[o, j]
            Z[o, t] = z


@numba.njit(fastmath=_FAST, **_OPTS)
def _backward(X, rows, start, n, Z, acc):  # pragma: no cover - compiled
    """acc[o, :] += Σ_t Z[o, t] x_i for the block's rows i (X C-ordered)."""
    p = X.shape[1]
    by_index = rows.shape[0] > 0
    for t in range(n):
        i = rows[start + t] if by_index else start + t
        for o in range(acc.shape[0]):
            r = Z[o, t]
            for j in range(p):
                acc[o, j] += r * X[i, j]


@numba.njit(fastmath=_FAST, **_OPTS)
def _forward1(X, rows, start, n, w, b, z):  # pragma: no cover - compiled
    """One output: z[t] = b + x_i · w for the block's rows i."""
    p = X.shape[1]
    by_index = rows.shape[0] > 0
    for t in range(n):
        i = rows[start + t] if by_index else start + t
        acc = b
        for j in range(p):
            acc += X[i, j] * w[j]
        z[t] = acc


@numba.njit(fastmath=_FAST, **_OPTS)
def _backward1(X, rows, start, n, r, g):  # pragma: no cover - compiled
    """One output: g += Σ_t r[t] x_i, four rows at a time, so that g is loaded and stored once per four rows."""
    p = X.shape[1]
    by_index = rows.shape[0] > 0
    t = 0
    while t + 4 <= n:
        if by_index:
            x0, x1, x2, x3 = X[rows[start + t]], X[rows[start + t + 1]], X[rows[start + t + 2]], X[rows[start + t + 3]]
        else:
            x0, x1, x2, x3 = X[start + t], X[start + t + 1], X[start + t + 2], X[start + t + 3]
        r0, r1, r2, r3 = r[t], r[t + 1], r[t + 2], r[t + 3]
        for j in range(p):
            g[j] += (r0 * x0[j] + r1 * x1[j]) + (r2 * x2[j] + r3 * x3[j])
        t += 4
    while t < n:
        i = rows[start + t] if by_index else start + t
        rt = r[t]
        for j in range(p):
            g[j] += rt * X[i, j]
        t += 1


@numba.njit(fastmath=_FAST, **_OPTS)
def _pass(X, Y, sw, rows, Wt, b, loss, need_grad, lo, hi, G, gb):  # pragma: no cover - compiled
    """Rows lo..hi of a C-ordered X (or of X[rows]): adds Xᵀr to G (k, p) and Σr to gb (k,); returns Σ sℓ."""
    p = X.shape[1]
    k = Wt.shape[0]
    B = 512
    weighted = sw.shape[0] > 0
    Z = np.empty((k, B))
    Yb = np.empty((k, B))
    sb = np.empty(B)
    L = np.empty(B)
    acc = np.zeros((k, p))
    w1 = Wt[0]
    z1 = Z[0]
    g1 = acc[0]
    value = 0.0
    for start in range(lo, hi, B):
        n = min(B, hi - start)
        if k == 1:
            _forward1(X, rows, start, n, w1, b[0], z1)
        else:
            _forward(X, rows, start, n, Wt, b, Z)
        _gather(Y, sw, rows, start, n, Yb, sb, loss, weighted)
        _residuals(Z, Yb, sb, n, loss, weighted, L)
        for t in range(n):
            value += L[t]
        if need_grad:
            for o in range(k):
                for t in range(n):
                    gb[o] += Z[o, t]
            if k == 1:
                _backward1(X, rows, start, n, z1, g1)
            else:
                _backward(X, rows, start, n, Z, acc)
    if need_grad:
        for o in range(k):
            for j in range(p):
                G[o, j] += acc[o, j]
    return value


@numba.njit(fastmath=_FAST, **_OPTS)
def _pass_rows(X, Y, sw, rows, Wt, b, loss, need_grad, lo, hi, G, gb):  # pragma: no cover - compiled
    """As :func:`_pass`, for one output of the squared loss (or the curvature pass), row by row.

    Each row is used twice while it is in L1 (z = x·w + b, then g += r·x): with
    no transcendental function to vectorise over a block, this reads X at
    the memory's pace.
    """
    p = X.shape[1]
    by_index = rows.shape[0] > 0
    weighted = sw.shape[0] > 0
    w = Wt[0]
    b0 = b[0]
    acc = np.zeros(p)
    value = 0.0
    rsum = 0.0
    for t in range(lo, hi):
        i = rows[t] if by_index else t
        x = X[i]
        z = b0
        for j in range(p):
            z += x[j] * w[j]
        r = z if loss == CURVATURE else z - Y[i, 0]
        s = sw[i] if weighted else 1.0
        value += 0.5 * s * r * r if loss != CURVATURE else 0.0
        r *= s
        rsum += r
        if need_grad:
            for j in range(p):
                acc[j] += r * x[j]
    if need_grad:
        for j in range(p):
            G[0, j] += acc[j]
        gb[0] += rsum
    return value


# ------------------------------------------------------- statistics
@numba.njit(fastmath=_FAST, **_OPTS)
def _moments_c(X, sw, inv, lo, hi, big, total):  # pragma: no cover - compiled
    """Rows lo..hi: big = max |x| per column, total += Σ s·x·inv per column."""
    p = X.shape[1]
    weighted = sw.shape[0] > 0
    for i in range(lo, hi):
        s = sw[i] if weighted else 1.0
        for j in range(p):
            x = X[i, j]
            big[j] = max(big[j], abs(x))
            total[j] += s * (x * inv[j])


@numba.njit(fastmath=_FAST, **_OPTS)
def _variance_c(X, sw, shift, inv, lo, hi, total):  # pragma: no cover - compiled
    """Rows lo..hi: total += Σ s·((x − shift)·inv)² per column."""
    p = X.shape[1]
    weighted = sw.shape[0] > 0
    for i in range(lo, hi):
        s = sw[i] if weighted else 1.0
        for j in range(p):
            d = (X[i, j] - shift[j]) * inv[j]
            total[j] += s * (d * d)


@numba.njit(fastmath=_FAST, **_OPTS)
def _row_norms_c(X, sw, mean, inv, lo, hi, out):  # pragma: no cover - compiled
    """out[0] = max over rows lo..hi of s·‖(x − μ)·inv‖²."""
    p = X.shape[1]
    weighted = sw.shape[0] > 0
    top = out[0]
    for i in range(lo, hi):
        q = 0.0
        for j in range(p):
            d = (X[i, j] - mean[j]) * inv[j]
            q += d * d
        if weighted:
            q *= sw[i]
        top = max(top, q)
    out[0] = top


# ---------------------------------------------------------- threads
_POOL: ThreadPoolExecutor | None = None
_POOL_PID = -1
_POOL_LOCK = threading.Lock()


def n_threads() -> int:
    """Threads for one pass: ``GDLEARN_NUM_THREADS``, else ``OMP_NUM_THREADS``, else the CPUs this process may use."""
    for name in ("GDLEARN_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _pool(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool, made anew after a fork (a forked child has none of its threads)."""
    global _POOL, _POOL_PID
    with _POOL_LOCK:
        if _POOL is None or _POOL_PID != os.getpid() or _POOL._max_workers < workers:
            _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gdlearn-kernel")
            _POOL_PID = os.getpid()
        return _POOL


def _run_split(fn, n_rows: int, nbytes: int, make_out, *args):
    """Call fn(*args, lo, hi, *out) on T contiguous shares of n_rows rows; return the T outs."""
    T = max(1, min(n_threads(), n_rows // _MIN_ROWS_PER_THREAD, nbytes // (1 << 20)))
    cuts = [n_rows * t // T for t in range(T + 1)]
    outs = [make_out() for _ in range(T)]
    if T == 1:
        results = [fn(*args, 0, n_rows, *outs[0])]
    else:
        pool = _pool(T)
        futures = [pool.submit(fn, *args, cuts[t], cuts[t + 1], *outs[t]) for t in range(T)]
        results = [f.result() for f in futures]
    return results, outs


_EMPTY_F = np.empty(0)
_EMPTY_I = np.empty(0, dtype=np.int64)


def loss_sums(X, Y, sw, W, b, loss_id: int, rows=None, need_grad: bool = True):
    """(Σ sᵢℓᵢ, Xᵀr of shape (p, k), Σr of shape (k,)) for the rows of X (all, or ``rows``).

    X: (m, p) float32/float64, C-contiguous.  Y: (m, k) float64 (unused for
    the curvature pass).  sw: (m,) or None.  W: (p, k), b: (k,).
    """
    p, k = W.shape
    Wt = np.ascontiguousarray(W.T, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    swa = _EMPTY_F if sw is None else sw
    idx = _EMPTY_I if rows is None else np.ascontiguousarray(rows, dtype=np.int64)
    Ya = np.empty((0, k)) if loss_id == CURVATURE else Y
    n_rows = X.shape[0] if rows is None else idx.shape[0]
    nbytes = n_rows * p * X.itemsize
    fn = _pass_rows if k == 1 and loss_id in (SQUARED, CURVATURE) else _pass
    values, outs = _run_split(
        fn, n_rows, nbytes, lambda: (np.zeros((k, p)), np.zeros(k)), X, Ya, swa, idx, Wt, b, loss_id, need_grad
    )
    value = float(sum(values))
    if not need_grad:
        return value, None, None
    G = outs[0][0]
    gb = outs[0][1]
    for extra_G, extra_b in outs[1:]:
        G += extra_G
        gb += extra_b
    return value, G.T.copy(), gb


def column_moments(X, sw, inv):
    """(max |x| per column, Σ sᵢ xᵢ·inv per column), both of shape (p,), in one read of X."""
    p = X.shape[1]
    fn = _moments_c
    swa = _EMPTY_F if sw is None else sw
    inv = np.ascontiguousarray(inv, dtype=np.float64)
    _, outs = _run_split(fn, X.shape[0], X.nbytes, lambda: (np.zeros(p), np.zeros(p)), X, swa, inv)
    big = np.max([o[0] for o in outs], axis=0)
    total = np.sum([o[1] for o in outs], axis=0)
    return big, total


def column_variance(X, sw, shift, inv):
    """Σ sᵢ ((xᵢⱼ − shiftⱼ)·invⱼ)² of each column, shape (p,), in one read of X."""
    p = X.shape[1]
    swa = _EMPTY_F if sw is None else sw
    shift = np.ascontiguousarray(shift, dtype=np.float64)
    inv = np.ascontiguousarray(inv, dtype=np.float64)
    _, outs = _run_split(_variance_c, X.shape[0], X.nbytes, lambda: (np.zeros(p),), X, swa, shift, inv)
    return np.sum([o[0] for o in outs], axis=0)


def max_row_norm(X, sw, mean, inv) -> float:
    """max over rows of sᵢ·‖(xᵢ − μ)·inv‖²."""
    fn = _row_norms_c
    swa = _EMPTY_F if sw is None else sw
    mean = np.ascontiguousarray(mean, dtype=np.float64)
    inv = np.ascontiguousarray(inv, dtype=np.float64)
    _, outs = _run_split(fn, X.shape[0], X.nbytes, lambda: (np.zeros(1),), X, swa, mean, inv)
    return float(max(o[0][0] for o in outs))
