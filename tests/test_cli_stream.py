"""``gdlearn train`` streaming Parquet and CSV files, and on a Dask cluster, on real files.

The command runs in this process (``gdlearn.cli.main``, ``tests/_cli.py``); ``--dask local`` starts (and closes) a
real ``LocalCluster`` of worker processes from it, as the command would from its own process.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _cli import run_inprocess

from gdlearn import LinearRegression, LogisticRegression, load
from gdlearn.data import ParquetSource


def run(*args, cwd, check=True):
    return run_inprocess(*args, cwd=cwd, check=check, columns=160)  # the streaming table's wider rows


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_stream")
    rng = np.random.default_rng(0)
    m = 1500
    X = rng.normal(size=(m, 3)) * [1.0, 2.0, 0.5]
    df = pd.DataFrame(X, columns=["a", "b", "c"]).assign(
        price=X @ [1.0, -2.0, 3.0] + 4.0 + rng.normal(size=m),
        kind=np.array(["oak", "elm", "ash"])[np.argmax(X + rng.gumbel(size=(m, 3)), axis=1)],
    )
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), d / "trees.parquet", row_group_size=400)
    df.drop(columns="kind").to_csv(d / "prices.csv", index=False)
    return df, d


def value(out: str, metric: str) -> str:
    return next(line for line in out.splitlines() if metric in line).split("│")[2].strip()


def test_streamed_parquet_fit_equals_in_memory_fit(data):
    df, d = data
    proc = run("train", "trees.parquet", "--target", "price", "--drop", "kind", "--stream", "--test-size", "0",
               "--out", "m.safetensors", cwd=d)  # fmt: skip
    assert "(streamed)" in proc.stdout and "rows/s" in proc.stderr  # the progress line says the speed
    model = load(d / "m.safetensors")
    want = LinearRegression().fit(df[["a", "b", "c"]].to_numpy(), df["price"].to_numpy())
    np.testing.assert_allclose(model.coef_, want.coef_, atol=1e-8)
    np.testing.assert_allclose(model.intercept_, want.intercept_, atol=1e-8)
    assert not (d / "m.safetensors.ckpt").exists() and not (d / ".gdlearn-train.ckpt").exists()


def test_a_csv_above_the_threshold_streams_and_holds_out_rows_without_loading(data):
    df, d = data
    proc = run("train", "prices.csv", "--target", "price", "--stream-above", "10k", "--test-size", "0.25",
               "--seed", "3", "--out", "c.safetensors", "--quiet", cwd=d)  # fmt: skip
    assert "(streamed)" in proc.stdout
    train, test = ParquetSource(d / "trees.parquet", target="price", drop=["kind"]).split(0.25, 3)
    X, y, _ = train.to_arrays()  # the same rows (the hold-out hashes row positions, not blocks)
    want = LinearRegression().fit(X, y)
    model = load(d / "c.safetensors")
    np.testing.assert_allclose(model.coef_, want.coef_, atol=1e-8)
    X_te, y_te, _ = test.to_arrays()
    assert float(value(proc.stdout, "test R²")) == pytest.approx(want.score(X_te, y_te), abs=1e-4)
    assert len(y) + len(y_te) == len(df) and abs(len(y_te) / len(df) - 0.25) < 0.05


def test_streamed_classification_of_text_labels(data):
    df, d = data
    proc = run("train", "trees.parquet", "--target", "kind", "--stream", "--test-size", "0", "--out", "k.safetensors",
               "--quiet", cwd=d)  # fmt: skip
    assert "classification of 'kind'" in proc.stdout
    want = LogisticRegression().fit(df[["a", "b", "c", "price"]].to_numpy(), df["kind"].to_numpy())
    model = load(d / "k.safetensors")
    assert list(model.classes_) == ["ash", "elm", "oak"]
    np.testing.assert_allclose(model.coef_, want.coef_, atol=1e-8)


def test_streaming_refuses_what_needs_memory(data):
    _, d = data
    proc = run("train", "trees.parquet", "--target", "price", "--stream", "--plot", "pics", cwd=d, check=False)
    assert proc.returncode == 2 and "--plot is for data in memory" in proc.stderr
    proc = run("train", "housing", "--stream", cwd=d, check=False)
    assert proc.returncode == 2 and "not a file" in proc.stderr
    proc = run("train", "trees.parquet", "--target", "nope", "--stream", cwd=d, check=False)
    assert proc.returncode == 2 and "no target column 'nope'" in proc.stderr


def test_train_on_a_local_dask_cluster(data):
    df, d = data
    proc = run("train", "trees.parquet", "--target", "kind", "--dask", "local", "--test-size", "0", "--out",
               "dask.safetensors", "--quiet", cwd=d)  # fmt: skip
    assert "on Dask (local)" in " ".join(proc.stdout.split())
    want = LogisticRegression().fit(df[["a", "b", "c", "price"]].to_numpy(), df["kind"].to_numpy())
    np.testing.assert_allclose(load(d / "dask.safetensors").coef_, want.coef_, atol=1e-8)
