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

from ._param_names import _resolve_params as _resolve_params  # for the command line (gdlearn._cli_plots)
from .curves import plot_loss_curve
from .model_views import plot_confusion_matrix, plot_decision_boundary_evolution, plot_predictions, plot_roc_curve
from .save import save_surface_plots, save_sweep_plot, save_training_plots
from .surface import plot_loss_surface
from .sweep import SweepResult, SweepRun, learning_rate_sweep, plot_learning_rate_sweep

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
