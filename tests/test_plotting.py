"""Tests of gdlearn.plotting: the pictures show exactly the recorded numbers.

Every plot is rendered with the Agg backend (set in conftest) and its content
is read back from the matplotlib artists: line data against ``history_`` and
``path_``, contour levels against an independent evaluation of J, line styles
and labels of diverging runs.  ``plt.show`` is replaced by a function that
fails, and every figure is closed after each test.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.contour import ContourSet
from sklearn.metrics import confusion_matrix
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gdlearn import ConvergenceWarning, LinearRegression, LogisticRegression
from gdlearn.plotting import (
    SweepResult,
    SweepRun,
    learning_rate_sweep,
    plot_confusion_matrix,
    plot_decision_boundary_evolution,
    plot_learning_rate_sweep,
    plot_loss_curve,
    plot_loss_surface,
    plot_predictions,
    plot_roc_curve,
    save_surface_plots,
    save_sweep_plot,
    save_training_plots,
)


@pytest.fixture(autouse=True)
def _no_show_and_close(monkeypatch):
    """plt.show must never be called; no figure may outlive a test."""

    def show(*args, **kwargs):
        raise AssertionError("plt.show() was called")

    monkeypatch.setattr(plt, "show", show)
    plt.close("all")
    yield
    plt.close("all")


def _fit(model, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **kwargs)


def _line(ax, prefix):
    lines = [ln for ln in ax.get_lines() if str(ln.get_label()).startswith(prefix)]
    assert len(lines) == 1, [ln.get_label() for ln in ax.get_lines()]
    return lines[0]


@pytest.fixture(scope="module")
def reg(housing_std):
    X, y = housing_std
    return _fit(LinearRegression(solver="gd", learning_rate=0.1, max_iter=150, record_path=True), X, y)


@pytest.fixture(scope="module")
def one_feature():
    """y = 2x + 1 + noise with x around 3: an elongated (w, b) valley, exact 2-D surface."""
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 1.0, size=(80, 1))
    y = 2.0 * x[:, 0] + 1.0 + 0.5 * rng.normal(size=80)
    model = _fit(LinearRegression(solver="gd", learning_rate=0.05, max_iter=300, record_path=True), x, y)
    return model, x, y


@pytest.fixture(scope="module")
def clf2(breast_cancer_std):
    X, y = breast_cancer_std
    X2 = X[:, [0, 1]]
    return _fit(LogisticRegression(solver="gd", learning_rate=1.0, max_iter=60, record_path=True), X2, y), X2, y


# ------------------------------------------------------------ loss curve
def test_loss_curve_lines_are_the_history(reg):
    fig = plot_loss_curve(reg)
    ax_loss, ax_grad = fig.axes
    k = np.arange(reg.n_iter_ + 1)
    loss = _line(ax_loss, "training loss")
    np.testing.assert_array_equal(loss.get_xdata(), k)
    np.testing.assert_array_equal(loss.get_ydata(), reg.history_["loss"])
    grad = _line(ax_grad, "gradient norm")
    np.testing.assert_array_equal(grad.get_ydata(), reg.history_["grad_norm"])
    stop = _line(ax_loss, "stopped at iteration")
    assert list(stop.get_xdata()) == [reg.n_iter_, reg.n_iter_]
    assert f"iteration {reg.n_iter_} (max_iter)" in stop.get_label()
    tol = _line(ax_grad, "tol =")
    assert list(tol.get_ydata()) == [reg.tol, reg.tol]
    assert not any(ln.get_label().startswith("validation") for ln in ax_loss.get_lines())
    assert ax_grad.get_yscale() == "log"
    assert ax_grad.get_xlabel() == "iteration" and ax_loss.get_ylabel() == "loss J(W, b)"
    # 42 → 11: less than two decades, so a linear axis
    assert ax_loss.get_yscale() == "linear"


def test_loss_curve_validation_and_best_iteration(breast_cancer_std):
    X, y = breast_cancer_std
    model = _fit(
        LogisticRegression(solver="gd", learning_rate=1.0, max_iter=40, early_stopping=True, random_state=0), X, y
    )
    assert model.best_iteration_ is not None
    ax = plot_loss_curve(model).axes[0]
    val = _line(ax, "validation loss")
    np.testing.assert_array_equal(val.get_ydata(), model.history_["val_loss"])
    best = _line(ax, "best iteration")
    assert list(best.get_xdata()) == [model.best_iteration_] * 2
    # 0.66 → 0.07: one decade, but with a validation curve the stall needs a log axis to be seen
    assert ax.get_yscale() == "log"


def test_loss_curve_honours_ax_and_log_scale(reg):
    fig, ax = plt.subplots()
    assert plot_loss_curve(reg, ax=ax) is fig
    assert fig.axes == [ax]  # no gradient-norm panel when ax is given
    assert plt.get_fignums() == [fig.number]  # no other figure was made
    assert ax.get_xlabel() == "iteration"
    plot_loss_curve(reg, ax=ax, log_scale=True)
    assert ax.get_yscale() == "log"

    # an exact fit: J falls by many decades, so "auto" picks a log axis
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 1))
    exact = _fit(LinearRegression(solver="gd", learning_rate=0.5, max_iter=100), x, 3 * x[:, 0] + 1)
    assert exact.loss_curve_[0] / exact.loss_curve_[-1] > 1e4
    assert plot_loss_curve(exact).axes[0].get_yscale() == "log"
    assert plot_loss_curve(exact, log_scale=False).axes[0].get_yscale() == "linear"


# ----------------------------------------------------------- loss surface
def _half_mse(w, b, x, y):
    """J(w, b) = 1/(2m) Σ (w x + b − y)², written out independently of gdlearn."""
    r = w[..., None] * x[:, 0] + b[..., None] - y
    return 0.5 * np.mean(r**2, axis=-1)


def test_loss_surface_path_and_levels(one_feature):
    model, x, y = one_feature
    fig = plot_loss_surface(model, x, y, ("w0", "b"), grid_size=30)
    ax = fig.axes[0]
    path = _line(ax, "gradient descent path")
    px, py = path.get_xdata(), path.get_ydata()
    assert px.size == model.n_iter_ + 1
    # first point: the initial parameters (W = 0, b = mean y); last: the fitted ones
    assert (px[0], py[0]) == (0.0, pytest.approx(y.mean(), rel=1e-12))
    assert (px[-1], py[-1]) == (pytest.approx(model.coef_[0], rel=1e-12), pytest.approx(model.intercept_, rel=1e-12))
    np.testing.assert_array_equal(np.column_stack([px, py]), model.path_)
    # the grid contains the whole path and the fitted point
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 <= px.min() and px.max() <= x1 and y0 <= py.min() and py.max() <= y1
    # contour levels run from the smallest to the largest J on the plotted grid
    W, B = np.meshgrid(np.linspace(x0, x1, 30), np.linspace(y0, y1, 30))
    Z = _half_mse(W, B, x, y)
    contours = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert contours
    for cs in contours:
        assert cs.levels[0] == pytest.approx(Z.min(), rel=1e-9)
        assert cs.levels[-1] == pytest.approx(Z.max(), rel=1e-9)
        assert np.all(np.diff(cs.levels) > 0)
    assert ax.get_xlabel() == "w0" and ax.get_ylabel() == "b (intercept)"
    assert fig.axes[1].get_ylabel() == "loss J(W, b)"  # the colour bar


def test_loss_surface_3d_path_lies_on_the_exact_surface(one_feature):
    model, x, y = one_feature
    fig = plot_loss_surface(model, x, y, kind="surface", grid_size=12)
    (ax,) = fig.axes
    assert ax.name == "3d"
    px, py, pz = _line(ax, "descent path").get_data_3d()
    # one feature: the slice is the whole loss, so the heights are the recorded losses
    np.testing.assert_allclose(pz, model.history_["loss"], rtol=1e-10)
    np.testing.assert_allclose(pz, _half_mse(np.asarray(px), np.asarray(py), x, y), rtol=1e-10)


def test_loss_surface_kinds_ax_and_explicit_path(one_feature):
    model, x, y = one_feature
    fig = plot_loss_surface(model, x, y, kind="both", grid_size=10)
    assert [a.name for a in fig.axes[:2]] == ["rectilinear", "3d"]
    plt.close(fig)

    fig, ax = plt.subplots()
    assert plot_loss_surface(model, x, y, grid_size=10, ax=ax, path=False) is fig
    assert plt.get_fignums() == [fig.number]
    assert not any(ln.get_label().startswith("gradient descent path") for ln in ax.get_lines())
    with pytest.raises(ValueError, match="projection='3d'"):
        plot_loss_surface(model, x, y, kind="surface", grid_size=10, ax=ax)

    mine = np.array([[0.5, 0.0], [1.0, 1.0], [model.coef_[0], model.intercept_]])
    ax = plot_loss_surface(model, x, y, grid_size=10, path=mine).axes[0]
    path = _line(ax, "gradient descent path (2 steps")
    np.testing.assert_array_equal(path.get_xdata(), mine[:, 0])
    elsewhere = plot_loss_surface(model, x, y, grid_size=10, path=mine[:2]).axes[0]
    assert "ends away from the fitted point" in _line(elsewhere, "gradient descent path").get_label()
    with pytest.raises(ValueError, match="grid_size must be from 10 to 1000"):
        plot_loss_surface(model, x, y, grid_size=9)


def test_loss_surface_parameter_names(reg, housing_std):
    X, y = housing_std
    import pandas as pd

    names = [f"f{i}" for i in range(X.shape[1])]
    named = _fit(LinearRegression(), pd.DataFrame(X, columns=names), y)
    ax = plot_loss_surface(named, pd.DataFrame(X, columns=names), y, ("f5", "f11"), grid_size=10, path=False).axes[0]
    assert ax.get_xlabel() == "w5 (f5)" and ax.get_ylabel() == "w11 (f11)"
    fitted = _line(ax, "fitted parameters")
    assert (fitted.get_xdata()[0], fitted.get_ydata()[0]) == (named.coef_[5], named.coef_[11])
    with pytest.raises(ValueError, match="unknown parameter 'nope'"):
        plot_loss_surface(reg, X, y, ("nope", "b"))
    with pytest.raises(ValueError, match="w0 .. w11"):
        plot_loss_surface(reg, X, y, ("w12", "b"))
    with pytest.raises(ValueError, match="exactly two"):
        plot_loss_surface(reg, X, y, ("w0",))

    multi = _fit(LinearRegression(), X, np.column_stack([y, -y]))
    with pytest.raises(ValueError, match=r"2 outputs.*'w0\[1\]'"):
        plot_loss_surface(multi, X, np.column_stack([y, -y]), ("w0", "b"))
    ax = plot_loss_surface(multi, X, np.column_stack([y, -y]), "w0[1],b[1]", grid_size=10).axes[0]
    fitted = _line(ax, "fitted parameters")
    assert (fitted.get_xdata()[0], fitted.get_ydata()[0]) == (multi.coef_[1, 0], multi.intercept_[1])


def test_loss_surface_path_ends_at_the_models_own_coefficients(one_feature, reg, housing_std):
    """The path drawn is the model's to its end; the star is the model's θ, outside the legend; a slice says so."""
    model, x, y = one_feature
    fig = plot_loss_surface(model, x, y, grid_size=10)
    ax = fig.axes[0]
    px, py = _line(ax, "gradient descent path").get_data()
    star = _line(ax, "fitted parameters")
    assert (px[-1], py[-1]) == (star.get_xdata()[0], star.get_ydata()[0]) == (model.coef_[0], model.intercept_)
    assert "exact loss surface" in ax.get_title() and "slice" not in ax.get_title()
    # arrows on the first five steps, each from one recorded point to the next
    arrows = [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
    assert [(a.xy, a.xyann) for a in arrows] == [((px[i + 1], py[i + 1]), (px[i], py[i])) for i in range(5)]
    fig.canvas.draw()  # the legend sits below the axes: it hides nothing, the star least of all
    assert not ax.get_legend().get_window_extent().overlaps(ax.get_window_extent())

    X, y = housing_std
    ax = plot_loss_surface(reg, X, y, ("w5", "w11"), grid_size=10).axes[0]
    px, py = _line(ax, "gradient descent path").get_data()
    assert (px[-1], py[-1]) == (reg.coef_[5], reg.coef_[11])
    assert "a slice of J: the other 11 parameters held at the fitted model's values" in ax.get_title()
    assert "projected" in ax.get_title()


def test_loss_surface_theta_and_points(one_feature):
    model, x, y = one_feature
    other = np.array([[1.5], [2.5]])
    ax = plot_loss_surface(model, x, y, grid_size=10, path=False, theta=other, points={"saved model": model}).axes[0]
    assert list(_line(ax, "fitted parameters").get_xydata()[0]) == [1.5, 2.5]
    assert list(_line(ax, "saved model").get_xydata()[0]) == [model.coef_[0], model.intercept_]


def test_divergence_overlay_leaves_the_picture_above_2_over_L(one_feature):
    """Runs at 0.5, 0.95 and 1.1 × 2/L (L of the data, computed here): descend, zig-zag, fly off; they are gdlearn's."""
    from gdlearn import DivergenceError

    model, x, y = one_feature
    A = np.column_stack([x, np.ones(len(x))])
    L = np.linalg.eigvalsh(A.T @ A / len(x))[-1]
    ax = plot_loss_surface(model, x, y, grid_size=10, learning_rates="auto").axes[0]
    runs = [ln for ln in ax.get_lines() if str(ln.get_label()).startswith("α =")]
    assert len(runs) == 3
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    for line, ratio in zip(runs, (0.5, 0.95, 1.1)):
        assert f"α = {2 * ratio / L:.3g} = {ratio:.3g} × 2/L" in line.get_label()
        px, py = line.get_data()
        assert (px[0], py[0]) == (0.0, pytest.approx(y.mean(), rel=1e-12))  # from the path's start
        inside = (x0 <= px) & (px <= x1) & (y0 <= py) & (py <= y1)
        assert inside.all() == (ratio < 1), ratio  # above 2/L the run leaves the plotted region
        assert ("flies off" in line.get_label()) == (ratio > 1)
    assert "zig-zags" in runs[1].get_label() and "smoothly" in runs[0].get_label()
    # each run is plain gradient descent as gdlearn's fit does it (one feature and b: the slice is all of J)
    for line, ratio in zip(runs, (0.5, 0.95, 1.1)):
        gd = LinearRegression(solver="gd", learning_rate=2 * ratio / L, precondition=False, record_path=True, tol=0)
        n = len(line.get_xdata()) - 1
        try:
            path = _fit(gd.set_params(max_iter=n), x, y).path_
        except DivergenceError as err:  # the error keeps the path of the run that flew off
            path = err.path
        k = min(len(path), n + 1)
        np.testing.assert_allclose(np.column_stack(line.get_data())[:k], path[:k], rtol=1e-9)

    with pytest.raises(ValueError, match="positive"):
        plot_loss_surface(model, x, y, grid_size=10, learning_rates=[0.1, -1])


