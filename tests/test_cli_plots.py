"""End-to-end tests of ``gdlearn sweep`` and ``gdlearn surface``, run by ``gdlearn.cli.main`` in this process.

``tests/_cli.py`` runs it as the command would (working directory, terminal width, warnings, streams, exit status);
``python -m gdlearn`` and the installed script are run as processes in ``tests/test_cli.py``.
"""

from __future__ import annotations

import argparse
import os
import warnings

import numpy as np
import pytest
from _cli import run_inprocess

from gdlearn import LinearRegression
from gdlearn._cli_plots import add_commands
from gdlearn.plotting import learning_rate_sweep

PNG = b"\x89PNG\r\n\x1a\n"


def gdlearn(*args, cwd=None):
    """``gdlearn *args`` (a ``CompletedProcess``: returncode, stdout, stderr), its success not asserted."""
    return run_inprocess(*args, cwd=cwd or os.getcwd(), check=False, columns=120)


def run_main(capsys, *args):
    """``gdlearn.cli.main`` called directly (no process set up around it); returns (status, stdout, stderr)."""
    from gdlearn.cli import main

    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(result, *fragments):
    status, out, err = result
    assert status == 2, (out, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gdlearn: error: "), err
    for text in fragments:
        assert text in lines[0]


def test_parser_registers_both_commands():
    parser = argparse.ArgumentParser(prog="gdlearn")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sweep", "housing"])
    assert callable(args.func) and args.max_iter == 200 and args.plot is None and args.seed == 0
    args = parser.parse_args(["surface", "m.json", "housing", "--plot", "out"])
    assert callable(args.func) and args.params == "w0,b" and args.grid_size == 60


def test_sweep_prints_each_rate_and_writes_the_picture(tmp_path, housing_std):
    proc = gdlearn("sweep", "housing", "--standardize", "--max-iter", 30, "--plot", tmp_path / "plots")
    assert proc.returncode == 0, proc.stderr
    X, y = housing_std
    expected = learning_rate_sweep(LinearRegression(random_state=0), X, y, max_iter=30)
    out = proc.stdout
    assert out.count("DIVERGED") == sum(r.diverged for r in expected.runs) == 2
    for run in expected.runs:
        assert f"{run.learning_rate:.6g}" in out and f"{run.final_loss:.6g}" in out
    assert f"2/L = {expected.max_stable_lr:.6g}" in out
    picture = tmp_path / "plots" / "learning_rate_sweep.png"
    assert picture.read_bytes()[:8] == PNG
    assert f"wrote {picture}" in out


def test_sweep_errors_are_one_line(tmp_path, capsys):
    proc = gdlearn("sweep", "housing", "--learning-rates", "0.1,fast")
    assert_one_line_error((proc.returncode, proc.stdout, proc.stderr), "--learning-rates")
    assert_one_line_error(run_main(capsys, "sweep", "housing", "--learning-rates", "0.1,-2"), "positive")
    assert_one_line_error(run_main(capsys, "sweep", "housing", "--max-iter", "0"), "--max-iter")
    assert_one_line_error(run_main(capsys, "sweep", tmp_path / "missing.csv"), "missing.csv")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, housing):
    from gdlearn import persistence
    from gdlearn.datasets import load_housing

    names = load_housing().feature_names
    X, y = housing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LinearRegression().fit(X, y)
    model.feature_names_in_ = np.asarray(names, dtype=object)  # as 'gdlearn train' does
    path = tmp_path_factory.mktemp("model") / "model.json"
    persistence.save(model, path)
    return path


def test_surface_draws_around_a_saved_model(tmp_path, model_file):
    proc = gdlearn("surface", model_file, "housing", "--params", "LSTAT,b", "--grid-size", 12, "--plot", tmp_path)
    assert proc.returncode == 0, proc.stderr
    files = [tmp_path / "loss_surface_LSTAT_b_contour.png", tmp_path / "loss_surface_LSTAT_b_3d.png"]
    for f in files:
        assert f.read_bytes()[:8] == PNG
        assert f"wrote {f}" in proc.stdout
    assert "a clone was refitted on all 506 rows with solver='gd'" in proc.stderr and "converged" in proc.stderr
    assert "marked beside it" not in proc.stderr  # fitted on all rows: the refit ends where the saved model is


def test_surface_errors_are_one_line(tmp_path, model_file, capsys):
    result = run_main(capsys, "surface", model_file, "housing", "--params", "LSTAT,nope", "--plot", tmp_path)
    assert_one_line_error(result, "unknown parameter 'nope'")
    assert "descent path" not in result[2]  # names are checked before the refit
    assert_one_line_error(
        run_main(capsys, "surface", model_file, "housing", "--params", "w0", "--plot", tmp_path), "two"
    )
    assert_one_line_error(run_main(capsys, "surface", model_file, "breast-cancer", "--plot", tmp_path), "columns")
    assert_one_line_error(run_main(capsys, "surface", tmp_path / "none.json", "housing", "--plot", tmp_path))
    assert list(tmp_path.iterdir()) == []


def _write_csv(path, X, y, target_first=True):
    import csv

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", *[f"x{j}" for j in range(X.shape[1])]] if target_first else [])
        for row, label in zip(X, y):
            w.writerow([label, *row])


