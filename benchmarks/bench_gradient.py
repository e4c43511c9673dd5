"""Cost of one loss-and-gradient evaluation against one read of X, peers and the memory limit.

For dense X of a few shapes, float64 and float32, and both losses (half squared
error, binary log loss) it times, side by side in one run and on the same arrays,
one evaluation of J(θ) and ∇J(θ) (value, dW and db):

* gdlearn            ``Objective.value_and_grad(theta, ArraySource(X, Y))``: the path a fit takes
  (the compiled one-pass kernel for X of 1 MiB and more, see ``gdlearn.kernels``);
* gdlearn NumPy      the same objective on gdlearn's NumPy reference kernel (X @ W, then Xᵀ @ r);
* numpy              the plain two-pass code a user would write (value and gradient, intercept
  included): ``z = X @ w + b; r = h(z) - y; X.T @ r / m`` (float32 X is converted to float64
  first, as the user would to get float64 sums);
* torch (optional)   PyTorch CPU autograd on the same memory (``torch.from_numpy``), if installed;

and two references for "one read of X":

* **X @ w**          one matrix-vector product with X in its own dtype (BLAS gemv): the
  issue's unit, the least any method that reads X once can cost with the BLAS at hand;
* **floor**          bytes(X) / the best read bandwidth measured in the same rounds (``np.dot(x, x)``
  on the flattened array, BLAS-threaded, and ``np.sum`` over T contiguous chunks on T threads).

Every method runs under the same thread limit (threadpoolctl for BLAS and OpenMP,
``GDLEARN_NUM_THREADS`` for gdlearn's kernel, ``torch.set_num_threads`` for torch).
By default each case runs with the threads the BLAS has now and, if that is more
than one, also with one thread; ``--threads`` overrides.

Run ``python benchmarks/bench_gradient.py`` (about 2 minutes on 2 cores) or
``--quick`` (a smoke run, seconds).  Prints markdown tables; see
``benchmarks/README.md`` for how to read them.
"""

from __future__ import annotations

import argparse
import os
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
    interleaved,
    load_line,
    machine_lines,
    markdown_table,
    thread_limit,
)
from scipy.special import expit

from gdlearn.data.source import ArraySource
from gdlearn.kernels import reference
from gdlearn.losses import BinaryLogLoss, HalfSquaredError
from gdlearn.objective import Objective

FULL_SIZES = [(500_000, 100), (1_000_000, 50), (100_000, 500)]
QUICK_SIZES = [(20_000, 100), (40_000, 50), (4_000, 500)]
LOSSES = ("squared", "log")
DTYPES = ("float64", "float32")


class ReferenceSource(ArraySource):
    """An ArraySource read by gdlearn's NumPy reference kernel whatever its size."""

    def loss_sums(self, loss, W, b, *, rows=None, need_grad=True, hessian=None):
        return reference.loss_sums(self.X, self.Y, self.sample_weight, W, b, loss, need_grad=need_grad)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        m, _, p = part.lower().partition("x")
        out.append((int(float(m)), int(float(p))))
    return out


