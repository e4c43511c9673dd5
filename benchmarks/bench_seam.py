"""Where gdlearn's automatic choices switch, and what a fit costs in start-up time and memory.

Four measurements, each side by side in one run:

1. **Kernel crossover** (``gdlearn.kernels.COMPILED_MIN_BYTES``): one loss-and-gradient
   pass with the NumPy kernel and with the compiled kernel, for X of 0.25 to 64 MiB.
2. **Dense or diagonal preconditioning** (``gdlearn.training.DENSE_MAX_FEATURES``):
   ``LogisticRegression(l2=1, solver="lbfgs")`` with ``precondition="dense"`` and
   ``"diagonal"`` on correlated mixed-scale data of 20,000 rows and 25 to 800 features:
   time to solution and gap.
3. **Start-up**: wall time of fresh processes: ``gdlearn train housing`` (the command
   line, the NumPy path), split into the imports and what follows them, and a first fit
   that uses the compiled kernel, with Numba's on-disk cache warm (the normal case),
   against the same fit repeated in the same process.
4. **Peak memory of a fit** (``ru_maxrss`` of a fresh process, minus its size before the
   fit) on 400 MB of float64 X and 200 MB of float32 X, against the issue's budget
   size(X) + 10% + 100 MB (X itself is allocated before the baseline is taken).

Run ``python benchmarks/bench_seam.py`` (about 3 minutes) or ``--quick``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
from _common import Contention, add_wait_quiet, apply_wait_quiet, fmt_ratio, interleaved, markdown_table
from bench_fit import correlated

from gdlearn import LogisticRegression
from gdlearn.kernels import compiled, reference
from gdlearn.losses import BinaryLogLoss, HalfSquaredError


def kernel_crossover(quick: bool) -> list[list]:
    rng = np.random.default_rng(0)
    rows = []
    for mib in (0.25, 1, 4, 16) if quick else (0.25, 1, 2, 4, 8, 16, 64):
        for p in (20, 100):
            m = int(mib * 2**20 / 8 / p)
            X = rng.standard_normal((m, p))
            Y = (rng.random((m, 1)) < 0.5).astype(float)
            W = rng.standard_normal((p, 1)) * 0.1
            b = np.zeros(1)
            calls = {}
            for name, loss in (("log", BinaryLogLoss()), ("squared", HalfSquaredError())):
                calls[(name, "NumPy")] = lambda loss=loss, X=X, Y=Y, W=W, b=b: reference.loss_sums(
                    X, Y, None, W, b, loss
                )
                calls[(name, "compiled")] = lambda loss=loss, X=X, Y=Y, W=W, b=b: compiled.loss_sums(
                    X, Y, None, W, b, loss.kernel_id
                )
            reps = 5 if quick else max(9, min(101, int(0.2 / (mib * 2e-3))))
            out = interleaved(calls, reps)
            for name in ("log", "squared"):
                t_np = out[(name, "NumPy")][0].median
                t_c = out[(name, "compiled")][0].median
                rows.append([f"{mib:g} MiB", p, name, f"{t_np * 1e3:.3f}", f"{t_c * 1e3:.3f}", fmt_ratio(t_c / t_np)])
    return rows


def dense_or_diagonal(quick: bool) -> list[list]:
    rows = []
    m = 5_000 if quick else 20_000
    for p in (25, 50, 100) if quick else (25, 50, 100, 200, 400, 800):
        X, _, y, _ = correlated(m, p, seed=p)
        est = LogisticRegression(l2=1.0, solver="newton", tol=1e-10)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = est.fit(X, y)
        obj = ref.get_objective(X, y)
        J_star = obj.value(ref.theta_)

        def fit(kind, X=X, y=y):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return LogisticRegression(l2=1.0, solver="lbfgs", precondition=kind).fit(X, y)

        out = interleaved({k: (lambda k=k: fit(k)) for k in ("dense", "diagonal")}, 3 if quick else 5)
        cells = [f"{m:,}×{p}"]
        for kind in ("dense", "diagonal"):
            t, model = out[kind]
            gap = (obj.value(model.theta_) - J_star) / J_star
            cells += [f"{t.median:.3f}", model.n_iter_, f"{max(gap, 0):.0e}"]
        cells.append(fmt_ratio(out["dense"][0].median / out["diagonal"][0].median))
        rows.append(cells)
    return rows


def _run(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t0


def startup(quick: bool) -> list[list]:
    reps = 3 if quick else 5
    rows = []
    cli = textwrap.dedent(
        """
        import time; t0 = time.perf_counter()
        import contextlib, io, sys
        import gdlearn.cli, gdlearn.estimators, gdlearn.persistence, sklearn.model_selection
        t1 = time.perf_counter()
        sys.argv = ['gdlearn', 'train', 'housing', '--quiet']
        with contextlib.redirect_stdout(io.StringIO()):
            gdlearn.cli.main()
        print(t1 - t0, time.perf_counter() - t1, 'numba' in sys.modules)
        """
    )
    big = textwrap.dedent(
        """
        import numpy as np, time
        from gdlearn import LogisticRegression
        rng = np.random.default_rng(0)
        X = rng.standard_normal((40_000, 100)); y = (X[:, 0] > 0).astype(int)
        t0 = time.perf_counter(); LogisticRegression(l2=1.0).fit(X, y); first = time.perf_counter() - t0
        t0 = time.perf_counter(); LogisticRegression(l2=1.0).fit(X, y); second = time.perf_counter() - t0
        print(first, second)
        """
    )
    _run(big)  # fills Numba's cache if this machine has never compiled gdlearn's kernel
    imports, trains, numba_loaded, totals = [], [], [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", cli], check=True, capture_output=True, text=True).stdout.split()
        totals.append(time.perf_counter() - t0)
        imports.append(float(out[0]))
        trains.append(float(out[1]))
        numba_loaded.append(out[2] == "True")
    rows.append(["`gdlearn train housing`: whole process", f"{np.median(totals):.2f} s", ""])
    rows.append(["… of which importing gdlearn and scikit-learn", f"{np.median(imports):.2f} s", ""])
    rows.append(
        [
            "… of which reading, training, printing (after the imports)",
            f"{np.median(trains) * 1e3:.0f} ms",
            "Numba imported: " + ("yes" if any(numba_loaded) else "no"),
        ]
    )
    firsts, seconds = [], []
    for _ in range(reps):
        out = subprocess.run([sys.executable, "-c", big], check=True, capture_output=True, text=True).stdout.split()
        firsts.append(float(out[0]))
        seconds.append(float(out[1]))
    rows.append(
        [
            "first compiled-kernel fit in a process (32 MB X, Numba cache warm)",
            f"{np.median(firsts):.2f} s",
            f"the same fit again: {np.median(seconds):.2f} s",
        ]
    )
    return rows


def peak_memory(quick: bool) -> list[list]:
    rows = []
    m = 50_000 if quick else 500_000
    for dtype in ("float64", "float32"):
        for est in ("LinearRegression()", "LogisticRegression(l2=1.0)"):
            code = textwrap.dedent(
                f"""
                import resource, numpy as np, warnings
                from gdlearn import LinearRegression, LogisticRegression
                rng = np.random.default_rng(0)
                X = np.empty(({m}, 100), dtype=np.{dtype})
                for s in range(0, {m}, 1_000):  # 0.8 MB at a time: the baseline is X and little else
                    X[s:s + 1_000] = rng.standard_normal((min(1_000, {m} - s), 100))
                y = X[:, 0] + X[:, 1] if "Linear" in "{est}" else (X[:, 0] > 0).astype(int)
                y = np.asarray(y, dtype=float) if "Linear" in "{est}" else y
                before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                warnings.simplefilter("ignore")
                {est}.fit(X, y)
                after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                print(X.nbytes, (after - before) * 1024)
                """
            )
            out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
            nbytes, extra = (float(v) for v in out.stdout.split())
            budget = 0.1 * nbytes + 100e6
            rows.append(
                [
                    f"{m:,}×100 {dtype} ({nbytes / 1e6:.0f} MB)",
                    est,
                    f"{extra / 1e6:.0f} MB",
                    f"{budget / 1e6:.0f} MB",
                    f"{extra / nbytes:.1%}",
                ]
            )
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: small sizes, few repetitions")
    add_wait_quiet(ap)
    args = ap.parse_args(argv)
    apply_wait_quiet(args)
    contention = Contention()
    t0 = time.perf_counter()
    print("# gdlearn seam benchmark: crossovers, start-up, memory\n")
    print(f"- cores usable: {len(os.sched_getaffinity(0))}; GDLEARN_NUM_THREADS unset (all of them)\n")
    print("## 1. Kernel crossover: one loss-and-gradient pass (median ms, interleaved)\n")
    print(
        markdown_table(
            ["X", "features", "loss", "NumPy ms", "compiled ms", "compiled ÷ NumPy"],
            kernel_crossover(args.quick),
            right={1, 3, 4, 5},
        )
    )
    print("\n## 2. Dense or diagonal preconditioning (LogisticRegression(l2=1, solver='lbfgs'), median s)\n")
    print(
        markdown_table(
            ["X", "dense s", "iters", "gap", "diagonal s", "iters", "gap", "dense ÷ diagonal"],
            dense_or_diagonal(args.quick),
            right={1, 2, 3, 4, 5, 6, 7},
        )
    )
    print("\n## 3. Start-up (median wall time of fresh processes)\n")
    print(markdown_table(["what", "time", "note"], startup(args.quick)))
    print("\n## 4. Peak memory of fit (a fresh process's ru_maxrss after the fit minus before it)\n")
    print(
        markdown_table(
            ["X", "estimator", "extra memory", "budget: 10% of X + 100 MB", "extra ÷ size(X)"],
            peak_memory(args.quick),
            right={2, 3, 4},
        )
    )
    print(f"\nTotal time {time.perf_counter() - t0:.0f} s; {contention.summary()}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