# ----------------------------------------------------- learning-rate sweep
@pytest.fixture(scope="module")
def sweep(housing_std):
    X, y = housing_std
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = learning_rate_sweep(LinearRegression(), X, y, max_iter=40)
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    return result


def test_sweep_lipschitz_and_divergence(sweep, housing_std):
    X, y = housing_std
    A = np.column_stack([X, np.ones(len(X))])
    L = np.linalg.eigvalsh(A.T @ A / len(X)).max()
    assert sweep.lipschitz == pytest.approx(L, rel=1e-8)
    assert sweep.max_stable_lr == pytest.approx(2 / L, rel=1e-8)
    assert sweep.quadratic
    ratios = [run.learning_rate * L for run in sweep.runs]
    np.testing.assert_allclose(ratios, [0.1, 0.3, 1, 1.5, 1.9, 2.1, 3], rtol=1e-7)
    for run in sweep.runs:
        # the squared loss is quadratic: 2/L is the exact limit
        assert run.diverged == (run.learning_rate > sweep.max_stable_lr)
        assert len(run.loss_curve) == run.n_iter + 1
        assert run.final_loss == run.loss_curve[-1]
        if run.diverged:
            assert run.n_iter < 40 and run.loss_curve[-1] > run.loss_curve[0]
        else:
            assert run.n_iter == 40 and run.loss_curve[-1] < run.loss_curve[0]


