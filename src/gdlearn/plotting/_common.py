"""Helpers shared by the plotting modules.

The lazy matplotlib import (:func:`_plt`: matplotlib is imported only when a
function draws, so importing :mod:`gdlearn.plotting` works without it),
figures and Axes, the estimator at the end of a Pipeline, quiet predictions,
and number formatting of axes and labels.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._optional import import_optional


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
