"""The gdlearn command end to end, on real files.

The installed console script and ``python -m gdlearn`` run in subprocesses (the README's first command, ``--help``,
``--version``); the other commands call ``gdlearn.cli.main`` in this process as the script would (``tests/_cli.py``).
"""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _cli import EXE, run, run_inprocess
from sklearn.linear_model import LinearRegression as SkLinearRegression
from sklearn.model_selection import train_test_split

import gdlearn
from gdlearn.datasets import load_housing


def shown(cwd, name) -> dict:
    """A model file as 'gdlearn show' prints it (in this process: `gdlearn show` itself is run once, below)."""
    from gdlearn.persistence import show

    return json.loads(show(cwd / name))


def test_console_script_is_installed():
    assert Path(EXE).exists(), "the 'gdlearn' console script is not installed"


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_train_housing_then_predict_csv(tmp_path):
    proc = run("train", "housing", "--out", "m.json", cwd=tmp_path)  # the README's first command, as installed
    out = proc.stdout
    for row in ("train loss J", "test loss J", "test R²", "test RMSE", "iterations", "converged"):
        assert row in out
    assert "model saved to m.json" in out
    assert "training" in proc.stderr  # the progress bar, on stderr
    assert not (tmp_path / "m.json.ckpt").exists()  # finished runs leave no checkpoint behind

    # the model file, read as text by 'gdlearn show', has the bundled feature names; R² equals scikit-learn's
    assert json.loads(run_inprocess("show", "m.json", cwd=tmp_path).stdout) == shown(tmp_path, "m.json")
    meta = shown(tmp_path, "m.json")["header"]
    assert meta["kind"] == "LinearRegression" and len(meta["feature_names"]) == 12
    assert meta["params"]["checkpoint"] is None  # the run's checkpoint is not a setting of the model
    X, y = load_housing(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=0)
    r2_printed = float(next(line for line in out.splitlines() if "test R²" in line).split("│")[2])
    assert abs(r2_printed - SkLinearRegression().fit(X_tr, y_tr).score(X_te, y_te)) < 1e-3

    # a user's CSV with the columns in another order plus an extra one: matched by name
    names = list(load_housing().feature_names)
    with open(tmp_path / "new.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["extra", *names[::-1]])
        for row in X_te[:5]:
            w.writerow([0, *row[::-1]])
    run_inprocess("predict", "m.json", "new.csv", "--out", "pred.csv", cwd=tmp_path)
    with open(tmp_path / "pred.csv") as f:
        rows = list(csv.DictReader(f))
    model = gdlearn.load(tmp_path / "m.json")
    np.testing.assert_allclose([float(r["prediction"]) for r in rows], model.predict(X_te[:5]), rtol=1e-12)


def test_train_classification_csv_with_string_labels(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    labels = np.where(X[:, 0] - X[:, 1] + 0.5 * rng.normal(size=200) > 0, "spam", "ham")
    with open(tmp_path / "mail.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "kind"])
        w.writerows([[*x, lab] for x, lab in zip(X, labels)])
    proc = run_inprocess(
        "train", "mail.csv", "--target", "kind", "--quiet", "--out", "m.json", "--l2", "1", cwd=tmp_path
    )
    assert "test accuracy" in proc.stdout and "training" not in proc.stderr  # --quiet: no bar
    run_inprocess("predict", "m.json", "mail.csv", "--out", "p.csv", cwd=tmp_path)
    with open(tmp_path / "p.csv") as f:
        rows = list(csv.DictReader(f))
    assert set(rows[0]) == {"prediction", "proba_ham", "proba_spam"}
    accuracy = np.mean([r["prediction"] == lab for r, lab in zip(rows, labels)])
    assert accuracy > 0.8


def test_task_override_and_no_test_split(tmp_path):
    with open(tmp_path / "d.csv", "w") as f:
        f.write("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(40)))
    proc = run_inprocess("train", "d.csv", "--task", "regression", "--test-size", "0", "--quiet", cwd=tmp_path)
    assert "regression" in proc.stdout and "test R²" not in proc.stdout


def test_solver_options_reach_the_estimator(tmp_path):
    proc = run_inprocess(
        "train", "housing", "--solver", "adam", "--batch-size", "64", "--l2", "0.5", "--max-iter", "20",
        "--early-stopping", "--quiet", "--out", "m.json", cwd=tmp_path,
    )  # fmt: skip
    assert "adam" in proc.stdout
    params = shown(tmp_path, "m.json")["header"]["params"]
    assert params["solver"] == "adam" and params["batch_size"] == 64 and params["l2"] == 0.5
    assert params["early_stopping"] is True


def test_help_reads_well(tmp_path):
    top = run("--help", cwd=tmp_path).stdout  # the installed script
    for command in ("train", "predict", "show", "sweep", "surface"):
        assert command in top
    train = run_inprocess("train", "--help", cwd=tmp_path).stdout
    for option in ("--target", "--task", "--learning-rate", "--max-iter", "--tol", "--test-size", "--seed", "--out"):
        assert option in train
    assert "gdlearn" in run_inprocess("--version", cwd=tmp_path).stdout


def test_errors_are_one_line_without_traceback(tmp_path):
    proc = run_inprocess("train", "nonexistent.csv", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("gdlearn: error: ") and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("entry", [[sys.executable, "-m", "gdlearn", "--version"]])
def test_python_dash_m(entry, tmp_path):
    proc = subprocess.run(entry, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and gdlearn.__version__ in proc.stdout


def test_l1_seed_and_plot_reach_the_fit(tmp_path):
    run_inprocess(
        "train", "housing", "--l1", "50", "--seed", "3", "--quiet", "--out", "a.json", "--plot", "pics", cwd=tmp_path
    )
    meta = shown(tmp_path, "a.json")
    assert meta["header"]["params"]["l1"] == 50.0 and meta["header"]["params"]["random_state"] == 3
    assert meta["header"]["fitted"]["solver_"] == "fista"  # auto with an L1 penalty
    assert np.any(np.ravel(meta["arrays"]["coef"]["values"]) == 0.0)  # the proximal step gives exact zeros
    pictures = sorted(p.name for p in (tmp_path / "pics").iterdir())
    assert pictures and all((tmp_path / "pics" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pictures)
    # the seed fixes the held-out split: the same seed, the same model; another seed, another one
    run_inprocess("train", "housing", "--l1", "50", "--seed", "3", "--quiet", "--out", "b.json", cwd=tmp_path)
    run_inprocess("train", "housing", "--l1", "50", "--seed", "4", "--quiet", "--out", "c.json", cwd=tmp_path)
    coef = {k: shown(tmp_path, f"{k}.json")["arrays"]["coef"]["values"] for k in "abc"}
    assert coef["a"] == coef["b"] and coef["a"] != coef["c"]


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_predict_to_standard_output(tmp_path):
    run_inprocess("train", "breast-cancer", "--l2", "1", "--quiet", "--out", "m.json", cwd=tmp_path)
    from gdlearn import load
    from gdlearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    with open(tmp_path / "new.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(data.feature_names))
        for row in data.data[:7]:
            w.writerow([repr(float(v)) for v in row])
    proc = run_inprocess("predict", "m.json", "new.csv", cwd=tmp_path)
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 8  # a header and one line per row, on standard output
    printed = [line.split(",")[0] for line in lines[1:]]
    model = load(tmp_path / "m.json")
    assert printed == [str(v) for v in model.predict(data.data[:7])]