def test_sweep_plot_marks_diverging_runs(sweep):
    fig = plot_learning_rate_sweep(sweep)
    ax = fig.axes[0]
    runs = [ln for ln in ax.get_lines() if str(ln.get_label()).startswith("α =")]
    assert len(runs) == len(sweep.runs)
    for line, run in zip(runs, sweep.runs):
        np.testing.assert_array_equal(line.get_ydata(), run.loss_curve)
        assert (line.get_linestyle() == "--") == run.diverged
        assert ("diverged" in line.get_label()) == run.diverged
    assert ax.get_yscale() == "log"
    limit = f"{sweep.max_stable_lr:.3g}"
    assert f"2/L = {limit}" in ax.get_title()
    assert any(f"2/L = {limit}" in t.get_text() for t in ax.get_legend().get_texts())
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "loss J(W, b)"

    fig2, ax2 = plt.subplots()
    assert plot_learning_rate_sweep(sweep, ax=ax2) is fig2
    assert len(plt.get_fignums()) == 2


def test_sweep_pipeline_rates_and_log_loss(housing, breast_cancer_std):
    X, y = housing
    pipe = make_pipeline(StandardScaler(), LinearRegression())
    result = learning_rate_sweep(pipe, X, y, [0.3, 0.01, 0.5], max_iter=10)
    Xs = (X - X.mean(0)) / X.std(0)
    A = np.column_stack([Xs, np.ones(len(X))])
    assert result.lipschitz == pytest.approx(np.linalg.eigvalsh(A.T @ A / len(X)).max(), rel=1e-8)
    assert [r.learning_rate for r in result.runs] == [0.01, 0.3, 0.5]
    assert [r.diverged for r in result.runs] == [False, False, True]
    with pytest.raises(ValueError, match="positive"):
        learning_rate_sweep(LinearRegression(), X, y, [0.1, -1.0])

    Xb, yb = breast_cancer_std
    logistic = learning_rate_sweep(LogisticRegression(), Xb[:, :5], yb, [0.1], max_iter=5)
    assert not logistic.quadratic
    assert "guarantees" in plot_learning_rate_sweep(logistic).axes[0].get_title()