# ------------------------------------------------------------------- data
def make_case(m: int, p: int, seed: int = 0):
    """X ~ N(0, 1) (m, p) float64, theta with scores z ~ N(0.1, 1), targets for both losses."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, p))
    w = rng.standard_normal(p) / np.sqrt(p)
    b = 0.1
    z = X @ w + b
    y_reg = z + 0.5 * rng.standard_normal(m)
    y_clf = (rng.random(m) < expit(z)).astype(float)
    theta = np.append(w * 0.5, b).reshape(-1, 1)  # away from the optimum: a typical iterate
    return X, {"squared": y_reg, "log": y_clf}, theta


# ------------------------------------------------------------------ methods
def gdlearn_method(X, y, loss_name, theta, numpy_kernel=False):
    loss = HalfSquaredError() if loss_name == "squared" else BinaryLogLoss()
    data = (ReferenceSource if numpy_kernel else ArraySource)(X, y.reshape(-1, 1))
    obj = Objective(loss, penalty_norm=data.weight_sum)

    def run():
        value, grad = obj.value_and_grad(theta, data)
        return value, grad[:, 0]

    return run


def numpy_method(X, y, loss_name, theta):
    """The plain numpy two-pass code: value and gradient (with intercept) of the mean loss."""
    m = X.shape[0]
    w, b = theta[:-1, 0].copy(), float(theta[-1, 0])
    if X.dtype != np.float64:
        X = X.astype(np.float64)  # a user's float64 sums: the conversion is part of the cost (made once here)

    if loss_name == "squared":

        def run():
            r = X @ w + b - y
            return 0.5 * (r @ r) / m, np.append(X.T @ r, r.sum()) / m

    else:

        def run():
            z = X @ w + b
            value = np.mean(np.logaddexp(0.0, z) - y * z)
            r = expit(z) - y
            return value, np.append(X.T @ r, r.sum()) / m

    return run


def torch_method(torch, X, y, loss_name, theta):
    """PyTorch CPU autograd on the same memory: loss.backward() gives the gradient."""
    F = torch.nn.functional
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y)
    w = torch.tensor(theta[:-1, 0], requires_grad=True)
    b = torch.tensor(theta[-1, 0], requires_grad=True)

    def run():
        w.grad = None
        b.grad = None
        z = Xt @ w + b
        if loss_name == "squared":
            loss = 0.5 * torch.mean((z - yt) ** 2)
        else:
            loss = F.binary_cross_entropy_with_logits(z, yt)
        loss.backward()
        return loss.detach().item(), np.append(w.grad.numpy(), b.grad.item())

    return run


# -------------------------------------------------------------- bandwidth
def bandwidth_kernels(X, threads: int, pool: ThreadPoolExecutor) -> dict:
    """Read-only kernels over X's memory: a BLAS dot and a T-thread numpy sum."""
    flat = X.reshape(-1)
    chunks = np.array_split(flat, threads)

    def dot():
        return float(np.dot(flat, flat))

    def tsum():
        if threads == 1:
            return float(np.sum(flat))
        return float(sum(pool.map(np.sum, chunks)))

    return {f"read: np.dot(x, x), BLAS {threads}T": dot, f"read: np.sum, {threads} thread(s)": tsum}


def check_agreement(results: dict, label: str, dtype: str) -> None:
    """Every method must give the same value and gradient as gdlearn's reference path."""
    v0, g0 = results["gdlearn NumPy"]
    scale = max(np.abs(g0).max(), 1e-300)
    rtol = 1e-9 if dtype == "float64" else 1e-5  # torch sums float32 X in float32
    for name, (v, g) in results.items():
        if not (np.isclose(v, v0, rtol=rtol, atol=0) and np.allclose(g, g0, rtol=100 * rtol, atol=rtol * scale)):
            raise AssertionError(f"{label}: {name} disagrees with gdlearn's NumPy kernel (value {v} vs {v0})")


