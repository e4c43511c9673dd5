"""Pictures of gradient descent: loss curves, loss surfaces with the descent path, learning-rate sweeps.

Every function draws with matplotlib, which is optional: install it with
``pip install "gdlearn[plot]"``.  ``import gdlearn.plotting`` works without it;
calling a plotting function then raises an ImportError that says so.

Conventions
-----------
* Each ``plot_*`` function accepts ``ax=None``: without it a new figure is made
  (with :mod:`matplotlib.pyplot`, so it shows up in notebooks); with it the
  picture is drawn into the given Axes.  Each returns the
  :class:`~matplotlib.figure.Figure`; its Axes are ``fig.axes``.
* Nothing here calls ``plt.show()``, and nothing closes a figure it returns;
  the ``save_*`` functions write PNG files and close the figures they made.
* "Iteration k" means *after k iterations*: k = 0 is the starting point, as
  in ``model.history_`` and ``model.path_``.
* A model may be a gdlearn estimator or a scikit-learn
  :class:`~sklearn.pipeline.Pipeline` ending in one; the loss, the surface and
  the path are those of the final estimator on the data transformed by the
  earlier steps.

Examples
--------
>>> from gdlearn import LinearRegression
>>> from gdlearn.datasets import load_housing
>>> from gdlearn.plotting import plot_loss_curve
>>> X, y = load_housing(return_X_y=True)
>>> X = (X - X.mean(0)) / X.std(0)
>>> model = LinearRegression(solver="gd", learning_rate=0.1, record_path=True).fit(X, y)
>>> fig = plot_loss_curve(model)
>>> [ax.get_xlabel() for ax in fig.axes]
['', 'iteration']
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._optional import import_optional

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "SweepRun",
    "SweepResult",
    "plot_loss_curve",
    "plot_loss_surface",
    "learning_rate_sweep",
    "plot_learning_rate_sweep",
    "plot_predictions",
    "plot_confusion_matrix",
    "plot_roc_curve",
    "plot_decision_boundary_evolution",
    "save_training_plots",
    "save_surface_plots",
    "save_sweep_plot",
]

_DPI = 100
#: Loss values spanning more than this factor are drawn on a log scale (``log_scale="auto"``).
_LOG_SPAN = 100.0


# ----------------------------------------------------------------- helpers
def _plt():
    """matplotlib.pyplot, or an ImportError naming the ``gdlearn[plot]`` extra."""
    return import_optional("matplotlib.pyplot", extra="plot", purpose="plotting")


def _final_estimator(model, X=None):
    """The gdlearn estimator at the end of ``model`` and X transformed by the steps before it."""
    if hasattr(model, "steps"):
        est = model.steps[-1][1]
        if X is not None and len(model.steps) > 1:
            X = model[:-1].transform(X)
        return est, X
    return model, X


def _require_fitted(est, attribute: str, what: str) -> None:
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est, attribute, msg=f"{what} needs a fitted gdlearn model; call fit first.")


def _new_axes(ax, figsize=None):
    """(figure, axes): those of ``ax``, or a new figure with one Axes."""
    plt = _plt()
    if ax is not None:
        return ax.figure, ax
    return plt.subplots(figsize=figsize, layout="constrained")


def _quiet_predict(method, X):
    """Call a prediction method without the 'X does not have valid feature names' warning.

    Models trained by the command line carry ``feature_names_in_`` but are
    asked to predict on plain arrays.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return method(X)


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _finite(values) -> np.ndarray:
    """Values as floats with inf/nan replaced by nan (matplotlib leaves gaps there)."""
    a = np.asarray(values, dtype=float)
    return np.where(np.isfinite(a), a, np.nan)


