"""Learning-rate sweeps: fits with several fixed step sizes α, and their loss curves on one plot."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ._common import _finite, _fmt, _log_yaxis, _new_axes, _plt

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["SweepRun", "SweepResult", "learning_rate_sweep", "plot_learning_rate_sweep"]


@dataclass
class SweepRun:
    """One fit of a learning-rate sweep.

    Attributes
    ----------
    learning_rate : float
        The fixed step size α.
    diverged : bool
        The fit raised :class:`~gdlearn.DivergenceError`.
    n_iter : int
        Iterations run (for a diverged run: the iteration where divergence was detected).
    final_loss : float
        J at the end (for a diverged run: at divergence; may be inf or nan).
    loss_curve : list of float
        J after k iterations, k = 0 .. n_iter.
    converged : bool
        The gradient norm fell to ``tol`` before ``max_iter``.
    """

    learning_rate: float
    diverged: bool
    n_iter: int
    final_loss: float
    loss_curve: list[float]
    converged: bool = False


@dataclass
class SweepResult:
    """The outcome of :func:`learning_rate_sweep`.

    Attributes
    ----------
    lipschitz : float
        L, the Lipschitz constant of the gradient of J on the data as given.
    max_stable_lr : float
        2/L: plain gradient descent with a fixed α converges for α < 2/L (and,
        when ``quadratic``, diverges above it).
    runs : list of SweepRun
        One per learning rate, in increasing order of α.
    max_iter : int
        The iteration budget of every run.
    quadratic : bool
        J is quadratic (squared error, no L1 penalty): then 2/L is the exact
        limit, and every fixed α > 2/L diverges.  For the log loss L bounds
        the curvature everywhere, so α < 2/L guarantees descent but larger
        steps may still converge near the optimum, where the curvature is smaller.
    """

    lipschitz: float
    max_stable_lr: float
    runs: list[SweepRun] = field(default_factory=list)
    max_iter: int = 200
    quadratic: bool = True


def learning_rate_sweep(estimator, X, y, learning_rates=None, *, max_iter: int = 200) -> SweepResult:
    """Fit plain gradient descent with several fixed learning rates α.

    Each run is a clone of ``estimator`` with ``solver="gd"``,
    ``learning_rate=α``, ``precondition=False`` (α acts on the data as given,
    as in the tutorial), full batches (``batch_size=None``: 2/L is a
    full-batch limit), no path, no checkpoint, and ``max_iter``.  A run that
    raises :class:`~gdlearn.DivergenceError` is marked diverged and keeps its
    losses up to divergence.  :class:`~gdlearn.ConvergenceWarning` is
    silenced: slow runs are expected.

    Parameters
    ----------
    estimator : LinearRegression, LogisticRegression or Pipeline
        Its other settings (``l2``, ``fit_intercept``, ``tol``, ...) are kept.
        For a Pipeline the earlier steps are fitted once on (X, y) and the
        sweep runs on the transformed data.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    learning_rates : sequence of float, optional
        Default: (0.1, 0.3, 1, 1.5, 1.9, 2.1, 3) / L, from very slow to beyond
        the stability limit 2/L.
    max_iter : int, default=200

    Returns
    -------
    SweepResult

    Examples
    --------
    >>> from gdlearn import LinearRegression
    >>> from gdlearn.datasets import load_housing
    >>> X, y = load_housing(return_X_y=True)
    >>> X = (X - X.mean(0)) / X.std(0)
    >>> sweep = learning_rate_sweep(LinearRegression(), X, y)
    >>> [run.diverged for run in sweep.runs]
    [False, False, False, False, False, True, True]
    """
    from sklearn.base import clone

    from ..exceptions import ConvergenceWarning, DivergenceError
    from ..lipschitz import lipschitz_constant

    est, Xt = estimator, X
    if hasattr(estimator, "steps"):
        est = estimator.steps[-1][1]
        if len(estimator.steps) > 1:
            Xt = clone(estimator[:-1]).fit_transform(X, y)
    base = clone(est).set_params(
        solver="gd",
        precondition=False,
        batch_size=None,
        max_iter=int(max_iter),
        record_path=False,
        warm_start=False,
        checkpoint=None,
        verbose=0,
    )
    objective = base.get_objective(Xt, y)
    L = float(lipschitz_constant(objective, rtol=1e-10, max_iter=1000))
    quadratic = not objective.loss.is_classification and not objective.has_l1
    if not L > 0:
        raise ValueError("learning_rate_sweep: the Lipschitz constant is 0 (all-zero data?); nothing to sweep.")
    if learning_rates is None:
        rates = np.array([0.1, 0.3, 1.0, 1.5, 1.9, 2.1, 3.0]) / L
    else:
        rates = np.sort(np.asarray(learning_rates, dtype=float).ravel())
        if rates.size == 0 or np.any(~np.isfinite(rates)) or np.any(rates <= 0):
            raise ValueError(f"learning_rates must be positive numbers, got {list(learning_rates)!r}.")
    runs = []
    for alpha in rates:
        model = clone(base).set_params(learning_rate=float(alpha))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(Xt, y)
        except DivergenceError as err:
            curve = list(err.history["loss"]) if err.history else []
            n = int(err.iteration) if err.iteration is not None else max(len(curve) - 1, 0)
            final = float(err.loss) if err.loss is not None else (curve[-1] if curve else float("nan"))
            runs.append(SweepRun(float(alpha), True, n, final, [float(v) for v in curve]))
            continue
        curve = [float(v) for v in model.loss_curve_]
        runs.append(SweepRun(float(alpha), False, int(model.n_iter_), curve[-1], curve, bool(model.converged_)))
    return SweepResult(lipschitz=L, max_stable_lr=2.0 / L, runs=runs, max_iter=int(max_iter), quadratic=quadratic)


def plot_learning_rate_sweep(sweep: SweepResult, *, ax: Axes | None = None) -> Figure:
    """All loss curves of a learning-rate sweep on one log-scaled plot.

    Stable runs are solid lines coloured from small α (light) to large α
    (dark); diverging runs are dashed, end in a cross and are labelled
    "diverged".  The title and the legend state the largest stable step
    α = 2/L.  Curves of diverging runs that shoot far above the starting loss
    leave the top of the plot (the y-axis is capped at 1000 × the largest
    starting loss).

    Parameters
    ----------
    sweep : SweepResult
        From :func:`learning_rate_sweep`.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    fig, ax = _new_axes(ax, figsize=(8, 5))
    L = sweep.lipschitz
    cmap = plt.get_cmap("viridis")
    n = len(sweep.runs)
    starts, finite_max = [], []
    for i, run in enumerate(sweep.runs):
        curve = _finite(run.loss_curve)
        color = cmap(0.9 - 0.85 * i / max(n - 1, 1))
        label = f"α = {_fmt(run.learning_rate)} ({run.learning_rate * L:.3g}/L)"
        if run.diverged:
            label += f", diverged at iteration {run.n_iter}"
        elif not run.converged:
            label += f", J = {_fmt(run.final_loss)} after {run.n_iter}"
        else:
            label += f", converged in {run.n_iter}"
        ax.plot(np.arange(curve.size), curve, ls="--" if run.diverged else "-", color=color, lw=1.8, label=label)
        if run.diverged:
            ok = np.flatnonzero(np.isfinite(curve))
            if ok.size:
                ax.plot([ok[-1]], [curve[ok[-1]]], "x", color=color, ms=9, mew=2)
        if curve.size and np.isfinite(curve[0]):
            starts.append(curve[0])
        if np.any(np.isfinite(curve)):
            finite_max.append(np.nanmax(curve))
    values = np.concatenate([_finite(r.loss_curve) for r in sweep.runs]) if sweep.runs else np.array([])
    if values.size and np.all(values[np.isfinite(values)] > 0):
        _log_yaxis(ax, values)
    if starts and finite_max and max(finite_max) > 1e3 * max(starts):
        ax.set_ylim(top=1e3 * max(starts))
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss J(W, b)")
    limit = _fmt(sweep.max_stable_lr)
    if sweep.quadratic:
        ax.set_title(f"Learning-rate sweep: gradient descent is stable exactly for α < 2/L = {limit}")
        ax.plot([], [], " ", label=f"largest stable α = 2/L = {limit} (L = {_fmt(L)})")
    else:
        ax.set_title(f"Learning-rate sweep: α < 2/L = {limit} guarantees descent")
        ax.plot(
            [], [], " ", label=f"guaranteed stable for α < 2/L = {limit} (L = {_fmt(L)}; a bound: may tolerate more)"
        )
    ax.legend(title="learning rate α", fontsize="small", loc="best")
    ax.grid(True, which="both", alpha=0.25)
    return fig
