"""Writing the pictures as PNG files: the figures are made, saved and closed."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ._common import _final_estimator, _plt, _quiet_predict
from ._param_names import _param_list
from .curves import plot_loss_curve
from .model_views import plot_confusion_matrix, plot_decision_boundary_evolution, plot_predictions, plot_roc_curve
from .surface import plot_loss_surface
from .sweep import SweepResult, plot_learning_rate_sweep

__all__ = ["save_training_plots", "save_surface_plots", "save_sweep_plot"]

_DPI = 100


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
    learning_rates: str | Sequence[float] | None = None,
    theta: np.ndarray | None = None,
    points: Mapping[str, object] | None = None,
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
        fig = plot_loss_surface(
            model, X, y, names, kind=kind, grid_size=grid_size, span=span, path=path,
            learning_rates=learning_rates, theta=theta, points=points,
        )  # fmt: skip
        files.append(_save(fig, out / f"{stem}_{suffix}.png"))
    return files


def save_sweep_plot(sweep: SweepResult, out_dir: str | Path = ".") -> Path:
    """Write :func:`plot_learning_rate_sweep` to ``<out_dir>/learning_rate_sweep.png``."""
    out = _out_dir(out_dir)
    return _save(plot_learning_rate_sweep(sweep), out / "learning_rate_sweep.png")
