"""Cost of one full gradient pass, ``Objective.value_and_grad(theta)``, against peers and the memory limit.

For dense float64 X of a few shapes and both losses (half squared error, binary
log loss) it times, side by side in one run and on the same arrays:

* gdlearn fused      ``Objective(X, Y, loss, fused=True)``: the blocked one-pass kernel;
* gdlearn two-pass   ``Objective(..., fused=False)``: the reference path (X @ W, then Xᵀ @ r);
* numpy              the plain two-pass code a user would write (value and gradient, intercept
  included): ``z = X @ w + b; r = h(z) - y; X.T @ r / m``;
* torch (optional)   PyTorch CPU autograd on the same memory (``torch.from_numpy``), if installed;

and the memory-bandwidth floor: the best of two read-only kernels over the same X
(``np.dot(x, x)`` on the flattened array, BLAS-threaded; and ``np.sum`` over T
contiguous chunks on T threads), so that floor = bytes(X) / bandwidth is the time
of one read of X.  A gradient must read all of X at least once, so no method can
beat the floor by much (a little, when part of X is still in the last-level cache).

Every method runs under the same thread limit (threadpoolctl for BLAS and OpenMP,
``torch.set_num_threads`` for torch).  By default each case runs with the threads
the BLAS has now (OMP_NUM_THREADS / OPENBLAS_NUM_THREADS are respected) and, if
that is more than one, also with one thread; ``--threads`` overrides.

Run ``python benchmarks/bench_gradient.py`` (about 30 s on 2 cores) or
``--quick`` (a smoke run, seconds).  Prints markdown tables; see
``benchmarks/README.md`` for how to read them.
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
    interleaved,
    load_line,
    machine_lines,
    markdown_table,
    thread_limit,
)
from scipy.special import expit

from gdlearn.losses import BinaryLogLoss, HalfSquaredError
from gdlearn.objective import Objective

FULL_SIZES = [(100_000, 100), (1_000_000, 20), (200_000, 500)]
QUICK_SIZES = [(20_000, 100), (100_000, 20), (10_000, 500)]
LOSSES = ("squared", "log")


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
def gdlearn_method(X, y, loss_name, theta, fused):
    loss = HalfSquaredError() if loss_name == "squared" else BinaryLogLoss()
    obj = Objective(X, y.reshape(-1, 1), loss, fused=fused)

    def run():
        value, grad = obj.value_and_grad(theta)
        return value, grad[:, 0]

    return run


def numpy_method(X, y, loss_name, theta):
    """The plain numpy two-pass code: value and gradient (with intercept) of the mean loss."""
    m = X.shape[0]
    w, b = theta[:-1, 0].copy(), float(theta[-1, 0])

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


def check_agreement(results: dict, label: str) -> None:
    """Every method must give the same value and gradient as gdlearn's reference path."""
    v0, g0 = results["gdlearn two-pass"]
    scale = max(np.abs(g0).max(), 1e-300)
    for name, (v, g) in results.items():
        if not (np.isclose(v, v0, rtol=1e-9, atol=0) and np.allclose(g, g0, rtol=1e-7, atol=1e-9 * scale)):
            raise AssertionError(f"{label}: {name} disagrees with gdlearn two-pass (value {v} vs {v0})")


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
    print("# gdlearn gradient benchmark: one value_and_grad(theta) pass\n")
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
        X, ys, theta = make_case(m, p)
        shape = f"{m:,}×{p} ({X.nbytes / 1e6:.0f} MB)"
        for threads in thread_list:
            # one interleaved set per (X, threads): the read kernels and every method of both losses
            # run in the same rounds, so the floor and the methods see the same machine
            reads = bandwidth_kernels(X, threads, pool)
            calls = dict(reads)
            for loss_name in LOSSES:
                y = ys[loss_name]
                calls[(loss_name, "gdlearn fused")] = gdlearn_method(X, y, loss_name, theta, fused=True)
                calls[(loss_name, "gdlearn two-pass")] = gdlearn_method(X, y, loss_name, theta, fused=False)
                calls[(loss_name, "numpy")] = numpy_method(X, y, loss_name, theta)
                if torch is not None:
                    calls[(loss_name, "torch")] = torch_method(torch, X, y, loss_name, theta)
            with thread_limit(threads):
                out = interleaved(calls, reps)
            floor = min(out[name][0].median for name in reads)  # one read of X at the best bandwidth
            for name in reads:
                t = out[name][0]
                bw_rows.append(
                    [
                        shape,
                        threads,
                        name[6:],
                        fmt_ms(t.median),
                        fmt_ms(t.min),
                        fmt_ms(t.max),
                        f"{X.nbytes / t.median / 1e9:.1f}",
                    ]
                )
            for loss_name in LOSSES:
                timings = {k[1]: t for k, (t, _) in out.items() if isinstance(k, tuple) and k[0] == loss_name}
                results = {k[1]: r for k, (_, r) in out.items() if isinstance(k, tuple) and k[0] == loss_name}
                check_agreement(results, f"{shape} {loss_name}")
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
                            fmt_ratio(t.median / floor),
                            fmt_ratio(t.median / ref),
                        ]
                    )
                fused = timings["gdlearn fused"].median
                summary.append(
                    [
                        shape,
                        loss_name,
                        threads,
                        fmt_ms(floor),
                        fmt_ms(fused),
                        fmt_ms(timings["gdlearn two-pass"].median),
                        fmt_ms(ref),
                        fmt_ms(timings["torch"].median) if "torch" in timings else "–",
                        fmt_ratio(fused / ref),
                        fmt_ratio(fused / floor),
                    ]
                )
        del X, ys

    print("## Summary (medians, ms)\n")
    print(
        markdown_table(
            [
                "X",
                "loss",
                "threads",
                "floor",
                "gdlearn fused",
                "gdlearn two-pass",
                "numpy",
                "torch",
                "fused ÷ numpy",
                "fused ÷ floor",
            ],
            summary,
            right={2, 3, 4, 5, 6, 7, 8, 9},
        )
    )
    print("\n## All methods\n")
    print("GB/s = bytes(X) / median time; ÷ floor and ÷ numpy compare medians (lower is faster).\n")
    print(
        markdown_table(
            ["X", "loss", "threads", "method", "median ms", "min ms", "max ms", "GB/s", "÷ floor", "÷ numpy"],
            main_rows,
            right={2, 4, 5, 6, 7, 8, 9},
        )
    )
    print("\n## Memory bandwidth (read-only kernels over the same X; the floor is the faster one)\n")
    print(
        markdown_table(
            ["X", "threads", "kernel", "median ms", "min ms", "max ms", "GB/s"], bw_rows, right={1, 3, 4, 5, 6}
        )
    )
    print("\nAll methods agree (value rtol 1e-9, gradient rtol 1e-7).")
    print(f"Total time {time.perf_counter() - t_start:.0f} s; {contention.summary()}.")
    pool.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
