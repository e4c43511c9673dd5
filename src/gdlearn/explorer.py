"""An explorer page: gradient descent on the loss surface of two parameters, in the browser.

:func:`explore` fits a model to convergence with gdlearn, takes the loss J over
two of its parameters (the exact surface for one feature and b; otherwise a
slice through the fitted model, every other parameter held at its fitted
value) and writes one self-contained HTML file.  The page computes J and its
gradient itself from a few numbers per data row, so it needs no network and no
server: a slider sets the step size α in units of 2/L, a menu the solver, a
click the starting point, and the descent is replayed step by step beside its
loss curve, with the gradient step and the change of J for a small nudge of
each parameter at the current point.

Needs only NumPy and scikit-learn (no matplotlib).

Examples
--------
>>> from gdlearn import LinearRegression
>>> from gdlearn.datasets import load_housing
>>> from gdlearn.explorer import explore
>>> X, y = load_housing(return_X_y=True)
>>> page = explore(X[:, [11]], y, ("w0", "b"), "lstat.html", feature_names=["LSTAT"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["explore", "MAX_ROWS"]

#: The most rows for the log loss, which the page sums over at every step (the squared loss needs six numbers).
MAX_ROWS = 50_000
_PLACEHOLDER = "/*GDLEARN_DATA*/null"


def _slice_data(est, X: np.ndarray, y, specs) -> dict:
    """What the page needs to evaluate J(a, b) and its gradient: z_i = c_i + a·u_i + b·v_i and the penalties."""
    theta = est.theta_
    p, m = X.shape[1], X.shape[0]
    rows = [row for row, _, _ in specs]
    cols = [X[:, r] if r < p else np.ones(m) for r in rows]
    z = X @ theta[:-1, 0] + theta[-1, 0]
    c = z - sum(theta[r, 0] * u for r, u in zip(rows, cols))
    l2 = float(est.l2) / m
    held = [j for j in range(p) if j not in rows]
    data = {
        "m": m,
        "pen": [l2 if r < p else 0.0 for r in rows],
        "penConst": 0.5 * l2 * float(np.sum(theta[held, 0] ** 2)),
    }
    u, v = cols
    if hasattr(est, "classes_"):
        t = (np.asarray(y) == est.classes_[1]).astype(float)
        data.update(kind="logistic", u=u.tolist(), v=v.tolist(), c=c.tolist(), t=t.tolist())
    else:
        r = c - np.asarray(y, dtype=float)
        q = {"uu": u @ u, "uv": u @ v, "vv": v @ v, "ur": u @ r, "vr": v @ r, "rr": r @ r}
        data.update(kind="quadratic", q={k: float(x) for k, x in q.items()})
    return data


def _page_value(data: dict, a: float, b: float) -> float:
    """J(a, b) as the page computes it (the same formulas, in NumPy): checked against gdlearn before writing."""
    if data["kind"] == "quadratic":
        q, m = data["q"], data["m"]
        J = (q["uu"] * a * a + 2 * q["uv"] * a * b + q["vv"] * b * b + 2 * q["ur"] * a + 2 * q["vr"] * b + q["rr"]) / (
            2 * m
        )
    else:
        z = np.asarray(data["c"]) + a * np.asarray(data["u"]) + b * np.asarray(data["v"])
        J = float(np.mean(np.logaddexp(0.0, z) - np.asarray(data["t"]) * z))
    return J + 0.5 * (data["pen"][0] * a * a + data["pen"][1] * b * b) + data["penConst"]


def explore(
    X,
    y,
    params: Sequence[str] | str = ("w0", "b"),
    out: str | os.PathLike = "explore.html",
    *,
    estimator=None,
    standardize: bool = False,
    feature_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Write a self-contained HTML page to watch gradient descent on J over two parameters.

    A clone of ``estimator`` is fitted to convergence (its own solver,
    ``tol=1e-10``); the page shows J over the two named parameters around the
    fitted optimum: the exact loss surface for a model with one feature and
    ``params=("w0", "b")``, otherwise a slice with every other parameter held
    at its fitted value (the page says so and lists them).  In the page:

    * a slider sets α in units of 2/L, L the largest curvature of J on the
      picture (the largest eigenvalue of its 2 × 2 Hessian, or of the log
      loss's curvature bound); above 2/L plain gradient descent diverges;
    * a menu picks the solver: gd, momentum, nesterov, adagrad, rmsprop or
      adam, with gdlearn's update rules and default constants;
    * a click on the surface picks the starting point (default: gdlearn's
      usual start, W = 0 and b the best constant);
    * the run is replayed step by step, with its loss curve log₁₀(J − J*), the
      gradient step −α∇J drawn at the current point, and a table of the
      "nudge": the gradient, and the change of J for a small nudge ε of each
      parameter beside ε·∂J/∂θ.

    The page computes J and its gradient in JavaScript: from six sums for the
    squared loss, from three numbers per row for the log loss (at most
    :data:`MAX_ROWS` rows).  Before writing, J as the page computes it is
    checked against gdlearn's objective.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        A numeric target (regression) or two classes (with a
        :class:`~gdlearn.LogisticRegression` estimator).
    params : pair of str or "name,name", default=("w0", "b")
        As in :func:`gdlearn.plotting.plot_loss_surface`: ``"w3"``, a feature
        name, or ``"b"``.
    out : str or path-like, default="explore.html"
        The page to write (its directory must exist).
    estimator : LinearRegression or LogisticRegression, optional
        Its settings (``l2``, ``fit_intercept``) define J; default
        ``LinearRegression()``.  Not fitted in place.  One output only, and
        ``l1=0`` (the page descends on a smooth J).
    standardize : bool, default=False
        Scale the features to mean 0 and standard deviation 1 first.
    feature_names : sequence of str, optional
        Names of the columns of X (taken from a DataFrame's columns when not
        given), so that ``params`` may name features.
    title : str, optional
        What the page is about (default: the estimator's class name).

    Returns
    -------
    pathlib.Path
        The page written.

    Raises
    ------
    ValueError
        Unknown parameter names, a model with several outputs or an L1
        penalty, or too many rows for the log loss.
    """
    from sklearn.base import clone

    from ._version import __version__
    from .estimators import LinearRegression
    from .plotting._param_names import _resolve_params
    from .plotting._slice import Slice
    from .plotting.surface import _axis_range

    est = clone(LinearRegression() if estimator is None else estimator)
    if getattr(est, "l1", 0.0):
        raise ValueError("explore: the page descends on a smooth J; an L1 penalty (l1 > 0) is not supported.")
    if feature_names is None and hasattr(X, "columns"):
        feature_names = [str(c) for c in X.columns]
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"explore: X must be 2-D (n_samples, n_features), got shape {X.shape}.")
    note = f"J is measured on {X.shape[0]} rows."
    if standardize:
        scale = X.std(axis=0)
        X = (X - X.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
        note += " The features were standardised (mean 0, standard deviation 1)."
    est.set_params(tol=1e-10, max_iter=max(int(est.max_iter), 10_000), record_path=False, checkpoint=None)
    est.fit(X, y)
    if feature_names is not None:
        est.feature_names_in_ = np.asarray([str(n) for n in feature_names], dtype=object)
    if est.theta_.shape[1] != 1:
        raise ValueError(
            "explore: the page shows a model with one output (regression of one target, or two classes); "
            f"this one has {est.theta_.shape[1]}."
        )
    specs = _resolve_params(est, params)
    if hasattr(est, "classes_") and X.shape[0] > MAX_ROWS:
        raise ValueError(
            f"explore: {X.shape[0]} rows; the page evaluates the log loss over every row at each step, so at most "
            f"{MAX_ROWS}. Use a sample of the rows."
        )
    theta = est.theta_
    problem = est.get_objective(X, y)
    sl = Slice(problem, theta, [(row, col) for row, col, _ in specs])
    data = _slice_data(est, X, y, specs)
    b0 = float(theta[-1, 0])  # the usual start: W = 0, b = the best constant
    if hasattr(est, "classes_"):
        share = float(np.clip(np.mean(data["t"]), 1e-12, 1 - 1e-12))
        b0 = float(np.log(share / (1.0 - share)))
    else:
        b0 = float(np.mean(y.astype(float)))
    p = X.shape[1]
    start = [b0 if row == p else 0.0 for row, _, _ in specs]
    center = sl.center
    J_star = sl.value(center)
    H = sl.hessian_bound()
    extent = []  # around the optimum, the start well inside
    for i in range(2):
        lo, hi = _axis_range(center[i], H[i, i], J_star, None, np.array([start[i], 2 * center[i] - start[i]]))
        pad = 0.1 * (hi - lo)
        extent.append([lo - pad, hi + pad])
    for ab in (center, start, [extent[0][0], extent[1][1]]):
        mine, theirs = _page_value(data, *ab), sl.value(ab)
        if not abs(mine - theirs) <= 1e-9 * max(1.0, abs(theirs)):  # pragma: no cover - a bug, not a user error
            raise RuntimeError(f"explore: the page's J({ab}) = {mine!r} differs from gdlearn's {theirs!r}.")
    held_rows = [(r, c) for r in range(theta.shape[0]) for c in range(1) if (r, c) not in sl.index]
    names = list(getattr(est, "feature_names_in_", [])) or [f"w{j}" for j in range(p)]
    held = [f"{'b' if r == p else names[r]} = {theta[r, 0]:.4g}" for r, _ in held_rows]
    data.update(
        names=[label for _, _, label in specs],
        title=title or type(est).__name__,
        exact=sl.exact,
        others=len(held),
        held=", ".join(held[:6]) + (f" and {len(held) - 6} more" if len(held) > 6 else ""),
        note=note + f" Made by gdlearn {__version__}.",
        optimum=[float(v) for v in center],
        Jstar=J_star,
        L=sl.lipschitz(),
        start=start,
        extent=extent,
    )
    payload = json.dumps(data, allow_nan=False).replace("</", "<\\/")
    template = resources.files("gdlearn").joinpath("_explore_page.html").read_text(encoding="utf-8")
    path = Path(out)
    path.write_text(template.replace(_PLACEHOLDER, payload), encoding="utf-8")
    return path