def test_sweep_plot_handles_non_finite_losses():
    runs = [
        SweepRun(0.1, False, 3, 1.0, [4.0, 2.0, 1.5, 1.0], converged=True),
        SweepRun(9.0, True, 3, float("inf"), [4.0, 1e6, 1e200, float("inf")]),
    ]
    ax = plot_learning_rate_sweep(SweepResult(lipschitz=1.0, max_stable_lr=2.0, runs=runs)).axes[0]
    diverged = _line(ax, "α = 9")
    assert np.isnan(diverged.get_ydata()[-1])
    assert ax.get_ylim()[1] <= 4e3 * 1.01  # capped at 1000 × the starting loss


# ----------------------------------------------------- predictions, metrics
def test_predictions_plot(reg, housing_std):
    X, y = housing_std
    fig, ax = plt.subplots()
    assert plot_predictions(reg, X, y, ax=ax) is fig
    (points,) = ax.collections
    np.testing.assert_allclose(points.get_offsets(), np.column_stack([y, reg.predict(X)]))
    diagonal = _line(ax, "perfect prediction")
    np.testing.assert_array_equal(diagonal.get_xdata(), diagonal.get_ydata())
    assert "R² = " in ax.get_title() and ax.get_xlabel() == "actual y"


def test_confusion_matrix_and_roc(clf2):
    model, X, y = clf2
    ax = plot_confusion_matrix(model, X, y).axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), confusion_matrix(y, model.predict(X)))
    assert "accuracy" in ax.get_title()
    ax = plot_roc_curve(model, X, y).axes[0]
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert any("AUC" in lab and "LogisticRegression" in lab for lab in labels)
    assert any("Chance" in lab for lab in labels)
    three = _fit(LogisticRegression(), X, np.arange(len(y)) % 3)
    with pytest.raises(ValueError, match="binary"):
        plot_roc_curve(three, X, np.arange(len(y)) % 3)