def test_sweep_options_reach_the_sweep(tmp_path, capsys):
    """--target (a first column), --task, --l2 and --seed: the printed L is that of the penalised log loss."""
    from gdlearn import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=120) > 0).astype(int) * 2 + 1  # labels 1 and 3: numbers, a class task
    _write_csv(tmp_path / "d.csv", X, y)
    status, out, err = run_main(
        capsys, "sweep", tmp_path / "d.csv", "--target", "label", "--task", "classification", "--l2", "2",
        "--seed", "5", "--learning-rates", "0.1,1000", "--max-iter", "5",
    )  # fmt: skip
    assert status == 0, err
    assert "LogisticRegression" in out
    sweep = learning_rate_sweep(LogisticRegression(l2=2.0, random_state=5), X, y, [0.1, 1000.0], max_iter=5)
    assert f"L = {sweep.lipschitz:.6g}" in out
    assert "DIVERGED" in out  # α = 1000 is far above 2/L
    status, out_plain, _ = run_main(
        capsys, "sweep", tmp_path / "d.csv", "--target", "label", "--task", "classification", "--learning-rates",
        "0.1", "--max-iter", "5",
    )  # fmt: skip
    assert status == 0 and f"L = {sweep.lipschitz:.6g}" not in out_plain  # --l2 changed L


def test_surface_span_and_no_path(tmp_path, model_file, capsys):
    status, out, err = run_main(
        capsys, "surface", model_file, "housing", "--params", "LSTAT,b", "--grid-size", 10, "--span", 2.0,
        "--no-path", "--plot", tmp_path,
    )  # fmt: skip
    assert status == 0, err
    assert "descent path" not in err  # no refit
    for name in ("loss_surface_LSTAT_b_contour.png", "loss_surface_LSTAT_b_3d.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    assert_one_line_error(
        run_main(capsys, "surface", model_file, "housing", "--params", "LSTAT,b", "--span", "-1", "--plot", tmp_path),
        "--span must be positive",
    )


def test_surface_grid_size_limits_match_the_library(tmp_path, model_file, capsys):
    from gdlearn._cli_plots import MAX_GRID, MIN_GRID
    from gdlearn.plotting.surface import MAX_GRID_SIZE, MIN_GRID_SIZE

    assert (MIN_GRID, MAX_GRID) == (MIN_GRID_SIZE, MAX_GRID_SIZE)
    for n in (2, 9, 1001):
        result = run_main(capsys, "surface", model_file, "housing", "--grid-size", n, "--plot", tmp_path)
        assert_one_line_error(result, "--grid-size must be from 10 to 1000")
    result = run_main(capsys, "surface", model_file, "housing", "--learning-rates", "0.1,x", "--plot", tmp_path)
    assert_one_line_error(result, "--learning-rates")


@pytest.fixture
def drawn(monkeypatch):
    """What ``gdlearn surface`` hands to save_surface_plots (the drawing itself is tested in test_plotting.py)."""
    import gdlearn.plotting

    calls = []
    monkeypatch.setattr(gdlearn.plotting, "save_surface_plots", lambda *a, **k: calls.append((a, k)) or [])
    return calls


def test_surface_path_is_the_shown_models_to_its_end(tmp_path, housing, capsys, drawn):
    """A model trained on part of the data: the refit converges on DATA, the picture is drawn around it, and the
    saved model is marked beside it; a model saved with its path is drawn with that path, which ends at its θ."""
    from gdlearn import persistence

    X, y = housing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        part = LinearRegression().fit(X[:300], y[:300])
    persistence.save(part, tmp_path / "part.json")
    status, _, err = run_main(capsys, "surface", tmp_path / "part.json", "housing", "--plot", tmp_path)
    assert status == 0, err
    (shown, Xd, yd, params, _), kw = drawn[-1]
    assert shown.converged_ and kw["path"] is True and kw["theta"] is None
    np.testing.assert_array_equal(shown.path_[-1], np.r_[shown.coef_, shown.intercept_])
    reference = LinearRegression(tol=1e-10).fit(X, y)
    np.testing.assert_allclose(shown.coef_, reference.coef_, rtol=1e-3)  # converged on all of DATA
    np.testing.assert_array_equal(kw["points"]["saved model"], part.theta_)
    assert "the saved model (largest difference" in err and "marked beside it" in err

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        walked = LinearRegression(solver="gd", learning_rate=1e-6, max_iter=50, record_path=True).fit(X, y)
    persistence.save(walked, tmp_path / "walked.json")
    status, _, err = run_main(
        capsys, "surface", tmp_path / "walked.json", "housing", "--learning-rates", "auto", "--plot", tmp_path
    )
    assert status == 0, err
    (shown, *_), kw = drawn[-1]
    assert shown.theta_.tolist() == walked.theta_.tolist() and kw["learning_rates"] == "auto"
    np.testing.assert_array_equal(kw["path"][-1], walked.theta_[:, 0])
    assert "the model's own recorded path (50 steps)" in err

    # standardised: X scaled on DATA, the saved θ and its path mapped (same predictions, and the path ends at θ)
    walked_file = tmp_path / "walked.json"
    status, _, err = run_main(capsys, "surface", walked_file, "housing", "--standardize", "--plot", tmp_path)
    assert status == 0, err
    (shown, Xs, *_), kw = drawn[-1]
    np.testing.assert_allclose(Xs.mean(axis=0), 0, atol=1e-12)
    theta = kw["theta"]
    np.testing.assert_allclose(Xs @ theta[:-1, 0] + theta[-1, 0], walked.predict(X), rtol=1e-10)
    np.testing.assert_allclose(kw["path"][-1], theta[:, 0], rtol=1e-12)


def test_surface_standardize_and_overlays_draw(tmp_path, model_file, capsys):
    status, out, err = run_main(
        capsys, "surface", model_file, "housing", "--params", "LSTAT,b", "--grid-size", 10, "--standardize",
        "--learning-rates", "auto", "--plot", tmp_path,
    )  # fmt: skip
    assert status == 0, err
    for name in ("loss_surface_LSTAT_b_contour.png", "loss_surface_LSTAT_b_3d.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
