"""Pictures of a fitted model: predictions, confusion matrix, ROC curve, decision boundary during descent."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ._common import _final_estimator, _new_axes, _plt, _quiet_predict, _require_fitted

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_predictions", "plot_confusion_matrix", "plot_roc_curve", "plot_decision_boundary_evolution"]


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
    from ..losses import sigmoid

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
