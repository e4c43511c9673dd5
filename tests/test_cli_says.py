"""The command line says what it did, lets the user choose columns, and its messages point the right way.

Run on the shipped example files (``examples/prices.csv``: the price in the first column, ``examples/
new_patients.csv``: breast-cancer features without a target) and small CSV files written here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gdlearn.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PRICES = str(EXAMPLES / "prices.csv")


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def write_csv(path: Path, header: list[str], rows) -> str:
    path.write_text(",".join(header) + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return str(path)


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    rows = [(a, b, f"id{i}", round(2 * a - b + 0.1 * rng.normal(), 6)) for i, (a, b) in enumerate(x)]
    return write_csv(tmp_path / "t.csv", ["a", "b", "name", "y"], rows)


def test_the_target_is_named_and_an_ambiguous_default_is_refused(capsys, tmp_path):
    status, out, err = run(capsys, "train", PRICES, "--quiet")
    assert status == 2 and "which column is the target?" in err and "--target price" in err and "'age'" in err
    status, out, err = run(capsys, "train", PRICES, "--target", "price", "--out", tmp_path / "m", "--quiet")
    assert status == 0 and "gdlearn regression of 'price' on" in out and err == ""
    status, out, _ = run(capsys, "show", tmp_path / "m")
    assert json.loads(out)["header"]["target_name"] == "price"
    last = write_csv(tmp_path / "last.csv", ["u", "v", "w"], [(i, i % 3, 2 * i + 1) for i in range(30)])
    status, out, err = run(capsys, "train", last)
    assert status == 0 and "target: the last column, 'w'; choose another with --target NAME" in err
    assert "regression of 'w' on" in out and "(target: the last column)" in out


def test_features_and_drop_choose_columns_by_name_or_pattern(capsys, table):
    status, _, err = run(capsys, "train", table, "--quiet")
    assert status == 2 and "column 'name' holds text" in err  # the problem the options solve
    status, out, err = run(capsys, "train", table, "--drop", "name", "--quiet")
    assert status == 0 and "test R²" in out and err == ""
    status, out, _ = run(capsys, "train", table, "--features", "a,b", "--quiet")
    assert status == 0
    status, _, err = run(capsys, "train", table, "--features", "[ab]", "--drop", "b", "--quiet")  # a pattern, then drop
    assert status == 0 and err == ""
    status, _, err = run(capsys, "train", table, "--drop", "nope*", "--quiet")
    assert status == 2 and "no column matches 'nope*'; the columns are: a, b, name, y" in err
    status, _, err = run(capsys, "train", table, "--drop", "a,b,name", "--quiet")
    assert status == 2 and "no feature columns" in err
    status, out, _ = run(capsys, "sweep", "housing", "--features", "LSTAT,RM", "--max-iter", "5", "--quiet")
    assert status == 0 and "of 'MEDV' on housing" in out


def test_quiet_means_the_same_on_every_command_and_unknown_options_show_their_command(capsys, tmp_path):
    model = tmp_path / "m.safetensors"
    assert run(capsys, "train", "breast-cancer", "--l2", "1", "--out", model, "--quiet")[2] == ""
    status, out, err = run(
        capsys, "predict", model, EXAMPLES / "new_patients.csv", "--out", tmp_path / "p.csv", "--quiet"
    )
    assert status == 0 and out == err == "" and (tmp_path / "p.csv").read_text().startswith("prediction,proba_0")
    status, out, err = run(capsys, "show", model, "--quiet")
    assert status == 0 and json.loads(out) and err == ""
    status, out, err = run(capsys, "sweep", "housing", "--max-iter", "3", "--plot", tmp_path, "--quiet")
    assert status == 0 and "wrote" not in out and err == ""
    status, out, err = run(
        capsys, "surface", model, "breast-cancer", "--plot", tmp_path, "--grid-size", "10", "--quiet"
    )
    assert status == 0 and out == "" and err == ""
    for command in ("train housing", "predict m x.csv", "sweep housing", "show m"):
        status, _, err = run(capsys, *command.split(), "--bogus", "1")
        assert status == 2 and err.startswith(f"usage: gdlearn {command.split()[0]} ") and "--bogus 1" in err


def test_the_table_says_why_it_stopped_the_best_iteration_the_step_and_what_to_try(capsys):
    status, out, _ = run(capsys, "train", "breast-cancer", "--early-stopping", "--solver", "gd", "--quiet")
    assert status == 0 and "validation loss did not improve for 10 epochs" in out
    assert "best iteration" in out and "(its parameters are the model's)" in out
    assert "in standardised coordinates" in out
    status, out, _ = run(capsys, "train", "housing", "--solver", "rmsprop", "--max-iter", "5", "--quiet")
    assert "no: max_iter=5 reached" in out and "to try" in out and "--max-iter 10" in out and "--solver auto" in out
    status, out, _ = run(capsys, "train", "housing", "--solver", "gd", "--learning-rate", "1e-7", "--quiet")
    assert "1e-07" in out and "standardised" not in out  # a fixed α: the data's own coordinates
    status, out, _ = run(capsys, "train", "housing", "--learning-rate", "1e-7", "--max-iter", "3", "--quiet")
    assert "--learning-rate auto" in out and "--solver auto" not in out  # never the setting in use
    status, out, _ = run(capsys, "train", "housing", "--solver", "gd", "--learning-rate", "0.1", "--standardize")
    assert status == 0 and "0.1 (in standardised coordinates)" in out


def test_messages_point_the_right_way(capsys, tmp_path, table):
    model = tmp_path / "m.safetensors"
    run(capsys, "train", "housing", "--out", model, "--quiet")
    status, out, _ = run(capsys, "predict", model, "housing")  # a bundled data set is data here too
    assert status == 0 and out.startswith("prediction\n") and out.count("\n") == 507
    status, _, err = run(capsys, "predict", table, model)
    assert status == 2 and f"the model file comes first, then the data: gdlearn predict {model} {table}" in err
    status, _, err = run(capsys, "train", table, "--drop", "name", "--task", "classification", "--quiet")
    assert status == 2 and "has 60 distinct numbers in 60 rows" in err and "--task regression" in err
    assert err.count("\n") == 1  # one line, no list of 60 "classes"
    single = write_csv(tmp_path / "one.csv", ["a", "y"], [(i, 1.0) for i in range(10)])
    status, _, err = run(capsys, "train", single, "--quiet")
    assert status == 2 and "has a single value ('1.0')" in err and "np.str_" not in err
    status, _, err = run(capsys, "train", "housing", "--out", tmp_path / "missing" / "m", "--quiet")
    assert status == 2 and "--out" in err and "missing' does not exist" in err and "checkpoint" not in err


@pytest.mark.filterwarnings("ignore::gdlearn.ConvergenceWarning", "ignore:X does not have valid feature names")
def test_standardize_on_train_is_the_descent_sweep_runs_on_standardised_features(capsys, tmp_path):
    """--standardize means the same on train and sweep: gd on StandardScaler-ed features; the model in raw units."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from gdlearn import LinearRegression, load
    from gdlearn.datasets import load_housing

    argv = ["train", "housing", "--solver", "gd", "--learning-rate", "0.1", "--max-iter", "40", "--test-size", "0"]
    status, _, _ = run(capsys, *argv, "--standardize", "--out", tmp_path / "m", "--quiet")
    X, y = load_housing(return_X_y=True)
    scaled = make_pipeline(StandardScaler(), LinearRegression(solver="gd", learning_rate=0.1, max_iter=40)).fit(X, y)
    model = load(tmp_path / "m")
    assert status == 0 and model.loss_curve_ == pytest.approx(scaled[-1].loss_curve_, rel=1e-12)
    np.testing.assert_allclose(model.predict(X), scaled.predict(X), rtol=1e-12)
    status, _, err = run(capsys, *argv, "--quiet")  # without it, α = 0.1 on raw housing's long valley flies off
    assert status == 2 and "diverged" in err