# ------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: small arrays, 3 repetitions")
    ap.add_argument("--sizes", help="comma-separated MxP shapes, e.g. 100000x100,1000000x20")
    ap.add_argument("--reps", type=int, help="timed repetitions per method (default 9; quick: 3)")
    ap.add_argument(
        "--threads",
        help="comma-separated thread counts (default: the BLAS's current count, then 1 if that is more)",
    )
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch peer even if installed")
    add_wait_quiet(ap)
    args = ap.parse_args(argv)
    apply_wait_quiet(args)

    sizes = parse_sizes(args.sizes) if args.sizes else (QUICK_SIZES if args.quick else FULL_SIZES)
    reps = args.reps or (3 if args.quick else 9)
    if args.threads:
        thread_list = [int(t) for t in args.threads.split(",")]
    else:
        t0 = default_threads()
        thread_list = [t0] if (args.quick or t0 == 1) else [t0, 1]

    torch = None
    versions = {}
    if not args.no_torch:
        try:
            import torch  # noqa: F401  (an optional peer; never a gdlearn dependency)

            versions["torch"] = torch.__version__
        except ImportError:
            torch = None
    versions["threads measured"] = ",".join(map(str, thread_list))

    t_start = time.perf_counter()
    print("# gdlearn gradient benchmark: one loss-and-gradient evaluation\n")
    print("\n".join(machine_lines(versions)))
    print(
        f"- repetitions: {reps} timed rounds after 1 warm-up; each round calls every method and read "
        "kernel of one (X, threads) case once, in rotating order; wall-clock times"
    )
    print(f"- at start: {load_line()}")
    if torch is None:
        print("- torch: not installed (pip install torch to add the peer)")
    print()

    pool = ThreadPoolExecutor(max(thread_list))
    contention = Contention()
    main_rows, bw_rows, summary = [], [], []
    for m, p in sizes:
        X64, ys, theta = make_case(m, p)
        for dtype in DTYPES:
            X = X64 if dtype == "float64" else X64.astype(np.float32)
            shape = f"{m:,}×{p} {dtype} ({X.nbytes / 1e6:.0f} MB)"
            w_read = theta[:-1, 0].astype(X.dtype)
            for threads in thread_list:
                os.environ["GDLEARN_NUM_THREADS"] = str(threads)
                # one interleaved set per (X, threads): the read kernels and every method of both losses
                # run in the same rounds, so the floor and the methods see the same machine
                reads = bandwidth_kernels(X, threads, pool)
                calls = dict(reads)
                calls["X @ w"] = lambda X=X, w=w_read: X @ w
                for loss_name in LOSSES:
                    y = ys[loss_name]
                    calls[(loss_name, "gdlearn")] = gdlearn_method(X, y, loss_name, theta)
                    calls[(loss_name, "gdlearn NumPy")] = gdlearn_method(X, y, loss_name, theta, numpy_kernel=True)
                    calls[(loss_name, "numpy")] = numpy_method(X, y, loss_name, theta)
                    if torch is not None:
                        calls[(loss_name, "torch")] = torch_method(torch, X, y, loss_name, theta)
                with thread_limit(threads):
                    out = interleaved(calls, reps)
                floor = min(out[name][0].median for name in reads)  # one read of X at the best bandwidth
                xw = out["X @ w"][0].median
                for name in (*reads, "X @ w"):
                    t = out[name][0]
                    label = name[6:] if name.startswith("read: ") else name
                    bw_rows.append(
                        [
                            shape,
                            threads,
                            label,
                            fmt_ms(t.median),
                            fmt_ms(t.min),
                            fmt_ms(t.max),
                            f"{X.nbytes / t.median / 1e9:.1f}",
                        ]
                    )
                for loss_name in LOSSES:
                    timings = {k[1]: t for k, (t, _) in out.items() if isinstance(k, tuple) and k[0] == loss_name}
                    results = {k[1]: r for k, (_, r) in out.items() if isinstance(k, tuple) and k[0] == loss_name}
                    check_agreement(results, f"{shape} {loss_name}", dtype)
                    ref = timings["numpy"].median
                    for name, t in timings.items():
                        main_rows.append(
                            [
                                shape,
                                loss_name,
                                threads,
                                name,
                                fmt_ms(t.median),
                                fmt_ms(t.min),
                                fmt_ms(t.max),
                                f"{X.nbytes / t.median / 1e9:.1f}",
                                fmt_ratio(t.median / xw),
                                fmt_ratio(t.median / floor),
                                fmt_ratio(t.median / ref),
                            ]
                        )
                    ours = timings["gdlearn"].median
                    summary.append(
                        [
                            shape,
                            loss_name,
                            threads,
                            fmt_ms(xw),
                            fmt_ms(floor),
                            fmt_ms(ours),
                            fmt_ms(ref),
                            fmt_ms(timings["torch"].median) if "torch" in timings else "–",
                            fmt_ratio(ours / xw),
                            fmt_ratio(ours / floor),
                            fmt_ratio(ours / ref),
                        ]
                    )
            del X
        del X64, ys
    os.environ.pop("GDLEARN_NUM_THREADS", None)

    print("## Summary (medians, ms)\n")
    print(
        "X @ w = one read of X by BLAS gemv; floor = bytes(X) / best read bandwidth; "
        "ratios divide gdlearn's time by each.\n"
    )
    print(
        markdown_table(
            [
                "X",
                "loss",
                "threads",
                "X @ w",
                "floor",
                "gdlearn",
                "numpy",
                "torch",
                "÷ X @ w",
                "÷ floor",
                "÷ numpy",
            ],
            summary,
            right={2, 3, 4, 5, 6, 7, 8, 9, 10},
        )
    )
    print("\n## All methods\n")
    print("GB/s = bytes(X) / median time; the ratios compare medians (lower is faster).\n")
    print(
        markdown_table(
            [
                "X",
                "loss",
                "threads",
                "method",
                "median ms",
                "min ms",
                "max ms",
                "GB/s",
                "÷ X @ w",
                "÷ floor",
                "÷ numpy",
            ],
            main_rows,
            right={2, 4, 5, 6, 7, 8, 9, 10},
        )
    )
    print("\n## Reads of X (read-only kernels and X @ w over the same X; the floor is the faster read)\n")
    print(
        markdown_table(
            ["X", "threads", "kernel", "median ms", "min ms", "max ms", "GB/s"], bw_rows, right={1, 3, 4, 5, 6}
        )
    )
    print("\nAll methods agree (float64: value rtol 1e-9, gradient rtol 1e-7; float32: 1e-5 and 1e-3).")
    print(f"Total time {time.perf_counter() - t_start:.0f} s; {contention.summary()}.")
    pool.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
