"""Stochastic runs at their defaults, side by side with scikit-learn's SGDRegressor and SGDClassifier.

Two parts (both by default):

``--table``  convergence: (J − J*)/J* after a mini-batch ``fit`` (``batch_size=32``, ``max_iter=50``
             epochs) and after ``partial_fit`` over 100-row chunks (50 passes; also the largest rise of J
             from one pass to the next after the fifth), for every mini-batch solver at its defaults,
             on regression, binary and three-class classification: scikit-learn's diabetes data
             (442 × 10, standardised; classes: the target cut at the median and the terciles) and
             a generated set (``generated(m=2000, p=20)``: correlated features, a noisy linear target,
             classes drawn from a logistic / softmax model).  J* is least squares (lstsq) or
             scikit-learn's unpenalised LogisticRegression at tol 1e-12.  The rows for other
             defaults (no averaging, decaying steps, the uniform average) are the measurements
             behind the choice in docs/optimizers.md ("Mini-batch defaults").
``--calls``  the time of one ``partial_fit`` call on a 100-row chunk (p = 20, ``batch_size=32``: 4 steps), the
             median over calls 1-500 and over the last 500 of ``--n-calls`` (5,000), for gdlearn at its
             mini-batch defaults and for SGDRegressor / SGDClassifier(loss="log_loss"), whose
             ``partial_fit`` takes one pass over the chunk: the fixed cost a call pays, and whether it
             grows with the calls before it.
``--timing`` time to the test loss that SGDRegressor() / SGDClassifier(loss="log_loss") reach at their
             defaults (scikit-learn's default classifier loss is the hinge, which has no log loss),
             on m = 1,000,000 × n = 100 generated rows (``--m`` to change), with 20% held out:
             gdlearn at its defaults (full batch), and mini-batch (``batch_size=1024``) fit for the
             fewest epochs whose test loss reaches the peer's (found untimed beforehand).  Each fit
             timed whole, in rounds after a warm-up round; medians of ``--reps`` rounds (3).

Run ``python benchmarks/bench_sgd.py`` (about 7 minutes on 2 cores), one part, or ``--quick``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _common import add_wait_quiet, apply_wait_quiet, machine_lines, markdown_table
from scipy.special import logsumexp
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LogisticRegression as SkLogistic
from sklearn.linear_model import SGDClassifier, SGDRegressor

import gdlearn
from gdlearn.optim import averaging
from gdlearn.optim.factory import MINIBATCH_SOLVERS
from gdlearn.schedules import InverseDecay

warnings.simplefilter("ignore")


def generated(m: int, p: int, seed: int = 0):
    """Correlated standard-normal features; a linear target with noise; labels from logistic/softmax models."""
    rng = np.random.default_rng(seed)
    mix = np.eye(p) + 0.3 * rng.normal(size=(p, p)) / np.sqrt(p)
    X = rng.normal(size=(m, p)) @ mix
    w = rng.normal(size=p) / np.sqrt(p)
    y = X @ w + 0.5 + rng.normal(size=m)
    z = X @ w
    binary = (rng.random(m) < 1 / (1 + np.exp(-z))).astype(int)
    Z = X @ rng.normal(size=(p, 3)) / np.sqrt(p)
    P = np.exp(Z - logsumexp(Z, axis=1, keepdims=True))
    three = (rng.random((m, 1)) > np.cumsum(P, axis=1)).sum(axis=1)
    return X, {"regression": y, "binary": binary, "three classes": three}


def diabetes():
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    return X, {
        "regression": y,
        "binary": (y > np.median(y)).astype(int),
        "three classes": np.digitize(y, np.quantile(y, [1 / 3, 2 / 3])),
    }


def objective(coef, intercept, X, y, classes=None) -> float:
    Z = X @ np.atleast_2d(coef).T + intercept
    if classes is None:
        return 0.5 * float(np.mean((Z[:, 0] - y) ** 2))
    if Z.shape[1] == 1:
        t = (y == classes[1]).astype(float)
        return float(np.mean(np.logaddexp(0.0, Z[:, 0]) - t * Z[:, 0]))
    return float(np.mean(logsumexp(Z, axis=1) - Z[np.arange(len(y)), np.searchsorted(classes, y)]))


def J(model, X, y) -> float:
    return objective(model.coef_, model.intercept_, X, y, getattr(model, "classes_", None))


def optimum(X, y, task) -> float:
    if task == "regression":
        A = np.c_[X, np.ones(len(X))]
        w = np.linalg.lstsq(A, y, rcond=None)[0]
        return objective(w[:-1], w[-1], X, y)
    ref = SkLogistic(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y)
    return objective(ref.coef_, ref.intercept_, X, y, ref.classes_)


def estimator(task, **kw):
    return (gdlearn.LinearRegression if task == "regression" else gdlearn.LogisticRegression)(**kw)


def convergence(X, y, task, J_star, **kw) -> tuple[float, float, float]:
    """(fit gap, partial_fit gap, partial_fit's largest rise after the fifth pass)."""
    fit = estimator(task, batch_size=32, max_iter=50, random_state=0, **kw).fit(X, y)
    model, losses = estimator(task, batch_size=32, random_state=0, **kw), []
    classes = {"classes": np.unique(y)} if task != "regression" else {}
    try:
        for _ in range(50):
            for s in range(0, len(X), 100):
                model.partial_fit(X[s : s + 100], y[s : s + 100], **classes)
            losses.append(J(model, X, y))
        losses = np.asarray(losses)
        pf, rise = (losses[-1] - J_star) / J_star, float(np.max(losses[5:] / losses[4:-1] - 1))
    except gdlearn.DivergenceError:
        pf = rise = np.inf
    return (J(fit, X, y) - J_star) / J_star, pf, rise


VARIANTS = {  # name: (estimator settings, Averaged's η, solvers)
    "default (η = 3 average after epoch 1)": ({}, 3.0, MINIBATCH_SOLVERS),
    "constant α, no averaging": ({"average": False}, 3.0, MINIBATCH_SOLVERS),
    "decaying α/√(1 + t/epoch), no averaging": ("sqrt", 3.0, ("gd", "momentum", "nesterov", "adagrad", "adam")),
    "decaying α/(1 + t/epoch), no averaging": ("inverse", 3.0, ("gd", "momentum", "nesterov", "adagrad", "adam")),
    "uniform average (η = 0) after epoch 1": ({}, 0.0, MINIBATCH_SOLVERS),
}


def table(variants: list[str]) -> None:
    sets = {"diabetes": diabetes(), "generated": generated(2000, 20)}
    refs = {(d, t): optimum(X, ys[t], t) for d, (X, ys) in sets.items() for t in ys}
    eta_default = averaging.Averaged.__init__.__defaults__
    for name in variants:
        settings, eta, solvers = VARIANTS[name]
        averaging.Averaged.__init__.__defaults__ = (eta,)  # the benchmark's only way to try another η
        rows = []
        for solver in solvers:
            worst = [0.0, 0.0, 0.0]
            for d, (X, ys) in sets.items():
                steps = -(-len(X) // 32)  # steps per epoch
                kw = {"solver": solver}
                if isinstance(settings, str):
                    kw.update(
                        average=False, learning_rate=InverseDecay("auto", 1 / steps, 0.5 if settings == "sqrt" else 1.0)
                    )
                else:
                    kw.update(settings)
                for t, y in ys.items():
                    out = convergence(X, y, t, refs[(d, t)], **kw)
                    worst = [max(a, b) for a, b in zip(worst, out)]
            rows.append([solver, *(f"{v:.1e}" if np.isfinite(v) else "diverged" for v in worst)])
        averaging.Averaged.__init__.__defaults__ = eta_default
        print(f"\n**{name}** (largest over diabetes and generated, regression, binary, three classes)\n")
        headers = ["solver", "fit (J − J*)/J*", "partial_fit (J − J*)/J*", "partial_fit largest rise"]
        print(markdown_table(headers, rows, right={1, 2, 3}))
    rows = []
    for d, (X, ys) in sets.items():
        for t, y in ys.items():
            peer = SGDRegressor(random_state=0) if t == "regression" else SGDClassifier(loss="log_loss", random_state=0)
            peer.fit(X, y)
            rows.append([d, t, type(peer).__name__, f"{(J(peer, X, y) - refs[(d, t)]) / refs[(d, t)]:.1e}"])
    print("\n**scikit-learn at its defaults** (SGDClassifier with loss='log_loss'), the same data\n")
    print(markdown_table(["data", "task", "peer", "(J − J*)/J*"], rows, right={3}))


def timing(m: int, reps: int) -> None:
    X, ys = generated(m, 100, seed=1)
    rows = [row for task in ("regression", "binary") for row in _timing_rows(task, X, ys[task], int(0.8 * m), reps)]
    print(f"\n**Time to the peer's test loss**, m = {m:,} × 100 (80% train), medians of {reps} rounds\n")
    print(markdown_table(["task", "method", "seconds", "÷ peer", "test loss"], rows, right={2, 3, 4}))


def _timing_rows(task: str, X, y, cut: int, reps: int) -> list[list]:
    Xtr, ytr, Xte, yte = X[:cut], y[:cut], X[cut:], y[cut:]
    classes = None if task == "regression" else np.unique(y)

    def test_loss(model):
        return objective(model.coef_, model.intercept_, Xte, yte, classes)

    def peer():
        if task == "regression":
            return SGDRegressor(random_state=0).fit(Xtr, ytr)
        return SGDClassifier(loss="log_loss", random_state=0).fit(Xtr, ytr)

    losses = {"peer": test_loss(peer())}
    epochs, probe = 0, estimator(task, batch_size=1024, random_state=0)
    while epochs < 100 and (epochs == 0 or test_loss(probe) > losses["peer"]):  # untimed: partial_fit on all
        probe.partial_fit(Xtr, ytr, **({} if classes is None else {"classes": classes}))  # the data = one epoch
        epochs += 1
    runs = {
        "peer": peer,
        "gdlearn default (full batch)": lambda: estimator(task).fit(Xtr, ytr),
        f"gdlearn batch_size=1024, {epochs} epochs": lambda: estimator(
            task, batch_size=1024, max_iter=epochs, random_state=0
        ).fit(Xtr, ytr),
    }
    times = {name: [] for name in runs}
    for r in range(reps + 1):  # round 0 is a warm-up (imports, compiled kernels), not timed
        for name, run in runs.items():
            t0 = time.perf_counter()
            model = run()
            times[name].append(time.perf_counter() - t0) if r else None
            losses[name] = test_loss(model)
    base = float(np.median(times["peer"]))
    out = []
    for name in runs:
        med = float(np.median(times[name]))
        out.append([task, name if name != "peer" else type(peer()).__name__, f"{med:.2f}", f"{med / base:.2f}"])
        out[-1].append(f"{losses[name]:.6g}")
    return out


def calls(n_calls: int) -> None:
    X, ys = generated(5_000, 20, seed=2)  # 50 chunks of 100 rows, taken in turn
    rows = []
    for task in ("regression", "binary", "three classes"):
        y = ys[task]
        kw = {} if task == "regression" else {"classes": np.unique(y)}
        peer = SGDRegressor if task == "regression" else lambda **k: SGDClassifier(loss="log_loss", **k)
        medians = {}
        models = {"gdlearn": estimator(task, batch_size=32, random_state=0), "peer": peer(random_state=0)}
        for name, model in models.items():
            per_call = []
            for i in range(n_calls):
                chunk = slice(100 * (i % 50), 100 * (i % 50) + 100)
                t0 = time.perf_counter()
                model.partial_fit(X[chunk], y[chunk], **kw)
                per_call.append(time.perf_counter() - t0)
            medians[name] = (float(np.median(per_call[:500])), float(np.median(per_call[-500:])))
        for name, (early, late) in medians.items():
            label = name if name == "gdlearn" else type(peer()).__name__
            rows.append([task, label, f"{1e3 * early:.3f}", f"{1e3 * late:.3f}", f"{late / early:.2f}"])
            rows[-1].append(f"{late / medians['peer'][1]:.1f}")
    print(f"\n**One partial_fit call** on 100 rows × 20, medians over calls 1-500 and {n_calls - 499:,}-{n_calls:,}\n")
    head = ["task", "estimator", "ms, calls 1-500", "ms, last 500", "last ÷ first", "÷ peer (last)"]
    print(markdown_table(head, rows, right={2, 3, 4, 5}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--timing", action="store_true")
    ap.add_argument("--calls", action="store_true")
    ap.add_argument("--n-calls", type=int, default=5_000)
    ap.add_argument("--variants", default="all", help="'all' or 'default' (the convergence table's rows)")
    ap.add_argument("--m", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smoke run: the default row only, m = 50,000, one round")
    add_wait_quiet(ap)
    args = ap.parse_args()
    if args.quick:
        args.variants, args.m, args.reps, args.n_calls = "default", 50_000, 1, 1_000
    apply_wait_quiet(args)
    both = not (args.table or args.timing or args.calls)
    print("\n".join(machine_lines()))
    if args.table or both:
        table(list(VARIANTS) if args.variants == "all" else [next(iter(VARIANTS))])
    if args.calls or both:
        calls(args.n_calls)
    if args.timing or both:
        timing(args.m, args.reps)


if __name__ == "__main__":
    main()
