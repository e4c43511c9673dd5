"""The loss surface over two parameters, with the path gradient descent took and runs at several step sizes α."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ._common import _final_estimator, _fmt, _plt
from ._param_names import _resolve_params
from ._slice import Run, Slice

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_loss_surface", "AUTO_RATES"]

#: The largest ``grid_size``: 1,000 × 1,000 evaluations of J already take minutes.
MAX_GRID_SIZE = 1000
#: The smallest ``grid_size``: coarser grids draw contours that are artefacts of the grid, not of J.
MIN_GRID_SIZE = 10
#: ``learning_rates="auto"``: α in units of 2/L (L of the slice): descends smoothly, zig-zags, flies off.
AUTO_RATES = (0.5, 0.95, 1.1)
#: Arrows on the first steps of the path; dots every k steps so that about this many show.
_ARROWS, _DOTS = 5, 30
_RUN_COLORS = ("tab:cyan", "tab:orange", "magenta", "tab:brown", "tab:pink", "tab:olive")


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


def _as_theta(value, shape) -> np.ndarray:
    """θ of a fitted estimator, or an array of θ's shape (or [W, b] as a row of ``path_``)."""
    if hasattr(value, "theta_"):
        value = value.theta_
    t = np.asarray(value, dtype=float)
    if t.size != int(np.prod(shape)):
        raise ValueError(f"expected parameters of shape {shape} (θ: W, then b), got shape {t.shape}.")
    return t.reshape(shape[::-1]).T if t.shape != shape else t


def _surface_data(model, X, y, params, grid_size, span, path, theta=None, runs=None):
    """The slice, the grid of J, the path on it, the fitted point, and the overlaid runs (``runs``: rates, start,
    steps); the grid contains the path, the runs' start and every run that did not fly off."""
    est, Xt = _final_estimator(model, X)
    specs = _resolve_params(est, params)
    obj = est.get_objective(Xt, y)
    theta = est.theta_ if theta is None else _as_theta(theta, est.theta_.shape)
    n_outputs = theta.shape[1]
    if path is True:
        P = _path_coords(getattr(est, "path_", None), n_outputs)
    elif path is False or path is None:
        P = None
    else:
        P = _path_coords(path, n_outputs)
    (r0, c0, _), (r1, c1, _) = specs
    sl = Slice(obj, theta, [(r0, c0), (r1, c1)])
    J_fit = sl.value(sl.center)
    spans = span if isinstance(span, (Sequence, np.ndarray)) else (span, span)
    shown = [None if P is None else P[:, col, row] for row, col, _ in specs]  # what the grid must contain
    if runs is not None and runs[1] is not None:
        shown = [np.append([] if v is None else v, float(runs[1][k])) for k, v in enumerate(shown)]

    def limits():
        out = []
        for k, ((row, col, _), s) in enumerate(zip(specs, spans)):
            e = np.zeros_like(theta)
            e[row, col] = 1.0
            curvature = float(obj.hessian_bound_matvec(e)[row, col])
            out.append(_axis_range(theta[row, col], curvature, J_fit, s, shown[k]))
        return out

    lims, L, done = limits(), None, []
    if runs is not None:
        rates, start, steps = runs
        if start is None and P is not None:  # where the path starts
            start = [P[0, c0, r0], P[0, c1, r1]]
        elif start is None:  # 10% in from the lower-left corner
            start = [lo + 0.1 * (hi - lo) for lo, hi in lims]
        L, done = _runs(sl, rates, start, steps, lims)
        for run in done:  # the picture holds every run that did not fly off
            if run.outcome != "diverged":
                shown = [np.append([] if v is None else v, run.path[:, k]) for k, v in enumerate(shown)]
        lims = limits()
    axes = []
    for (lo, hi), s in zip(lims, spans):
        with np.errstate(over="ignore", invalid="ignore"):
            axis = np.linspace(lo, hi, int(grid_size))
        if not np.all(np.isfinite(axis)):
            raise ValueError(f"span={s!r} takes the grid beyond double precision's range; use a smaller span.")
        axes.append(axis)
    A, B = np.meshgrid(axes[0], axes[1])
    Z = np.empty_like(A)
    with np.errstate(over="ignore", invalid="ignore"):
        for idx in np.ndindex(A.shape):
            Z[idx] = sl.value((A[idx], B[idx]))
    if not np.all(np.isfinite(Z)):
        raise ValueError(
            f"J is not finite on this grid ({A.min():.3g} to {A.max():.3g}, {B.min():.3g} to {B.max():.3g}): "
            "it overflows double precision. Use a smaller span."
        )
    path_xyz = None
    if P is not None:
        px, py = P[:, c0, r0], P[:, c1, r1]
        pz = np.array([sl.value(p) for p in zip(px, py)])  # the loss on the slice, so the path lies on the surface
        path_xyz = (px, py, pz)
    fitted = (*sl.center, J_fit)
    return est, specs, A, B, Z, path_xyz, fitted, sl, L, done