def _log_yaxis(ax, values: np.ndarray) -> None:
    """Log y-scale with plain-number tick labels (also on the minor ticks when under 1.5 decades)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_yscale("log")
    v = values[np.isfinite(values) & (values > 0)]
    plain = FuncFormatter(lambda x, _: f"{x:g}")
    ax.yaxis.set_major_formatter(plain)
    narrow = v.size > 0 and np.log10(v.max() / v.min()) <= 1.5
    ax.yaxis.set_minor_formatter(plain if narrow else NullFormatter())


def _wants_log(values: np.ndarray, log_scale) -> bool:
    if log_scale != "auto":
        return bool(log_scale)
    v = values[np.isfinite(values)]
    if v.size == 0 or np.any(v <= 0):
        return False
    return float(v.max() / v.min()) > _LOG_SPAN


# ------------------------------------------------------------- loss curve
def plot_loss_curve(model, *, ax: Axes | None = None, log_scale: bool | str = "auto") -> Figure:
    """Loss per iteration, with the gradient norm and the stopping point.

    Draws ``model.history_["loss"]`` (J after k iterations, k = 0 .. n_iter_,
    penalties included), the validation loss when recorded
    (``validation_fraction`` or ``early_stopping``), and a vertical line where
    the fit stopped (``n_iter_``, with ``stop_reason_`` in its label) and, with
    early stopping, at ``best_iteration_`` whose parameters were restored.
    Without ``ax`` a second panel below shows the gradient norm ‖∇J‖ per
    iteration on a log scale with the tolerance ``tol`` the fit stops at.

    Parameters
    ----------
    model : LinearRegression, LogisticRegression or Pipeline
        A fitted model.
    ax : matplotlib Axes, optional
        Draw the loss curve only, into this Axes.
    log_scale : bool or "auto", default="auto"
        Log y-axis for the loss.  ``"auto"``: when every plotted loss is
        positive and the largest is more than 100 times the smallest (the loss
        spans more than two decades, as when a fit starts far from the optimum
        or diverges).  The curve always shows J itself, never J − min J, so the
        plotted values are exactly ``history_["loss"]``.

    Returns
    -------
    matplotlib.figure.Figure
        Its Axes: [loss] with ``ax``, else [loss, gradient norm].
    """
    plt = _plt()
    est, _ = _final_estimator(model)
    _require_fitted(est, "history_", "plot_loss_curve")
    h = est.history_
    loss = _finite(h["loss"])
    k = np.arange(loss.size)
    if ax is None:
        fig, (ax, ax_grad) = plt.subplots(2, 1, sharex=True, figsize=(7, 6), height_ratios=(3, 2), layout="constrained")
    else:
        fig, ax_grad = ax.figure, None

    ax.plot(k, loss, color="C0", lw=1.8, label="training loss")
    shown = [loss]
    if "val_loss" in h:
        val = _finite(h["val_loss"])
        ax.plot(np.arange(val.size), val, color="C1", lw=1.5, label="validation loss")
        shown.append(val)
    n_iter = int(getattr(est, "n_iter_", loss.size - 1))
    reason = getattr(est, "stop_reason_", None)
    stop_label = f"stopped at iteration {n_iter}" + (f" ({reason})" if reason else "")
    ax.axvline(n_iter, color="0.35", ls=":", lw=1.2, label=stop_label)
    best = getattr(est, "best_iteration_", None)
    if best is not None:
        ax.axvline(best, color="C2", ls="--", lw=1.2, label=f"best iteration {best} (parameters restored)")
    if _wants_log(np.concatenate(shown), log_scale):
        _log_yaxis(ax, np.concatenate(shown))
    epochs = getattr(est, "batch_size", None) is not None
    xlabel = "iteration (epoch)" if epochs else "iteration"
    ax.set_ylabel("loss J(W, b)")
    solver = getattr(est, "solver_", None)
    lr = getattr(est, "learning_rate_", None)
    detail = ", ".join(
        s for s in (f"solver={solver!r}" if solver else "", f"α = {_fmt(lr)}" if lr is not None else "") if s
    )
    ax.set_title(f"{type(est).__name__}: loss per iteration" + (f" ({detail})" if detail else ""))
    ax.legend(loc="upper right", fontsize="small")
    ax.grid(True, alpha=0.3)

    if ax_grad is None:
        ax.set_xlabel(xlabel)
        return fig
    g = _finite(h["grad_norm"])
    ax_grad.plot(np.arange(g.size), g, color="C3", lw=1.5, label="gradient norm ‖∇J‖")
    tol = getattr(est, "tol", None)
    if tol is not None and tol > 0:
        ax_grad.axhline(tol, color="0.35", ls="--", lw=1.0, label=f"tol = {_fmt(tol)}")
    ax_grad.axvline(n_iter, color="0.35", ls=":", lw=1.2)
    if np.all(g[np.isfinite(g)] > 0):
        ax_grad.set_yscale("log")
    ax_grad.set_xlabel(xlabel)
    ax_grad.set_ylabel("gradient norm ‖∇J‖")
    ax_grad.legend(loc="upper right", fontsize="small")
    ax_grad.grid(True, alpha=0.3)
    return fig


# ------------------------------------------------------------ loss surface
_PARAM_RE = re.compile(r"^\s*(?P<name>.+?)\s*(?:\[\s*(?P<out>\d+)\s*\])?\s*$")


def _parse_param(est, spec: str, n_features: int, n_outputs: int) -> tuple[int, int, str]:
    """Map a parameter name to (row, output, label) in θ of shape (n_features + 1, n_outputs).

    Names: ``"w0"`` .. ``"w{p-1}"``, a feature name from ``feature_names_in_``,
    or ``"b"``; with several outputs (multi-target regression, more than two
    classes) append the output index, ``"w3[1]"``, ``"b[1]"``.
    """
    m = _PARAM_RE.match(str(spec))
    if not m:
        raise ValueError(f"params: cannot read parameter name {spec!r}.")
    name, out = m.group("name"), m.group("out")
    names = [str(n) for n in getattr(est, "feature_names_in_", [])]
    if name == "b":
        if not getattr(est, "fit_intercept", True):
            raise ValueError("params: 'b' is fixed at 0 because the model has fit_intercept=False; choose two weights.")
        row, label = n_features, "b (intercept)"
    elif re.fullmatch(r"w\d+", name) and name not in names:
        row = int(name[1:])
        if row >= n_features:
            raise ValueError(f"params: {name!r} does not exist; the model has weights w0 .. w{n_features - 1}.")
        label = f"w{row}" + (f" ({names[row]})" if row < len(names) else "")
    elif name in names:
        row = names.index(name)
        label = f"w{row} ({name})"
    else:
        known = f"w0 .. w{n_features - 1}, b" + (f", or a feature name such as {names[0]!r}" if names else "")
        raise ValueError(f"params: unknown parameter {spec!r}; use {known}.")
    if out is None:
        if n_outputs > 1:
            raise ValueError(
                f"params: the model has {n_outputs} outputs (one column of W per target or class); "
                f"say which with an index, e.g. '{name}[1]'."
            )
        col = 0
    else:
        col = int(out)
        if col >= n_outputs:
            raise ValueError(f"params: {spec!r}: output index {col} is out of range; the model has {n_outputs}.")
        label = f"{label} [output {col}]"
    return row, col, label


def _param_list(params) -> list[str]:
    if isinstance(params, str):
        params = [p for p in params.split(",") if p.strip()]
    params = list(params)
    if len(params) != 2:
        raise ValueError(f"params: give exactly two parameter names, e.g. ('w0', 'b'); got {params!r}.")
    return params


def _resolve_params(est, params) -> list[tuple[int, int, str]]:
    """(row, output, label) of each of the two named parameters of a fitted estimator."""
    _require_fitted(est, "_theta", "plot_loss_surface")
    n_features, n_outputs = est.theta_.shape[0] - 1, est.theta_.shape[1]
    specs = [_parse_param(est, p, n_features, n_outputs) for p in _param_list(params)]
    if specs[0][:2] == specs[1][:2]:
        raise ValueError(f"params: the two parameters must differ; got {params!r}.")
    return specs


def _path_coords(path, n_outputs: int) -> np.ndarray | None:
    """A recorded path as an array of shape (n_steps, n_outputs, n_features + 1)."""
    if path is None:
        return None
    P = np.asarray(path, dtype=float)
    if P.ndim == 2:
        P = P[:, None, :]
    if P.ndim != 3 or P.shape[1] != n_outputs:
        raise ValueError(
            f"path: expected shape (n_steps, n_features + 1) or (n_steps, {n_outputs}, n_features + 1), got {P.shape}."
        )
    return P


def _axis_range(center, curvature, J, span, path_values) -> tuple[float, float]:
    """Grid limits of one parameter: around ``center``, containing the path."""
    if span is not None:
        half = float(span)
    else:
        # where the quadratic model ½·H·δ² raises the loss by its fitted value (so J doubles at the edge)
        half = float(np.sqrt(2.0 * max(J, 1e-12) / curvature)) if curvature > 0 else 1.0
        if not np.isfinite(half) or half <= 1e-9 * (1.0 + abs(center)):
            half = 1.0
    lo, hi = center - half, center + half
    if path_values is not None and path_values.size:
        lo = min(lo, float(np.min(path_values)))
        hi = max(hi, float(np.max(path_values)))
        if span is None:  # keep the path off the edge
            pad = 0.05 * (hi - lo)
            lo, hi = lo - pad, hi + pad
    return lo, hi


def _surface_data(model, X, y, params, grid_size, span, path):
    est, Xt = _final_estimator(model, X)
    specs = _resolve_params(est, params)
    obj = est.get_objective(Xt, y)
    theta = est.theta_
    n_outputs = theta.shape[1]
    if path is True:
        P = _path_coords(getattr(est, "path_", None), n_outputs)
    elif path is False or path is None:
        P = None
    else:
        P = _path_coords(path, n_outputs)
    J_fit = obj.value(theta)
    spans = span if isinstance(span, (Sequence, np.ndarray)) else (span, span)
    axes = []
    for (row, col, _), s in zip(specs, spans):
        e = np.zeros_like(theta)
        e[row, col] = 1.0
        curvature = float(obj.hessian_bound_matvec(e)[row, col])
        pv = None if P is None else P[:, col, row]
        lo, hi = _axis_range(theta[row, col], curvature, J_fit, s, pv)
        axes.append(np.linspace(lo, hi, int(grid_size)))
    A, B = np.meshgrid(axes[0], axes[1])
    Z = np.empty_like(A)
    t = theta.copy()
    (r0, c0, _), (r1, c1, _) = specs
    for idx in np.ndindex(A.shape):
        t[r0, c0], t[r1, c1] = A[idx], B[idx]
        Z[idx] = obj.value(t)
    path_xyz = None
    if P is not None:
        px, py = P[:, c0, r0], P[:, c1, r1]
        pz = np.empty(px.size)
        t = theta.copy()
        for i in range(px.size):  # the loss on the slice, so the path lies on the drawn surface
            t[r0, c0], t[r1, c1] = px[i], py[i]
            pz[i] = obj.value(t)
        path_xyz = (px, py, pz)
    fitted = (theta[r0, c0], theta[r1, c1], J_fit)
    return est, specs, A, B, Z, path_xyz, fitted


def _levels(Z: np.ndarray, n: int = 20) -> np.ndarray:
    """Contour levels from min to max of Z, denser near the minimum.

    zmin + (zmax − zmin)·t² for evenly spaced t: on a quadratic bowl the
    contours are then evenly spaced ellipses.
    """
    zmin, zmax = float(np.nanmin(Z)), float(np.nanmax(Z))
    if not zmax > zmin:
        zmax = zmin + max(abs(zmin), 1.0) * 1e-6
    return zmin + (zmax - zmin) * np.linspace(0.0, 1.0, n) ** 2


def plot_loss_surface(
    model,
    X,
    y,
    params: Sequence[str] | str = ("w0", "b"),
    *,
    kind: str = "contour",
    grid_size: int = 60,
    span: float | Sequence[float] | None = None,
    path: bool | np.ndarray = True,
    ax: Axes | Sequence[Axes] | None = None,
) -> Figure:
    """The loss J over two parameters, with the path gradient descent took.

    J is evaluated on a ``grid_size`` × ``grid_size`` grid of the two named
    parameters with every other parameter held at its fitted value (a slice
    through J at the fitted model).  For a model with one feature and
    ``params=("w0", "b")`` this is the exact loss surface over (w, b).

    The descent path is ``model.path_`` (fit with ``record_path=True``): its
    first point is the initial parameters (iteration 0), its last the fitted
    ones.  With more than two parameters the path is projected onto the plane
    of the two named ones (all parameters moved during the descent, but the
    slice holds the others at their final values), and on the 3-D surface it
    is drawn at the height of the slice.  Parameters are in the user's units:
    on raw data with features of very different scales the surface is a long
    narrow valley, which is why plain gradient descent crawls there.

    Parameters
    ----------
    model : LinearRegression, LogisticRegression or Pipeline
        A fitted model.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        The data the loss is measured on (usually the training data).
    params : pair of str or "name,name", default=("w0", "b")
        ``"w0"`` .. ``"w{p-1}"``, a feature name from ``feature_names_in_``,
        or ``"b"``.  With several outputs (multi-target regression or more
        than two classes) add the output index: ``"w3[1]"``, ``"b[1]"``.
    kind : {"contour", "surface", "both"}, default="contour"
        Filled contours (2-D), a 3-D surface, or both side by side.
    grid_size : int, default=60
        Grid points per parameter.
    span : float or pair of float, optional
        Half-width of the grid around each fitted value.  Default: where the
        loss roughly doubles (from the curvature of J along that parameter).
        The grid is always widened to contain the whole path.
    path : bool or ndarray, default=True
        True: draw ``model.path_`` if the model has one.  An array of shape
        (n_steps, n_features + 1) (or (n_steps, n_outputs, n_features + 1)),
        rows [W, b] as in ``path_``: draw that path instead.
    ax : Axes, or pair (2-D Axes, 3-D Axes) for ``kind="both"``, optional
        A 3-D Axes (``projection="3d"``) for ``kind="surface"``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Unknown parameter names, a multi-output model without an output
        index, or an unsuitable ``ax``.
    """
    plt = _plt()
    if kind not in ("contour", "surface", "both"):
        raise ValueError(f"kind must be 'contour', 'surface' or 'both', got {kind!r}.")
    if int(grid_size) < 2:
        raise ValueError(f"grid_size must be at least 2, got {grid_size!r}.")
    est, specs, A, B, Z, path_xyz, fitted = _surface_data(model, X, y, params, grid_size, span, path)
    (_, _, label0), (_, _, label1) = specs
    n_params = est.theta_.size
    if ax is None:
        if kind == "both":
            fig = plt.figure(figsize=(12, 5), layout="constrained")
            axes = (fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2, projection="3d"))
        else:
            fig = plt.figure(figsize=(6.5, 5) if kind == "contour" else (7, 6), layout="constrained")
            axes = (fig.add_subplot(projection="3d" if kind == "surface" else None),)
    else:
        axes = tuple(ax) if kind == "both" else (ax,)
        if len(axes) != (2 if kind == "both" else 1):
            raise ValueError("ax: kind='both' needs a pair (2-D Axes, 3-D Axes).")
        fig = axes[0].figure
    contour_ax = axes[0] if kind in ("contour", "both") else None
    surface_ax = axes[-1] if kind in ("surface", "both") else None
    if surface_ax is not None and getattr(surface_ax, "name", "") != "3d":
        raise ValueError("ax: a 3-D surface needs an Axes made with projection='3d'.")
    if contour_ax is not None and getattr(contour_ax, "name", "") == "3d":
        raise ValueError("ax: contours need a 2-D Axes, not a 3-D one.")

    levels = _levels(Z)
    title = f"Loss surface J({label0.split(' ')[0]}, {label1.split(' ')[0]})"
    subtitle = "other parameters held at their fitted values" if n_params > 2 else "exact loss surface"
    if contour_ax is not None:
        ax2 = contour_ax
        filled = ax2.contourf(A, B, Z, levels=levels, cmap="viridis")
        ax2.contour(A, B, Z, levels=levels, colors="k", linewidths=0.4, alpha=0.5)
        cbar = fig.colorbar(filled, ax=ax2, ticks=levels[::3], format="%.4g")
        cbar.set_label("loss J(W, b)")
        if path_xyz is not None:
            px, py, _ = path_xyz
            n = px.size - 1
            ax2.plot(
                px, py, "-", color="tab:red", lw=1.8, marker=".", ms=4, markevery=max(1, n // 40),
                label=f"gradient descent path ({n} steps)",
            )  # fmt: skip
            ax2.plot(px[:1], py[:1], "o", color="white", mec="k", ms=8, label="start (iteration 0)")
        ax2.plot([fitted[0]], [fitted[1]], "*", color="gold", mec="k", ms=15, label="fitted parameters")
        ax2.set_xlim(A[0, 0], A[0, -1])
        ax2.set_ylim(B[0, 0], B[-1, 0])
        ax2.set_xlabel(label0)
        ax2.set_ylabel(label1)
        ax2.set_title(f"{title}\n({subtitle})", fontsize="medium")
        ax2.legend(loc="upper right", fontsize="small", framealpha=0.85)
    if surface_ax is not None:
        ax3 = surface_ax
        ax3.plot_surface(A, B, Z, cmap="viridis", alpha=0.6, linewidth=0, antialiased=True, rcount=30, ccount=30)
        if path_xyz is not None:
            px, py, pz = path_xyz
            ax3.plot(px, py, pz, "-", color="tab:red", lw=2.0, zorder=10, label=f"descent path ({px.size - 1} steps)")
            ax3.scatter(px[:1], py[:1], pz[:1], color="white", edgecolor="k", s=50, zorder=11, label="start")
        ax3.scatter(
            [fitted[0]], [fitted[1]], [fitted[2]], marker="*", color="gold", edgecolor="k", s=150, zorder=11,
            label="fitted parameters",
        )  # fmt: skip
        ax3.set_xlabel(label0)
        ax3.set_ylabel(label1)
        ax3.set_zlabel("loss J(W, b)")
        ax3.set_title(f"{title}\n({subtitle})", fontsize="medium")
        ax3.legend(loc="upper right", fontsize="small")
    return fig


# ------------------------------------------------------- learning-rate sweep
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

    from .exceptions import ConvergenceWarning, DivergenceError
    from .lipschitz import lipschitz_constant

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


# ------------------------------------------------------ predictions, metrics
def plot_predictions(model, X, y, *, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Predicted against actual values of a regression, with the line ŷ = y.

    Parameters
    ----------
    model : fitted regressor
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
    ax : matplotlib Axes, optional
    title : str, optional
        Default: "Predicted vs actual (R² = ...)".

    Returns
    -------
    matplotlib.figure.Figure
    """
    from sklearn.metrics import r2_score

    fig, ax = _new_axes(ax)
    y = np.asarray(y, dtype=float)
    pred = np.asarray(_quiet_predict(model.predict, X), dtype=float)
    Y, P = y.reshape(len(y), -1), pred.reshape(len(pred), -1)
    for j in range(Y.shape[1]):
        label = "samples" if Y.shape[1] == 1 else f"target {j}"
        ax.scatter(Y[:, j], P[:, j], s=14, alpha=0.6, color=f"C{j}", edgecolor="none", label=label)
    lo = float(min(Y.min(), P.min()))
    hi = float(max(Y.max(), P.max()))
    pad = 0.03 * (hi - lo if hi > lo else 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1.2, label="perfect prediction ŷ = y")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("actual y")
    ax.set_ylabel("predicted ŷ")
    ax.set_title(title or f"Predicted vs actual (R² = {r2_score(y, pred):.3f})")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(True, alpha=0.3)
    return fig


