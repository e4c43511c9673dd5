"""The loss curve of a fit: loss and gradient norm per iteration."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import _final_estimator, _finite, _fmt, _log_yaxis, _plt, _require_fitted

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_loss_curve"]

#: Loss values spanning more than this factor are drawn on a log scale (``log_scale="auto"``).
_LOG_SPAN = 100.0
#: With a validation curve (early stopping) the stall near the bottom is the point: a log scale from this factor on.
_LOG_SPAN_VALIDATION = 3.0


def _wants_log(values: np.ndarray, log_scale, span: float = _LOG_SPAN) -> bool:
    if log_scale != "auto":
        return bool(log_scale)
    v = values[np.isfinite(values)]
    if v.size == 0 or np.any(v <= 0):
        return False
    return float(v.max() / v.min()) > span


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
        or diverges), or, with a validation curve (early stopping), more than
        3 times the smallest: a linear axis would squash the stall that
        early stopping watches into the bottom of the plot.  The curve always shows J itself, never J − min J, so the
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
    span = _LOG_SPAN_VALIDATION if "val_loss" in h else _LOG_SPAN
    if _wants_log(np.concatenate(shown), log_scale, span):
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
