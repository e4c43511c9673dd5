"""Prototype of a faster fused gradient kernel, measured against gdlearn's current one (not part of gdlearn).

``gdlearn._kernels.blocked_forward_backward`` walks X in 256 KiB row blocks and
calls the reference ``forward_backward`` on each.  On a 2-core Zen 4 this measured
4-15x the memory-bandwidth floor (``bench_gradient.py``).  This script isolates
the causes with an ablation, each variant checked against the reference path:

* ``current``             the kernel as it is (``Objective(fused=True)``);
* ``+1 MiB blocks``       the same code with ``_BLOCK_BYTES = 1 << 20``: fewer blocks, so
  less per-block Python/numpy overhead (3,077 blocks of 65 rows at p = 500 today);
* ``+shared-exp log loss`` the same code with a log loss that computes e = exp(−|z|) once
  (numpy's SIMD exp/log1p) for both the loss and σ(z), instead of scipy's
  ``log_expit`` twice plus ``expit``;
* ``lean loop``           a rewritten block loop: one preallocated score buffer, the
  residual formed in place, fast paths for both losses, 1 MiB blocks;
* ``lean loop, T threads`` the lean loop on T worker threads, each on a contiguous share of
  the rows, with the BLAS limited to one thread inside (threadpoolctl).  Level-2 BLAS
  calls on many threads are slow and erratic on this machine (see BENCHMARKS.md);
  this keeps all parallelism in one place and also spreads the elementwise loss work;
* ``compiled one-pass (numba)`` (only when numba is importable): the fused pass written
  row by row, so each row of X is used twice while it is in L1; it shows what a
  compiled kernel behind ``_kernels`` would reach.  numba is not a gdlearn dependency:
  ``pip install numba`` in a scratch environment, or put it on PYTHONPATH.

A second table compares float32 with float64 (numpy two-pass and the lean loop):
half the bytes, so half the floor.

A third table times the preconditioner's column statistics (run once per fit)
against a blocked version with the same results.

Run ``python benchmarks/proto_kernel.py`` (about 1 minute) or ``--quick``.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from _common import (
    Contention,
    add_wait_quiet,
    apply_wait_quiet,
    default_threads,
    fmt_ms,
    fmt_ratio,
    fmt_s,
    interleaved,
    markdown_table,
    with_threads,
)
from scipy.special import expit

from gdlearn import _kernels
from gdlearn.losses import BinaryLogLoss, HalfSquaredError
from gdlearn.objective import Objective

try:  # the preconditioner's statistics (their signature has changed before; only X is passed)
    from gdlearn.preconditioning import column_stats
except ImportError:  # pragma: no cover
    column_stats = None

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover
    ThreadpoolController = None


# ----------------------------------------------------------- the proposal
class SharedExpLogLoss(BinaryLogLoss):
    """BinaryLogLoss with numpy's vectorised exp/log1p and e = exp(−|z|) shared (same numbers)."""

    def pointwise(self, y, z):
        y, z = y[:, 0], z[:, 0]
        e = np.exp(-np.abs(z))
        out = np.log1p(e)  # log(1 + e^{−|z|}) + max(z, 0) − y z  =  −y log σ(z) − (1 − y) log σ(−z)
        out += np.maximum(z, 0.0)
        out -= y * z
        return out

    def inverse_link(self, z):
        e = np.exp(-np.abs(z))
        s = np.where(z >= 0, 1.0, e)
        s /= 1.0 + e
        return s


def value_and_residual(loss, Y, z, sw):
    """Σ sᵢℓᵢ, and z overwritten by r = s ⊙ (h(z) − Y).  Fast paths for the two binary/scalar losses."""
    if isinstance(loss, HalfSquaredError):
        z -= Y
        if sw is None:
            value = 0.5 * float(np.vdot(z, z))
        else:
            value = 0.5 * float(np.einsum("ij,ij,i->", z, z, sw))
            z *= sw[:, None]
        return value
    if isinstance(loss, BinaryLogLoss):
        e = np.abs(z)
        np.negative(e, out=e)
        np.exp(e, out=e)  # e = exp(−|z|) ∈ (0, 1]
        ell = np.log1p(e)
        ell += np.maximum(z, 0.0)
        ell -= Y * z
        value = float(ell.sum()) if sw is None else float(ell[:, 0] @ sw)
        np.add(e, 1.0, out=ell)  # ell = 1 + e
        np.copyto(e, 1.0, where=z >= 0)  # σ(z) = 1/(1+e) for z ≥ 0, e/(1+e) otherwise
        np.divide(e, ell, out=z)
        z -= Y
        if sw is not None:
            z *= sw[:, None]
        return value
    # any other loss: the reference formulas
    ell = loss.pointwise(Y, z)
    value = float(ell.sum()) if sw is None else float(ell @ sw)
    r = loss.inverse_link(z)
    r -= Y
    if sw is not None:
        r *= sw[:, None]
    z[...] = r
    return value