def test_decision_boundary_evolution(clf2):
    model, X, y = clf2
    fig, ax = plt.subplots()
    assert plot_decision_boundary_evolution(model, X, y, iterations=[0, 1, 5, 60], ax=ax) is fig
    lines = [ln for ln in ax.get_lines() if ln.get_label().startswith("boundary at iteration")]
    # iteration 0 has W = 0: no boundary yet
    assert [ln.get_label() for ln in lines] == [
        "boundary at iteration 1",
        "boundary at iteration 5",
        "boundary at iteration 60 (fitted)",
    ]
    for line, k in zip(lines, [1, 5, 60]):
        w, b = model.path_[k, :2], model.path_[k, 2]
        pts = np.column_stack([line.get_xdata(), line.get_ydata()])
        np.testing.assert_allclose(pts @ w + b, 0.0, atol=1e-9)
    np.testing.assert_array_equal(model.path_[60], np.r_[model.coef_[0], model.intercept_])
    default = plot_decision_boundary_evolution(model, X, y).axes[0]
    assert sum(ln.get_label().endswith("(fitted)") for ln in default.get_lines()) == 1
    with pytest.raises(ValueError, match="out of range"):
        plot_decision_boundary_evolution(model, X, y, iterations=[61])
    no_path = _fit(LogisticRegression(max_iter=20), X, y)
    with pytest.raises(ValueError, match="record_path=True"):
        plot_decision_boundary_evolution(no_path, X, y)


