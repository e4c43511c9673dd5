"""gdlearn on a Dask cluster against dask-ml's LogisticRegression (dask-glm), on the same persisted array.

A ``LocalCluster`` of ``--workers`` processes (one thread each) holds X (``--rows`` × ``--features`` float64, in
``--chunks`` row chunks) and a 0/1 label drawn from a logistic model, persisted before any timing.  Both
libraries minimise the same objective, the unpenalised mean log loss with an intercept (dask-ml: ``C=inf``,
so its L2 term λ = 1/C is 0 and its penalised intercept is not penalised).  J* is gdlearn's in-memory fit to
``tol=1e-10``; every method's J is evaluated in memory at its coefficients.

1. **Time to the same objective**: the wall time until a fit's J is within ``--gap`` (relative) of J*.
   gdlearn runs with its defaults; dask-ml's solvers with ``max_iter`` 5, 10, 20, 40, 80, 160 in turn, and the
   first that reaches the target counts (its time alone, not the sum).
2. **Per-iteration time on Dask against in memory**: gdlearn's gradient descent (one evaluation of J and ∇J per
   iteration, the same coordinates and steps on both) on the Dask array and on the same NumPy
   array (``tol=0``; the time of 25 iterations minus that of 5, so the one-off setup cancels), seconds per
   iteration, at each ``--per-iteration`` size
   (default 1,000,000 × 20 and 4,000,000 × 50, 160 MB and 1.6 GB); the in-memory fit uses every core.

Needs ``pip install "gdlearn[dask]" dask-ml``.  Run ``python benchmarks/bench_dask.py`` (1,000,000 × 20 on 2
workers: a few minutes) or ``--quick``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from _common import Contention, fmt_ratio, machine_lines, markdown_table

MAX_ITERS = (5, 10, 20, 40, 80, 160)


def objective(X, y):
    from gdlearn import LogisticRegression

    problem = LogisticRegression().get_objective(X, y)

    def J(coef, intercept):
        theta = np.vstack([np.reshape(coef, (-1, 1)), np.reshape(intercept, (1, 1))])
        return float(problem.value(theta))

    return J


def timed(fit):
    t = time.perf_counter()
    model = fit()
    return time.perf_counter() - t, model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--chunks", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--gap", type=float, default=1e-6, help="relative J − J* that counts as the same objective")
    ap.add_argument("--quick", action="store_true", help="100,000 rows")
    ap.add_argument("--per-iteration", nargs="+", default=["1e6x20", "4e6x50"], metavar="MxN",
                    help="sizes of the per-iteration comparison (default: 1e6x20 4e6x50)")  # fmt: skip
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--per-iteration-only", action="store_true", help="skip the comparison with dask-ml")
    args = ap.parse_args()
    if args.quick:
        args.rows = 100_000
    warnings.simplefilter("ignore")
    import dask
    import dask.array as da
    import dask_ml
    import distributed
    from dask_ml.linear_model import LogisticRegression as DaskMLLogistic

    from gdlearn import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, args.features)) * rng.uniform(0.5, 3, size=args.features)
    w = rng.normal(size=args.features) / np.sqrt(args.features)
    y = (X @ w + 0.5 + rng.logistic(size=args.rows) > 0).astype(np.int64)
    J = objective(X, y)
    ref = LogisticRegression(tol=1e-10).fit(X, y)
    J_star = J(ref.coef_, ref.intercept_)

    cluster = distributed.LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
    )
    client = distributed.Client(cluster)
    contention = Contention()
    rows = max(args.rows // args.chunks, 1)
    Xd, yd = dask.persist(da.from_array(X, chunks=(rows, args.features)), da.from_array(y, chunks=rows))
    distributed.wait([Xd, yd])
    LogisticRegression(max_iter=2).fit(Xd, yd)  # warm-up: the workers import gdlearn and compile its kernel

    results = []
    peers = (
        ()
        if args.per_iteration_only
        else (("gdlearn (defaults: Newton)", {}), ("gdlearn solver='lbfgs'", {"solver": "lbfgs"}))
    )
    for name, params in peers:
        seconds, model = timed(lambda params=params: LogisticRegression(**params).fit(Xd, yd))
        gap = J(model.coef_, model.intercept_) / J_star - 1
        results.append([name, f"{seconds:.2f}", str(model.n_iter_), f"{gap:.1e}", "yes" if gap <= args.gap else "no"])
    for solver in () if args.per_iteration_only else ("lbfgs", "newton", "admm"):
        reached = None
        for max_iter in MAX_ITERS:
            fit = DaskMLLogistic(solver=solver, C=np.inf, max_iter=max_iter, tol=1e-12)
            seconds, model = timed(lambda fit=fit: fit.fit(Xd, yd))
            gap = J(model.coef_, model.intercept_) / J_star - 1
            reached = [f"dask-ml solver={solver!r}", f"{seconds:.2f}", f"max_iter={max_iter}", f"{gap:.1e}"]
            if gap <= args.gap or seconds > 120:
                break
        results.append(reached + ["yes" if gap <= args.gap else "no"])

    # per-iteration time: the same gd iterations on the cluster and in memory, at each size; the in-memory fit
    # uses every core (distributed sets OMP_NUM_THREADS=1 in this process, which gdlearn's kernel would follow)
    os.environ["GDLEARN_NUM_THREADS"] = str(len(os.sched_getaffinity(0)))
    per = []
    for size in args.per_iteration:
        m, p = (int(float(v)) for v in size.split("x"))
        Xs = X if (m, p) == X.shape else rng.normal(size=(m, p)) * rng.uniform(0.5, 3, size=p)
        ys = y if (m, p) == X.shape else (Xs @ rng.normal(size=p) / np.sqrt(p) + rng.logistic(size=m) > 0).astype(int)
        rows = m // args.chunks
        Xds, yds = dask.persist(da.from_array(Xs, chunks=(rows, p)), da.from_array(ys, chunks=rows))
        distributed.wait([Xds, yds])
        times = {"Dask": [], "in memory": []}
        for _ in range(args.rounds):  # interleaved; the marginal time of 20 more iterations, so setup cancels
            for where, data in (("Dask", (Xds, yds)), ("in memory", (Xs, ys))):
                (t5, m5), (t25, m25) = (
                    timed(lambda n=n, data=data: LogisticRegression(solver="gd", tol=0, max_iter=n).fit(*data))
                    for n in (5, 25)
                )
                times[where].append((t25 - t5) / (m25.n_iter_ - m5.n_iter_))
        dask_s, mem_s = (float(np.median(times[k])) for k in ("Dask", "in memory"))
        per.append([f"{m:,} × {p} ({Xs.nbytes / 1e9:.2f} GB)", f"{dask_s * 1e3:.1f}", f"{mem_s * 1e3:.1f}",
                    fmt_ratio(dask_s / mem_s)])  # fmt: skip
        del Xds, yds
    client.close()
    cluster.close()

    print("## gdlearn on Dask against dask-ml\n")
    versions = {"dask": dask.__version__, "distributed": distributed.__version__, "dask-ml": dask_ml.__version__}
    print("\n".join(machine_lines(versions)))
    print(f"- data: {args.rows:,} × {args.features} float64 in {args.chunks} chunks, persisted on a LocalCluster of "
          f"{args.workers} worker processes × 1 thread; J* = {J_star:.10g}\n")  # fmt: skip
    if results:
        print(f"Time to J ≤ J*·(1 + {args.gap:g}):\n")
        print(markdown_table(["method", "seconds", "iterations", "J/J* − 1", "reached"], results, right={1, 2, 3}))
        best_gd = min(float(r[1]) for r in results if r[0].startswith("gdlearn") and r[4] == "yes")
        daskml = [float(r[1]) for r in results if r[0].startswith("dask-ml") and r[4] == "yes"]
        if daskml:
            print(
                f"\ngdlearn reaches the objective {fmt_ratio(min(daskml) / best_gd)}× faster than dask-ml's fastest.\n"
            )
        else:
            print("\nNo dask-ml solver reached the objective within the iterations tried.\n")
    print(f"Per iteration (one evaluation of J and ∇J), gdlearn's `solver='gd'` (`tol=0`; a fit of 25 iterations "
          "minus one of 5, ÷ 20; medians of "
          f"{args.rounds} interleaved rounds), "
          f"{args.chunks} chunks on the cluster, {os.environ['GDLEARN_NUM_THREADS']} threads in memory:\n")  # fmt: skip
    head = ["data", "Dask, ms per iteration", "in memory, ms per iteration", "Dask ÷ in memory"]
    print(markdown_table(head, per, right={1, 2, 3}))
    print(f"\n{contention.summary()}")


if __name__ == "__main__":
    main()