def _levels(Z: np.ndarray, n: int = 20) -> np.ndarray:
    """Contour levels from min to max of Z, denser near the minimum.

    zmin + (zmax − zmin)·t² for evenly spaced t: on a quadratic bowl the
    contours are then evenly spaced ellipses.
    """
    zmin, zmax = float(np.nanmin(Z)), float(np.nanmax(Z))
    if not zmax > zmin:
        zmax = zmin + max(abs(zmin), 1.0) * 1e-6
    return zmin + (zmax - zmin) * np.linspace(0.0, 1.0, n) ** 2


def _runs(sl: Slice, learning_rates, start, steps: int, lims) -> tuple[float, list[Run]]:
    """Plain gradient descent on the slice at each α; a run more than ten picture-widths out has flown off."""
    L = sl.lipschitz()
    if isinstance(learning_rates, str):
        if learning_rates != "auto":
            raise ValueError(f"learning_rates must be 'auto' or positive numbers, got {learning_rates!r}.")
        rates = np.array(AUTO_RATES) * 2.0 / L
    else:
        rates = np.asarray(learning_rates, dtype=float).ravel()
        if rates.size == 0 or not np.all(np.isfinite(rates)) or np.any(rates <= 0):
            raise ValueError(f"learning_rates must be positive numbers, got {learning_rates!r}.")
    box = [(lo - 10 * (hi - lo), hi + 10 * (hi - lo)) for lo, hi in lims]
    return L, [sl.descend(start, float(alpha), steps, box) for alpha in rates]


def _run_label(run: Run, L: float) -> str:
    ratio = run.alpha * L / 2.0
    head = f"α = {_fmt(run.alpha)} = {ratio:.3g} × 2/L"
    n = len(run.path) - 1
    if run.outcome == "diverged":
        return f"{head}: flies off (left the picture after {n} step{'s' if n != 1 else ''})"
    how = "zig-zags" if run.zigzag else "descends smoothly"
    return f"{head}: {how}" + (", converged" if run.outcome == "converged" else f" ({n} steps)")


