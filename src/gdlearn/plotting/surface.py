"""The loss surface over two parameters, with the path gradient descent took."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ._common import _final_estimator, _plt
from ._param_names import _resolve_params

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_loss_surface"]

#: The largest ``grid_size``: 1,000 × 1,000 evaluations of J already take minutes.
MAX_GRID_SIZE = 1000


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
        with np.errstate(over="ignore", invalid="ignore"):
            axis = np.linspace(lo, hi, int(grid_size))
        if not np.all(np.isfinite(axis)):
            raise ValueError(f"span={s!r} takes the grid beyond double precision's range; use a smaller span.")
        axes.append(axis)
    A, B = np.meshgrid(axes[0], axes[1])
    Z = np.empty_like(A)
    t = theta.copy()
    (r0, c0, _), (r1, c1, _) = specs
    with np.errstate(over="ignore", invalid="ignore"):
        for idx in np.ndindex(A.shape):
            t[r0, c0], t[r1, c1] = A[idx], B[idx]
            Z[idx] = obj.value(t)
    if not np.all(np.isfinite(Z)):
        raise ValueError(
            f"J is not finite on this grid ({A.min():.3g} to {A.max():.3g}, {B.min():.3g} to {B.max():.3g}): "
            "it overflows double precision. Use a smaller span."
        )
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
    if not 2 <= int(grid_size) <= MAX_GRID_SIZE:
        raise ValueError(
            f"grid_size must be from 2 to {MAX_GRID_SIZE} (a grid of N × N evaluations of J, each a pass over X), "
            f"got {grid_size!r}."
        )
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