def lean_blocked(X, Y, W, b, sw, loss, need_grad=True, block_bytes=1 << 20):
    """One pass over X in row blocks; one score buffer reused; same result as forward_backward."""
    m, p = X.shape
    rows = max(256, block_bytes // max(1, X.itemsize * p))
    k = W.shape[1]
    zbuf = np.empty((min(rows, m), k), dtype=np.result_type(X, W))
    value = 0.0
    gW = np.zeros((p, k), dtype=zbuf.dtype)
    gb = np.zeros(k, dtype=zbuf.dtype)
    for s in range(0, m, rows):
        Xb = X[s : s + rows]
        z = zbuf[: Xb.shape[0]]
        np.matmul(Xb, W, out=z)
        z += b
        value += value_and_residual(loss, Y[s : s + rows], z, None if sw is None else sw[s : s + rows])
        if need_grad:
            gW += Xb.T @ z
            gb += z.sum(axis=0)
    return value, gW, gb


class ThreadedKernel:
    """lean_blocked on T threads over contiguous row shares, BLAS limited to 1 thread inside."""

    def __init__(self, n_threads: int, block_bytes: int = 1 << 19) -> None:
        self.n_threads = n_threads
        self.block_bytes = block_bytes
        self.pool = ThreadPoolExecutor(n_threads)
        self.ctl = ThreadpoolController() if ThreadpoolController is not None else None

    def __call__(self, X, Y, W, b, sw, loss, need_grad=True):
        m = X.shape[0]
        T = self.n_threads
        if T == 1 or X.nbytes < (8 << 20):  # small X: threads cost more than they save
            return lean_blocked(X, Y, W, b, sw, loss, need_grad, self.block_bytes)
        cuts = np.linspace(0, m, T + 1).astype(int)

        def part(i):
            sl = slice(cuts[i], cuts[i + 1])
            return lean_blocked(X[sl], Y[sl], W, b, None if sw is None else sw[sl], loss, need_grad, self.block_bytes)

        if self.ctl is not None:
            with self.ctl.limit(limits=1, user_api="blas"):
                parts = list(self.pool.map(part, range(T)))
        else:
            parts = list(self.pool.map(part, range(T)))
        value = sum(p[0] for p in parts)
        if not need_grad:
            return value, None, None
        return value, sum(p[1] for p in parts), sum(p[2] for p in parts)


def objective_with_kernel(X, Y, loss, kernel):
    obj = Objective(X, Y, loss)
    obj._kernel = kernel  # the one line the proposal changes in Objective.__init__
    return obj


def blocked_column_moments(X, sample_weight=None, block_bytes=1 << 20):
    """The three passes of ``preconditioning.column_stats`` (dense X), without a full-size temporary.

    Returns (big, mean_n, sq_n): max|x| per column, and the weighted mean and
    E[(x/big − mean_n)²] of the max-abs-scaled columns, which is what
    ``column_stats`` computes before it forms μ and σ.  Blocks of ~1 MiB stay in
    L2, and the caller runs this with the BLAS limited to one thread, so that
    each ``w @ block`` is a plain single-threaded gemv.
    """
    n, p = X.shape
    w = np.full(n, 1.0 / n) if sample_weight is None else sample_weight / np.sum(sample_weight)
    rows = max(64, block_bytes // max(1, 8 * p))
    big = np.zeros(p)
    for s in range(0, n, rows):
        np.maximum(big, np.abs(X[s : s + rows]).max(axis=0), out=big)
    big = np.where(big > 0, big, 1.0)
    inv = 1.0 / big
    mean_n = np.zeros(p)
    for s in range(0, n, rows):
        mean_n += w[s : s + rows] @ (X[s : s + rows] * inv)
    sq_n = np.zeros(p)
    for s in range(0, n, rows):
        d = X[s : s + rows] * inv
        d -= mean_n
        d *= d
        sq_n += w[s : s + rows] @ d
    return big, mean_n, sq_n


# -------------------------------------------- a compiled one-pass kernel (numba, optional)
try:  # only for this prototype: pip install numba (or put it on PYTHONPATH); never a gdlearn dependency
    import numba
except ImportError:
    numba = None


def _make_compiled():
    from math import exp, log1p

    @numba.njit(parallel=True, fastmath={"reassoc", "contract", "nsz"}, cache=False)
    def one_pass(X, y, w, b, is_log, nchunks):  # pragma: no cover - compiled
        m, p = X.shape
        G = np.zeros((nchunks, p + 1))
        V = np.zeros(nchunks)
        for c in numba.prange(nchunks):
            lo = c * m // nchunks
            hi = (c + 1) * m // nchunks
            g = np.zeros(p + 1)
            v = 0.0
            for i in range(lo, hi):  # the row stays in L1 between its two uses
                z = b
                for j in range(p):
                    z += X[i, j] * w[j]
                if is_log:
                    e = exp(-abs(z))
                    v += log1p(e) + max(z, 0.0) - y[i] * z
                    r = (1.0 if z >= 0 else e) / (1.0 + e) - y[i]
                else:
                    r = z - y[i]
                    v += 0.5 * r * r
                g[p] += r
                for j in range(p):
                    g[j] += r * X[i, j]
            G[c] = g
            V[c] = v
        return V.sum(), G.sum(axis=0)

    return one_pass


_COMPILED = None
_CURRENT_KERNEL = _kernels.blocked_forward_backward


class CompiledKernel:
    """Row-by-row fused pass (z_i = x_i·w + b, r_i, then g += r_i x_i while x_i is in L1) on T threads.

    Handles one output without sample weights for the two losses; anything else
    falls back to gdlearn's kernel.
    """

    def __init__(self, n_threads: int) -> None:
        global _COMPILED
        self.n_threads = n_threads
        if _COMPILED is None:
            _COMPILED = _make_compiled()

    def __call__(self, X, Y, W, b, sw, loss, need_grad=True):
        known = isinstance(loss, (HalfSquaredError, BinaryLogLoss))
        if sw is not None or W.shape[1] != 1 or not known or not X.flags.c_contiguous:
            return _CURRENT_KERNEL(X, Y, W, b, sw, loss, need_grad)
        numba.set_num_threads(self.n_threads)
        value, g = _COMPILED(X, Y[:, 0], W[:, 0], float(b[0]), isinstance(loss, BinaryLogLoss), self.n_threads)
        return value, g[:-1].reshape(-1, 1), g[-1:]


# ----------------------------------------------------------------- the run
def with_block_bytes(nbytes):
    def kernel(*args, **kw):
        old = _kernels._BLOCK_BYTES
        _kernels._BLOCK_BYTES = nbytes
        try:
            return _kernels.blocked_forward_backward(*args, **kw)
        finally:
            _kernels._BLOCK_BYTES = old

    return kernel


def fit_effect(quick: bool, reps: int, threaded) -> list[list]:
    """Whole fits (bench_fit.py's synthetic problem) with gdlearn's fused kernel swapped for a prototype."""
    from bench_fit import synthetic

    from gdlearn import LinearRegression, LogisticRegression

    X, y_reg, y_clf = synthetic(20_000 if quick else 200_000)
    T = threaded.n_threads
    kernels = {"current": _CURRENT_KERNEL, "lean loop": lean_blocked}
    if numba is not None:
        kernels[f"compiled one-pass (numba), {T} thread(s)"] = CompiledKernel(T)
    rows = []
    for task, make, y in (
        ("LinearRegression()", LinearRegression, y_reg),
        ("LogisticRegression(l2=1)", lambda: LogisticRegression(l2=1.0), y_clf),
    ):
        calls = {}
        for name, kernel in kernels.items():

            def fit(kernel=kernel, make=make, y=y):
                _kernels.blocked_forward_backward = kernel  # what Objective(fused=True) picks up
                try:
                    return make().fit(X, y)
                finally:
                    _kernels.blocked_forward_backward = _CURRENT_KERNEL

            calls[name] = fit
        out = interleaved(calls, reps)
        base = out["current"][0].median
        coef0 = np.ravel(out["current"][1].coef_)
        for name, (t, est) in out.items():
            assert np.allclose(np.ravel(est.coef_), coef0, rtol=1e-4, atol=1e-6), name
            rows.append(
                [f"{X.shape[0]:,}×{X.shape[1]}", task, name, fmt_s(t.median), est.n_iter_, fmt_ratio(base / t.median)]
            )
    return rows


def blas_threading_check(reps: int, T: int) -> list[list]:
    """Level-2 BLAS on a few MB (what a block loop or column statistics calls) on 1 and T threads."""
    rng = np.random.default_rng(1)
    rows = []
    for m, p in ((2_000, 100), (6_000, 100), (4_000, 500)):
        X = rng.standard_normal((m, p))
        w = rng.standard_normal(p)
        r = rng.standard_normal(m)
        calls = {}
        for t in sorted({1, T}):
            calls[(t, "X @ w")] = with_threads(lambda X=X, w=w: X @ w, t)
            calls[(t, "X.T @ r")] = with_threads(lambda X=X, r=r: X.T @ r, t)
        out = interleaved(calls, reps)
        for (t, name), (timing, _) in out.items():
            rows.append(
                [
                    f"{m:,}×{p} ({X.nbytes / 2**20:.1f} MiB)",
                    name,
                    t,
                    f"{timing.median * 1e6:.0f}",
                    f"{timing.max * 1e6:.0f}",
                ]
            )
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: small arrays, 3 rounds")
    ap.add_argument("--reps", type=int, help="timed rounds (default 9; quick: 3)")
    add_wait_quiet(ap)
    args = ap.parse_args(argv)
    apply_wait_quiet(args)
    sizes = [(20_000, 100), (10_000, 500)] if args.quick else [(100_000, 100), (1_000_000, 20), (200_000, 500)]
    reps = args.reps or (3 if args.quick else 9)
    T = default_threads()
    threaded = ThreadedKernel(T)
    rng = np.random.default_rng(0)
    rows, rows32, rows_cs = [], [], []
    contention = Contention()
    t_start = time.perf_counter()
    for m, p in sizes:
        X = rng.standard_normal((m, p))
        w = rng.standard_normal(p) / np.sqrt(p)
        z = X @ w + 0.1
        ys = {"squared": (z + 0.5 * rng.standard_normal(m)).reshape(-1, 1)}
        ys["log"] = (rng.random(m) < expit(z)).astype(float).reshape(-1, 1)
        theta = np.append(w * 0.5, 0.1).reshape(-1, 1)
        shape = f"{m:,}×{p}"
        flat = X.reshape(-1)
        for loss_name, y in ys.items():
            loss = HalfSquaredError() if loss_name == "squared" else BinaryLogLoss()
            ref = Objective(X, y, loss, fused=False).value_and_grad(theta)
            variants = {
                "current": Objective(X, y, loss),
                "+1 MiB blocks": objective_with_kernel(X, y, loss, with_block_bytes(1 << 20)),
                "+shared-exp log loss": Objective(X, y, SharedExpLogLoss()) if loss_name == "log" else None,
                "lean loop": objective_with_kernel(X, y, loss, lean_blocked),
            }
            calls = {"floor": with_threads(lambda flat=flat: float(np.dot(flat, flat)), 1)}
            for bt in sorted({1, T}):
                for name, obj in variants.items():
                    if obj is not None:
                        calls[(bt, name)] = with_threads(lambda obj=obj, th=theta: obj.value_and_grad(th), bt)
            lean_t = objective_with_kernel(X, y, loss, threaded)
            if numba is not None:
                for nt in sorted({1, T}):
                    obj_c = objective_with_kernel(X, y, loss, CompiledKernel(nt))
                    calls[(nt, f"compiled one-pass (numba), {nt} thread(s)")] = with_threads(
                        lambda obj=obj_c, th=theta: obj.value_and_grad(th), nt
                    )
            calls[(T, f"lean loop, {T} worker threads")] = with_threads(
                lambda obj=lean_t, th=theta: obj.value_and_grad(th), T
            )
            out = interleaved(calls, reps)
            floor = out.pop("floor")[0].median
            for (bt, name), (t, (v, g)) in out.items():
                assert np.isclose(v, ref[0], rtol=1e-10) and np.allclose(g, ref[1], rtol=1e-8, atol=1e-12), name
                base = out[(bt, "current")][0].median
                rows.append(
                    [
                        shape,
                        loss_name,
                        bt,
                        name,
                        fmt_ms(t.median),
                        fmt_ms(t.min),
                        fmt_ms(t.max),
                        fmt_ratio(t.median / floor),
                        fmt_ratio(base / t.median),
                    ]
                )
        # float32: half the bytes, half the floor
        X32, th32 = X.astype(np.float32), theta.astype(np.float32)
        calls = {}
        for dtype, XX, th in (("float64", X, theta), ("float32", X32, th32)):
            yy = ys["squared"].astype(XX.dtype)
            ff = XX.reshape(-1)
            calls[(dtype, "floor")] = with_threads(lambda ff=ff: float(np.dot(ff, ff)), 1)
            w1, b1 = th[:-1, 0].copy(), th[-1, 0]

            def npy(XX=XX, yy=yy, w1=w1, b1=b1):
                r = XX @ w1 + b1 - yy[:, 0]
                return XX.T @ r

            obj = objective_with_kernel(XX, yy, HalfSquaredError(), lean_blocked)
            calls[(dtype, "numpy two-pass, 1 thread")] = with_threads(npy, 1)
            calls[(dtype, "lean loop, 1 thread")] = with_threads(lambda o=obj, th=th: o.value_and_grad(th), 1)
        out = interleaved(calls, reps)
        for (dtype, name), (t, _) in out.items():
            if name != "floor":
                fl = out[(dtype, "floor")][0].median
                rows32.append([shape, dtype, name, fmt_ms(fl), fmt_ms(t.median), fmt_ratio(t.median / fl)])
        # the preconditioner's column statistics (run once per fit)
        if column_stats is not None:
            ref_mean, ref_scale = column_stats(X)[:2]
            big, mean_n, sq_n = blocked_column_moments(X)
            assert np.allclose(mean_n * big, ref_mean, rtol=1e-12, atol=1e-14)
            assert np.allclose(np.sqrt(sq_n) * big, ref_scale, rtol=1e-12)
            calls = {"floor": with_threads(lambda flat=flat: float(np.dot(flat, flat)), 1)}
            for bt in sorted({1, T}):
                calls[(bt, "column_stats (current)")] = with_threads(lambda X=X: column_stats(X), bt)
            calls[(1, "blocked, 1 MiB, no full temporary")] = with_threads(lambda X=X: blocked_column_moments(X), 1)
            out = interleaved(calls, max(3, reps // 2))
            fl = out.pop("floor")[0].median
            for (bt, name), (t, _) in out.items():
                rows_cs.append([shape, bt, name, fmt_ms(fl), fmt_ms(t.median), fmt_ratio(t.median / fl)])
        del X, X32, flat

    print(f"## Fused-kernel ablation (median ms of {reps} interleaved rounds)\n")
    print(
        "threads = BLAS threads; floor = np.dot(x, x) on one thread, in the same rounds; "
        "speed-up = `current` ÷ variant at the same BLAS threads.\n"
    )
    print(
        markdown_table(
            ["X", "loss", "threads", "variant", "median ms", "min", "max", "÷ floor", "speed-up"],
            rows,
            right={2, 4, 5, 6, 7, 8},
        )
    )
    print("\n## float32 against float64 (squared loss; floor = np.dot(x, x) of that dtype, one thread)\n")
    print(markdown_table(["X", "dtype", "method", "floor ms", "median ms", "÷ floor"], rows32, right={3, 4, 5}))
    fit_rows = fit_effect(args.quick, max(3, reps // 2), threaded)
    blas_rows = blas_threading_check(max(5, reps), T)
    if rows_cs:
        print("\n## Preconditioner column statistics, once per fit (floor = one read of X, one thread)\n")
        print(
            markdown_table(["X", "threads", "method", "floor ms", "median ms", "÷ floor"], rows_cs, right={1, 3, 4, 5})
        )
    print("\n## Effect on whole fits (synthetic problem of bench_fit.py; the kernel swapped in for Objective)\n")
    print(markdown_table(["X", "estimator", "kernel", "median s", "iters", "speed-up"], fit_rows, right={3, 4, 5}))
    print("\n## OpenBLAS level-2 calls on 1 and T threads (X in cache, median and max µs)\n")
    print(markdown_table(["X", "call", "threads", "median µs", "max µs"], blas_rows, right={2, 3, 4}))
    print(f"\nAll variants agree with the reference path. Total time {time.perf_counter() - t_start:.0f} s;")
    print(f"{contention.summary()}.")
    threaded.pool.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