def plot_confusion_matrix(model, X, y, *, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Confusion matrix of a classifier (scikit-learn's ConfusionMatrixDisplay).

    Parameters
    ----------
    model : fitted classifier
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        True labels.
    ax : matplotlib Axes, optional
    title : str, optional
        Default: "Confusion matrix (accuracy = ...)".

    Returns
    -------
    matplotlib.figure.Figure
    """
    from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score

    fig, ax = _new_axes(ax)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        disp = ConfusionMatrixDisplay.from_estimator(model, X, y, ax=ax, colorbar=True)
        acc = accuracy_score(y, model.predict(X))
    disp.ax_.set_title(title or f"Confusion matrix (accuracy = {acc:.3f})")
    return fig


def plot_roc_curve(model, X, y, *, ax: Axes | None = None, title: str | None = None) -> Figure:
    """ROC curve of a binary classifier (scikit-learn's RocCurveDisplay), with the chance line.

    Parameters
    ----------
    model : fitted binary classifier
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        True labels.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For more than two classes.
    """
    from sklearn.metrics import RocCurveDisplay

    classes = getattr(model, "classes_", None)
    if classes is not None and len(classes) != 2:
        raise ValueError(f"plot_roc_curve needs a binary classifier; this one has {len(classes)} classes.")
    fig, ax = _new_axes(ax)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        disp = RocCurveDisplay.from_estimator(model, X, y, ax=ax, plot_chance_level=True, name=type(model).__name__)
    disp.ax_.set_title(title or "ROC curve")
    return fig


def _boundary_segment(w, b, xlim, ylim):
    """Two points of the line w0·x + w1·y + b = 0 spanning the box, or None when w = 0."""
    w0, w1 = float(w[0]), float(w[1])
    if w0 == 0.0 and w1 == 0.0:
        return None
    if abs(w1) >= abs(w0):
        xs = np.array(xlim, dtype=float)
        return xs, -(w0 * xs + b) / w1
    ys = np.array(ylim, dtype=float)
    return -(w1 * ys + b) / w0, ys


def plot_decision_boundary_evolution(
    model, X, y, *, iterations: Sequence[int] | None = None, ax: Axes | None = None
) -> Figure:
    """The decision boundary w·x + b = 0 of a 2-feature binary classifier as it learns.

    Draws the data and the boundary line at several iterations of
    ``model.path_`` (fit with ``record_path=True``), light to dark, the last
    one the fitted boundary; the background shows the fitted model's
    probability of the second class.  At iteration 0 the weights are zero and
    there is no boundary yet, so it is skipped.

    Parameters
    ----------
    model : LogisticRegression or Pipeline
        Fitted on exactly two features, two classes, with ``record_path=True``.
    X : array-like of shape (n_samples, 2)
    y : array-like of shape (n_samples,)
    iterations : sequence of int, optional
        Which iterations to draw (0 .. n_iter_).  Default: about six,
        geometrically spaced from 1 to ``n_iter_``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    est, Xt = _final_estimator(model, X)
    _require_fitted(est, "_theta", "plot_decision_boundary_evolution")
    P = getattr(est, "path_", None)
    if P is None:
        raise ValueError("plot_decision_boundary_evolution needs the descent path: fit with record_path=True.")
    classes = getattr(est, "classes_", None)
    if classes is None or len(classes) != 2 or np.ndim(P) != 2:
        raise ValueError("plot_decision_boundary_evolution needs a binary classifier (two classes).")
    Xt = np.asarray(Xt, dtype=float)
    if Xt.ndim != 2 or Xt.shape[1] != 2 or P.shape[1] != 3:
        raise ValueError(
            f"plot_decision_boundary_evolution needs a model with exactly two features; X has shape {Xt.shape}."
        )
    n_iter = P.shape[0] - 1
    if iterations is None:
        iterations = sorted({int(round(v)) for v in np.geomspace(1, max(n_iter, 1), 6)} & set(range(n_iter + 1)))
    iterations = [int(k) for k in iterations]
    bad = [k for k in iterations if not 0 <= k <= n_iter]
    if bad:
        raise ValueError(f"iterations: {bad} out of range; the path has iterations 0 .. {n_iter}.")

    fig, ax = _new_axes(ax, figsize=(7, 5.5))
    y = np.asarray(y)
    pad = 0.05 * (Xt.max(0) - Xt.min(0) + 1e-12)
    xlim = (Xt[:, 0].min() - pad[0], Xt[:, 0].max() + pad[0])
    ylim = (Xt[:, 1].min() - pad[1], Xt[:, 1].max() + pad[1])
    gx, gy = np.meshgrid(np.linspace(*xlim, 200), np.linspace(*ylim, 200))
    w_fit, b_fit = est.theta_[:2, 0], est.theta_[2, 0]
    from .losses import sigmoid

    prob = sigmoid(w_fit[0] * gx + w_fit[1] * gy + b_fit)
    ax.contourf(gx, gy, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.15)
    for j, c in enumerate(classes):
        mask = y == c
        ax.scatter(
            Xt[mask, 0], Xt[mask, 1], s=14, color=("tab:blue", "tab:red")[j], alpha=0.7, edgecolor="none",
            label=f"class {c}",
        )  # fmt: skip
    cmap = plt.get_cmap("Greys")
    drawn = [k for k in iterations if _boundary_segment(P[k, :2], P[k, 2], xlim, ylim) is not None]
    for i, k in enumerate(drawn):
        xs, ys = _boundary_segment(P[k, :2], P[k, 2], xlim, ylim)
        last = k == n_iter
        color = "k" if last else cmap(0.3 + 0.6 * i / max(len(drawn) - 1, 1))
        ax.plot(
            xs, ys, color=color, lw=2.4 if last else 1.5, ls="-" if last else "--",
            label=f"boundary at iteration {k}" + (" (fitted)" if last else ""),
        )  # fmt: skip
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    names = getattr(est, "feature_names_in_", None)
    names = [str(n) for n in names] if names is not None else ["feature x0", "feature x1"]
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title("Decision boundary w·x + b = 0 during gradient descent")
    ax.legend(loc="best", fontsize="small", framealpha=0.85)
    return fig


# ------------------------------------------------------------------ saving
def _save(fig, path: Path) -> Path:
    plt = _plt()
    try:
        fig.savefig(path, dpi=_DPI)
    finally:
        plt.close(fig)
    return path


def _out_dir(out_dir) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def save_training_plots(model, X_train, y_train, X_test=None, y_test=None, out_dir: str | Path = ".") -> list[Path]:
    """Write the pictures of a training run as PNG files.

    Always ``loss_curve.png``; for a regression ``predictions.png``
    (predicted vs actual); for a classifier ``confusion_matrix.png`` and, with
    two classes, ``roc_curve.png``; for a two-feature binary classifier fitted
    with ``record_path=True`` also ``decision_boundary.png``.  The
    predictions and metrics use the test set when given, else the training set.

    Parameters
    ----------
    model : fitted LinearRegression, LogisticRegression or Pipeline
    X_train : array-like of shape (n_samples, n_features)
    y_train : array-like of shape (n_samples,)
    X_test, y_test : array-like, optional
    out_dir : str or Path
        Created if missing.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from sklearn.base import is_classifier

    out = _out_dir(out_dir)
    on_test = X_test is not None and y_test is not None and len(y_test) > 0
    X_eval, y_eval = (X_test, y_test) if on_test else (X_train, y_train)
    which = "test set" if on_test else "training set"
    files = [_save(plot_loss_curve(model), out / "loss_curve.png")]
    est, _ = _final_estimator(model)
    if is_classifier(model):
        acc = float(np.mean(_quiet_predict(model.predict, X_eval) == np.asarray(y_eval)))
        title = f"Confusion matrix, {which} (accuracy = {acc:.3f})"
        files.append(_save(plot_confusion_matrix(model, X_eval, y_eval, title=title), out / "confusion_matrix.png"))
        if len(getattr(model, "classes_", ())) == 2:
            fig = plot_roc_curve(model, X_eval, y_eval, title=f"ROC curve, {which}")
            files.append(_save(fig, out / "roc_curve.png"))
            path = getattr(est, "path_", None)
            if path is not None and np.ndim(path) == 2 and np.shape(path)[1] == 3:
                fig = plot_decision_boundary_evolution(model, X_train, y_train)
                files.append(_save(fig, out / "decision_boundary.png"))
    else:
        from sklearn.metrics import r2_score

        r2 = r2_score(y_eval, _quiet_predict(model.predict, X_eval))
        title = f"Predicted vs actual, {which} (R² = {r2:.3f})"
        files.append(_save(plot_predictions(model, X_eval, y_eval, title=title), out / "predictions.png"))
    return files


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "param"


def save_surface_plots(
    model,
    X,
    y,
    params: Sequence[str] | str = ("w0", "b"),
    out_dir: str | Path = ".",
    *,
    path: bool | np.ndarray = True,
    grid_size: int = 60,
    span: float | Sequence[float] | None = None,
) -> list[Path]:
    """Write the loss surface over two parameters as contour and 3-D PNGs.

    Files: ``loss_surface_<p0>_<p1>_contour.png`` and
    ``loss_surface_<p0>_<p1>_3d.png``.  See :func:`plot_loss_surface` for the
    parameters.

    Returns
    -------
    list of pathlib.Path
    """
    names = _param_list(params)
    out = _out_dir(out_dir)
    stem = "loss_surface_" + "_".join(_slug(p) for p in names)
    files = []
    for kind, suffix in (("contour", "contour"), ("surface", "3d")):
        fig = plot_loss_surface(model, X, y, names, kind=kind, grid_size=grid_size, span=span, path=path)
        files.append(_save(fig, out / f"{stem}_{suffix}.png"))
    return files


def save_sweep_plot(sweep: SweepResult, out_dir: str | Path = ".") -> Path:
    """Write :func:`plot_learning_rate_sweep` to ``<out_dir>/learning_rate_sweep.png``."""
    out = _out_dir(out_dir)
    return _save(plot_learning_rate_sweep(sweep), out / "learning_rate_sweep.png")