# ------------------------------------------------------------------ saving
def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_save_training_plots(tmp_path, reg, housing_std, clf2):
    X, y = housing_std
    out = tmp_path / "new" / "reg"
    files = save_training_plots(reg, X[:400], y[:400], X[400:], y[400:], out)
    assert [f.name for f in files] == ["loss_curve.png", "predictions.png"]
    assert all(f.parent == out and _is_png(f) for f in files)
    assert plt.get_fignums() == []  # every figure was closed

    model, X2, y2 = clf2
    files = save_training_plots(model, X2, y2, None, None, tmp_path / "clf")
    names = [f.name for f in files]
    assert names == ["loss_curve.png", "confusion_matrix.png", "roc_curve.png", "decision_boundary.png"]
    assert all(_is_png(f) for f in files) and plt.get_fignums() == []


def test_save_surface_and_sweep(tmp_path, one_feature, sweep):
    model, x, y = one_feature
    files = save_surface_plots(model, x, y, "w0,b", tmp_path, grid_size=10)
    assert [f.name for f in files] == ["loss_surface_w0_b_contour.png", "loss_surface_w0_b_3d.png"]
    path = save_sweep_plot(sweep, tmp_path)
    assert path == tmp_path / "learning_rate_sweep.png" and _is_png(path)
    assert plt.get_fignums() == []


# --------------------------------------------------------------- no matplotlib
def test_missing_matplotlib_names_the_extra(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        sys.modules["matplotlib"] = None  # as if it were not installed
        import numpy as np
        import gdlearn, gdlearn.plotting
        from gdlearn import LinearRegression
        from gdlearn.plotting import learning_rate_sweep, plot_loss_curve
        rng = np.random.default_rng(0)
        X = rng.normal(size=(30, 2)); y = X @ [1.0, 2.0]
        model = LinearRegression().fit(X, y)
        assert len(learning_rate_sweep(LinearRegression(), X, y, max_iter=5).runs) == 7  # needs no matplotlib
        assert gdlearn.explore(X, y, out="page.html").stat().st_size > 1000  # the explorer page neither
        try:
            plot_loss_curve(model)
        except ImportError as exc:
            print(exc)
        else:
            raise SystemExit("no ImportError")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'pip install "gdlearn[plot]"' in proc.stdout
    assert "matplotlib is needed for plotting" in proc.stdout


# ------------------------------------------------------------ the docs' pictures
def test_every_docs_picture_is_made_by_the_code_above_it():
    """docs/make_images.py makes each picture of the README and docs/ from the python block printed above it, and
    docs/images holds exactly those pictures (no stale one that no code makes)."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("make_images", root / "docs" / "make_images.py")
    make_images = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_images)
    made = [name for path in make_images.DOCS for _, images in make_images.plan(path) for name in images]
    assert sorted(set(made)) == sorted(p.name for p in (root / "docs" / "images").glob("*.png"))
    assert "tour_divergence.png" in made and "loss_surface_divergence.png" in made