def _draw_path(ax, px, py, label: str) -> None:
    """The descent path: a line, dots every k steps, arrows on the first few steps, the start circled."""
    n = px.size - 1
    every = max(1, int(np.ceil(n / _DOTS)))
    dots = f"dots every {every} steps" if every > 1 else "a dot per step"
    first = f"; arrows on the first {min(_ARROWS, n)}" if n else ""
    ax.plot(px, py, "-", color="tab:red", lw=1.2, zorder=4, label=f"{label} ({n} steps; {dots}{first})")
    ax.plot(px[::every], py[::every], ".", color="tab:red", ms=5, zorder=4)
    for i in range(min(_ARROWS, n)):
        if (px[i + 1], py[i + 1]) != (px[i], py[i]):
            ax.annotate(
                "", xy=(px[i + 1], py[i + 1]), xytext=(px[i], py[i]), zorder=5,
                arrowprops={"arrowstyle": "-|>", "color": "white", "lw": 1.2, "mutation_scale": 14, "alpha": 0.9},
            )  # fmt: skip
    ax.plot(px[:1], py[:1], "o", color="white", mec="k", ms=8, zorder=6, label="start (iteration 0)")


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
    learning_rates: str | Sequence[float] | None = None,
    start: Sequence[float] | None = None,
    run_steps: int = 60,
    theta: np.ndarray | None = None,
    points: Mapping[str, object] | None = None,
    ax: Axes | Sequence[Axes] | None = None,
) -> Figure:
    """The loss J over two parameters, with the path gradient descent took.

    J is evaluated on a ``grid_size`` × ``grid_size`` grid of the two named
    parameters with every other parameter held at its fitted value.  For a
    model with one feature and ``params=("w0", "b")`` this is the exact loss
    surface over (w, b); otherwise it is a slice through J at the fitted
    model, and the title says so.

    The descent path is ``model.path_`` (fit with ``record_path=True``): its
    first point is the initial parameters (iteration 0), its last the fitted
    ones (the star), so the path drawn is the path of the model shown, to
    its end.  Arrows mark the first steps and dots every k-th step.  With
    more than two parameters the path is the descent's two coordinates (it
    moved all parameters, while the slice holds the others at their final
    values, so on the slice it may seem to cross the contours uphill); on
    the 3-D surface it is drawn at the height of the slice.  Parameters are
    in the user's units.

    With ``learning_rates`` the picture also shows plain gradient descent on
    the drawn surface itself at each step size α, (a, b) ← (a, b) − α ∇J(a, b)
    from the same start: below 2/L (L: the largest curvature of the slice)
    the runs descend, above 1/L they zig-zag across the valley, above 2/L
    they fly off the picture.  For a model with one feature and b these runs
    are exactly ``solver="gd", precondition=False`` fits.

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
        Grid points per parameter, from 10 to 1000.
    span : float or pair of float, optional
        Half-width of the grid around each fitted value.  Default: where the
        loss roughly doubles (from the curvature of J along that parameter).
        The grid is always widened to contain the whole path.
    path : bool or ndarray, default=True
        True: draw ``model.path_`` if the model has one.  An array of shape
        (n_steps, n_features + 1) (or (n_steps, n_outputs, n_features + 1)),
        rows [W, b] as in ``path_``: draw that path instead (its label says
        so when it does not end at the fitted point).
    learning_rates : "auto" or sequence of float, optional
        Overlay plain gradient descent on the slice at these step sizes α.
        ``"auto"``: α = 0.5, 0.95 and 1.1 times 2/L, one run that descends,
        one that zig-zags, one that flies off.
    start : pair of float, optional
        Where the overlaid runs start.  Default: the first point of the path,
        else the grid point 10% in from the lower-left corner.
    run_steps : int, default=60
        The most steps of each overlaid run.
    theta : ndarray of shape (n_features + 1, n_outputs), optional
        Draw around these parameters instead of the model's ``theta_`` (e.g.
        the model's parameters mapped to standardised features).
    points : mapping of str to parameters, optional
        Further points to mark, by label: a fitted estimator or its θ.
    ax : Axes, or pair (2-D Axes, 3-D Axes) for ``kind="both"``, optional
        A 3-D Axes (``projection="3d"``) for ``kind="surface"``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Unknown parameter names, a multi-output model without an output
        index, a ``grid_size`` out of range, or an unsuitable ``ax``.
    """
    plt = _plt()
    if kind not in ("contour", "surface", "both"):
        raise ValueError(f"kind must be 'contour', 'surface' or 'both', got {kind!r}.")
    if not MIN_GRID_SIZE <= int(grid_size) <= MAX_GRID_SIZE:
        raise ValueError(
            f"grid_size must be from {MIN_GRID_SIZE} to {MAX_GRID_SIZE} (a grid of N × N evaluations of J, each a "
            f"pass over X; fewer than {MIN_GRID_SIZE} points draw the grid, not J), got {grid_size!r}."
        )
    if start is not None and (np.shape(start) != (2,) or not np.all(np.isfinite(start))):
        raise ValueError(f"start must be two finite numbers (a, b), got {start!r}.")
    runs = None if learning_rates is None else (learning_rates, start, int(run_steps))
    est, specs, A, B, Z, path_xyz, fitted, sl, L, runs = _surface_data(
        model, X, y, params, grid_size, span, path, theta, runs
    )
    (_, _, label0), (_, _, label1) = specs
    marks = {}
    for name, value in (points or {}).items():
        t = _as_theta(value, sl.theta.shape)
        ab = [t[i] for i in sl.index]
        marks[name] = (*ab, sl.value(ab))
    if ax is None:
        if kind == "both":
            fig = plt.figure(figsize=(13, 6.5), layout="constrained")
            axes = (fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2, projection="3d"))
        else:
            fig = plt.figure(figsize=(7, 7) if kind == "contour" else (7.5, 7.5), layout="constrained")
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
    n_params = sl.theta.size
    name0, name1 = label0.split(" ")[0], label1.split(" ")[0]
    title = f"Loss surface J({name0}, {name1})"
    if sl.exact:
        subtitle = "the exact loss surface (the model has these two parameters only)"
    else:
        subtitle = f"a slice of J: the other {n_params - 2} parameters held at the fitted model's values" + (
            "\n(the descent moved all of them: its path is projected onto this plane)" if path_xyz else ""
        )
    path_label = "gradient descent path"
    if path_xyz is not None and not np.allclose([path_xyz[0][-1], path_xyz[1][-1]], fitted[:2], rtol=1e-9, atol=1e-12):
        path_label += ", ends away from the fitted point"
    legend_kw = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.1), "fontsize": "small", "ncols": 1}
    if contour_ax is not None:
        ax2 = contour_ax
        filled = ax2.contourf(A, B, Z, levels=levels, cmap="viridis")
        ax2.contour(A, B, Z, levels=levels, colors="k", linewidths=0.4, alpha=0.5)
        cbar = fig.colorbar(filled, ax=ax2, ticks=levels[::3], format="%.4g")
        cbar.set_label("loss J(W, b)")
        if path_xyz is not None:
            _draw_path(ax2, path_xyz[0], path_xyz[1], path_label)
        for run, color in zip(runs, _RUN_COLORS * 4):
            ls = "--" if run.outcome == "diverged" else "-"
            ax2.plot(*run.path.T, ls, color=color, lw=1.3, marker=".", ms=4, zorder=3, label=_run_label(run, L))
        if runs and path_xyz is None:
            ax2.plot(*runs[0].path[0], "o", color="white", mec="k", ms=8, zorder=6, label="start of the runs")
        for (name, (a, b, _)), marker in zip(marks.items(), "DPXs^v" * 4):
            ax2.plot([a], [b], marker, color="white", mec="k", ms=9, zorder=7, label=name)
        ax2.plot([fitted[0]], [fitted[1]], "*", color="gold", mec="k", ms=18, zorder=8, label="fitted parameters")
        ax2.set_xlim(A[0, 0], A[0, -1])
        ax2.set_ylim(B[0, 0], B[-1, 0])
        ax2.set_xlabel(label0)
        ax2.set_ylabel(label1)
        ax2.set_title(f"{title}\n{subtitle}", fontsize="medium")
        ax2.legend(**legend_kw)
    if surface_ax is not None:
        ax3 = surface_ax
        ax3.plot_surface(A, B, Z, cmap="viridis", alpha=0.6, linewidth=0, antialiased=True, rcount=30, ccount=30)
        if path_xyz is not None:
            px, py, pz = path_xyz
            ax3.plot(px, py, pz, "-", color="tab:red", lw=2.0, zorder=10, label=f"descent path ({px.size - 1} steps)")
            ax3.scatter(px[:1], py[:1], pz[:1], color="white", edgecolor="k", s=50, zorder=11, label="start")
        lo, hi = (A[0, 0], B[0, 0]), (A[0, -1], B[-1, 0])
        for run, color in zip(runs, _RUN_COLORS * 4):
            inside = np.all((run.path >= lo) & (run.path <= hi), axis=1)
            keep = inside if not run.outcome == "diverged" else np.cumprod(inside).astype(bool)
            pts = run.path[keep]
            pz = np.array([sl.value(p) for p in pts])
            ax3.plot(*pts.T, pz, color=color, lw=1.3, marker=".", ms=3, zorder=9, label=_run_label(run, L))
        for name, (a, b, j) in marks.items():
            ax3.scatter([a], [b], [j], marker="D", color="white", edgecolor="k", s=50, zorder=11, label=name)
        ax3.scatter(
            [fitted[0]], [fitted[1]], [fitted[2]], marker="*", color="gold", edgecolor="k", s=200, zorder=12,
            label="fitted parameters",
        )  # fmt: skip
        ax3.set_xlabel(label0)
        ax3.set_ylabel(label1)
        ax3.set_zlabel("loss J(W, b)")
        ax3.set_title(f"{title}\n{subtitle}", fontsize="medium")
        ax3.legend(**{**legend_kw, "bbox_to_anchor": (0.5, 0.0)})
    return fig
