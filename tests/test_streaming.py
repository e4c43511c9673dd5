"""Streaming Parquet and CSV files: the streamed fit equals the in-memory fit; problems name file, rows and column.

Real files on disk: Parquet written in several row groups (and read in smaller record batches), CSV read in blocks
of lines, folders of both.
"""

import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gdlearn import LinearRegression, LogisticRegression
from gdlearn.data import CSVSource, ParquetSource

M, P = 900, 4
FEATURES = [f"x{j}" for j in range(P)]


def frame(seed=0, rows=M):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, P)) * [1.0, 4.0, 0.5, 2.0] + [0.0, 3.0, -1.0, 0.0]
    return pd.DataFrame(X, columns=FEATURES).assign(
        y=X @ rng.normal(size=P) + 2.0 + rng.normal(size=rows),
        w=rng.uniform(0.2, 3.0, size=rows),
        label=np.array(["ant", "bee", "cow"])[np.argmax(X[:, :3] + 2 * rng.gumbel(size=(rows, 3)), axis=1)],
        yes=(X[:, 0] + rng.logistic(size=rows) > 0).astype(np.int64),
    )


def write_parquet(df, path, row_group_size=250):
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=row_group_size)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    df = frame()
    write_parquet(df, d / "data.parquet")  # 4 row groups: 250, 250, 250, 150 rows
    df.to_csv(d / "data.csv", index=False)
    folder = d / "parts"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(M), 3)):
        write_parquet(df.iloc[part], folder / f"part-{i}.parquet", row_group_size=100)
    return df, d


def in_memory(model, df, target):
    return model.fit(df[FEATURES].to_numpy(), df[target].to_numpy(), sample_weight=df["w"].to_numpy())


CASES = [
    (LinearRegression, "y", {}),
    (LogisticRegression, "yes", {}),
    (LogisticRegression, "label", {}),
    (LogisticRegression, "label", {"solver": "lbfgs", "l2": 1.0, "precondition": "diagonal"}),
]


@pytest.mark.parametrize("kind", ["parquet", "csv", "folder"])
@pytest.mark.parametrize("cls, target, params", CASES)
def test_streamed_fit_equals_in_memory_fit(files, kind, cls, target, params):
    df, d = files
    path = {"parquet": d / "data.parquet", "csv": d / "data.csv", "folder": d / "parts"}[kind]
    Source = CSVSource if kind == "csv" else ParquetSource
    source = Source(path, target=target, features=["x*"], weight="w", batch_rows=128)
    want = in_memory(cls(tol=1e-10, **params), df, target)
    got = cls(tol=1e-10, **params).fit(source)
    np.testing.assert_allclose(got.coef_, want.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(got.intercept_, want.intercept_, rtol=0, atol=1e-8)
    assert got.n_iter_ == want.n_iter_ and list(got.feature_names_in_) == FEATURES
    if cls is LogisticRegression:
        np.testing.assert_array_equal(got.classes_, want.classes_)
    if target == "y":  # and against the weighted least squares
        X, y, w = df[FEATURES].to_numpy(), df["y"].to_numpy(), np.sqrt(df["w"].to_numpy())
        coef, *_ = np.linalg.lstsq(np.c_[X, np.ones(M)] * w[:, None], y * w, rcond=None)
        np.testing.assert_allclose(np.r_[got.coef_, got.intercept_], coef, rtol=1e-7)


def test_blocks_are_bounded_by_batch_rows_and_cover_every_row(files):
    df, d = files
    for source in (
        ParquetSource(d / "data.parquet", target="y", drop=["label", "w", "yes"], batch_rows=100),
        CSVSource(d / "data.csv", target="y", drop=["label", "w", "yes"], batch_rows=100),
    ):
        sizes = [len(X) for X, _, _ in source.blocks()]
        assert max(sizes) <= 100 and sum(sizes) == M == source.n_samples
        X = np.vstack([X for X, _, _ in source.blocks()])
        np.testing.assert_array_equal(X, df[FEATURES].to_numpy())


def test_minibatch_epochs_walk_blocks_in_a_seeded_shuffled_order(files):
    """Blocks are record batches of batch_rows rows; a row group's batches in order, the row groups shuffled."""
    df, d = files
    source = ParquetSource(d / "parts", target="y", features=FEATURES, batch_rows=64)
    assert source.n_blocks == 18 and max(source.block_rows) == 64  # 9 row groups of 100 rows or fewer, in two
    X = np.vstack([source.block(i)[0] for i in range(source.n_blocks)])
    np.testing.assert_array_equal(X, df[FEATURES].to_numpy())  # block by block, in order
    at = sum(source.block_rows[:5])
    np.testing.assert_array_equal(source.block(5)[0], X[at : at + 36])  # and one out of order (rows 65-100)
    epochs = [list(source.minibatches(32, epoch, seed=3)) for epoch in (0, 1)]
    assert [(b.block, list(b.rows)) for b in source.minibatches(32, 0, seed=3)] == [
        (b.block, list(b.rows)) for b in epochs[0]
    ]
    orders = [[b.block for b in e] for e in epochs]
    assert orders[0] != orders[1]  # another order each epoch
    for e in epochs:  # every row of every block exactly once; a block's batches together
        seen = {}
        for b in e:
            seen.setdefault(b.block, []).extend(b.rows)
        assert all(sorted(rows) == list(range(source.block_rows[i])) for i, rows in seen.items())
        assert len(seen) == source.n_blocks
        blocks = list(dict.fromkeys(b.block for b in e))  # the blocks in the order read
        assert sum(1 for a, b in zip(e, e[1:]) if a.block != b.block) == source.n_blocks - 1
        for group in source.block_groups:  # a group's record batches one after the other, in order
            at = blocks.index(group[0])
            assert blocks[at : at + len(group)] == group
        assert [g[0] for g in source.block_groups] != [b for b in blocks if any(b == g[0] for g in source.block_groups)]
    exact = in_memory(LinearRegression(tol=1e-10), df.assign(w=1.0), "y")
    fits = [LinearRegression(solver="gd", batch_size=32, max_iter=40, random_state=1).fit(source) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)
    np.testing.assert_allclose(fits[0].coef_, exact.coef_, atol=0.05)


def test_a_missing_value_names_file_row_and_column(tmp_path):
    df = frame(1)
    df.loc[613, "x2"] = np.nan
    path = write_parquet(df, tmp_path / "holes.parquet")
    said = r"holes\.parquet, row 614 \(block of rows 513–640\): missing value in column 'x2'"
    with pytest.raises(ValueError, match=said):
        LinearRegression().fit(ParquetSource(path, target="y", features=FEATURES, batch_rows=128))
    df = frame(1)
    df["y"] = df["y"].astype(object)
    df.loc[700, "y"] = None
    path = write_parquet(df.astype({"y": float}), tmp_path / "target.parquet")
    with pytest.raises(ValueError, match=r"target\.parquet, row 701 .*missing target value in column 'y'"):
        LinearRegression().fit(ParquetSource(path, target="y", features=FEATURES))


def test_a_text_cell_in_the_middle_of_a_csv_names_the_lines_and_column(tmp_path):
    df = frame(2)
    df["x1"] = df["x1"].astype(object)
    df.loc[555, "x1"] = "oops"
    df.to_csv(tmp_path / "text.csv", index=False)
    with pytest.raises(ValueError, match=r"text\.csv, lines 514–641: column 'x1' holds a value that is not a number"):
        LinearRegression().fit(CSVSource(tmp_path / "text.csv", target="y", features=FEATURES, batch_rows=128))
    df = frame(2)
    df.loc[300, "x3"] = np.nan  # an empty cell
    df.to_csv(tmp_path / "empty.csv", index=False)
    with pytest.raises(ValueError, match=r"empty\.csv, line 302 .*missing value in column 'x3'"):
        LinearRegression().fit(CSVSource(tmp_path / "empty.csv", target="y", features=FEATURES, batch_rows=128))


def test_a_schema_changing_file_in_a_folder_is_named(tmp_path):
    df = frame(3)
    write_parquet(df.iloc[:300], tmp_path / "a.parquet")
    write_parquet(df.iloc[300:600].astype({"x2": str}), tmp_path / "b.parquet")
    write_parquet(df.iloc[600:], tmp_path / "c.parquet")
    with pytest.raises(ValueError, match=r"b\.parquet: column 'x2' holds (large_)?string, not numbers.*a\.parquet"):
        ParquetSource(tmp_path, target="y", features=FEATURES)
    write_parquet(df.iloc[300:600].drop(columns="y"), tmp_path / "b.parquet")
    with pytest.raises(ValueError, match=r"b\.parquet: no target column 'y'"):
        ParquetSource(tmp_path, target="y", features=FEATURES)


def test_a_corrupt_file_in_a_folder_is_named(tmp_path):
    df = frame(4)
    write_parquet(df.iloc[:300], tmp_path / "a.parquet")
    write_parquet(df.iloc[300:600], tmp_path / "b.parquet")
    write_parquet(df.iloc[600:], tmp_path / "c.parquet")
    data = (tmp_path / "b.parquet").read_bytes()
    (tmp_path / "b.parquet").write_bytes(data[: len(data) // 2])  # truncated: no footer
    with pytest.raises(ValueError, match=r"b\.parquet: not a readable Parquet file"):
        ParquetSource(tmp_path, target="y", features=FEATURES)
    # damaged pages (the footer intact): found while reading, with the file and its rows
    write_parquet(df.iloc[300:600], tmp_path / "b.parquet", row_group_size=300)
    meta = pq.ParquetFile(tmp_path / "b.parquet").metadata.row_group(0).column(1)
    raw = bytearray((tmp_path / "b.parquet").read_bytes())
    start = meta.data_page_offset
    raw[start : start + meta.total_compressed_size] = b"\xff" * meta.total_compressed_size
    (tmp_path / "b.parquet").write_bytes(bytes(raw))
    source = ParquetSource(tmp_path, target="y", features=FEATURES)
    with pytest.raises(ValueError, match=r"b\.parquet.*(cannot read|rows 1–300)"):
        LinearRegression().fit(source)


def test_fit_with_a_source_takes_no_y_and_bad_settings_are_named(files):
    df, d = files
    source = ParquetSource(d / "data.parquet", target="y", features=FEATURES)
    with pytest.raises(ValueError, match="without y and sample_weight"):
        LinearRegression().fit(source, df["y"].to_numpy())
    with pytest.raises(ValueError, match="early_stopping"):
        LinearRegression(early_stopping=True).fit(source)
    with pytest.raises(ValueError, match="no target column 'price'"):
        ParquetSource(d / "data.parquet", target="price")
    with pytest.raises(ValueError, match="'label' holds (string|large_string), not numbers"):
        ParquetSource(d / "data.parquet", target="y")
    with pytest.raises(FileNotFoundError, match="no such file"):
        CSVSource(d / "nothing.csv", target="y")


def test_missing_pyarrow_names_the_extra(files, monkeypatch):
    _, d = files
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"gdlearn\[parquet\]"):
        ParquetSource(d / "data.parquet", target="y")


def test_gdlearn_imports_without_the_extras():
    """pyarrow and Dask are imported only when a file source or a Dask collection is used."""
    import subprocess

    code = "import sys, gdlearn, gdlearn.data; assert not {'pyarrow', 'dask'} & set(sys.modules), sys.modules.keys()"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.filterwarnings("ignore::gdlearn.exceptions.ConvergenceWarning")
def test_partial_fit_walks_a_source_epoch_by_epoch(files):
    """k partial_fit calls on a source are fit(max_iter=k) on it, as for arrays; labels are checked per block."""
    _, d = files
    source = ParquetSource(d / "parts", target="label", features=FEATURES, batch_rows=64)
    params = dict(solver="gd", batch_size=50, random_state=4, learning_rate=0.05)
    stepped = LogisticRegression(**params)
    for _ in range(3):
        stepped.partial_fit(source, classes=["ant", "bee", "cow"])
    fitted = LogisticRegression(**params, max_iter=3, tol=0).fit(source)
    np.testing.assert_allclose(stepped.coef_, fitted.coef_, rtol=1e-12)
    with pytest.raises(ValueError, match="not in classes_"):
        LogisticRegression(**params).partial_fit(source, classes=["ant", "bee"])


def test_the_squared_loss_reads_the_files_twice_whatever_the_iterations(files):
    """One pass over the target column (labels, weights), one over every column (statistics and the Gram matrix)."""
    df, d = files
    for Source, path in ((ParquetSource, d / "parts"), (CSVSource, d / "data.csv")):
        source = Source(path, target="y", features=FEATURES, weight="w", batch_rows=128)
        model = LinearRegression(solver="gd", learning_rate=1e-3, max_iter=50, tol=0)
        with pytest.warns(match="max_iter=50"):
            model.fit(source)
        assert model.n_iter_ == 50 and source.passes == 2


MEMORY = """
import sys, tracemalloc
import numpy as np, pyarrow as pa
import gdlearn.data.files as files
from gdlearn import LogisticRegression
from gdlearn.data import ParquetSource

for buffer in map(int, sys.argv[2:]):  # pyarrow's peak is the process's: the smaller buffer goes first
    files.READ_BUFFER = buffer
    source = ParquetSource(sys.argv[1], target="label", batch_rows=8192)
    tracemalloc.start()
    LogisticRegression(batch_size=8192, max_iter=1, tol=0, average=False, random_state=0).fit(source)
    print(pa.default_memory_pool().max_memory(), tracemalloc.get_traced_memory()[1])
    tracemalloc.stop()
"""


@pytest.mark.filterwarnings("ignore::gdlearn.exceptions.ConvergenceWarning")
def test_minibatch_memory_is_bounded_by_the_batch_not_the_row_group(tmp_path):
    """One row group of 24 MB; an epoch of mini-batches holds a record batch of 8,192 rows (330 kB), and for each
    column a page (1 MiB, pyarrow's default) and a read buffer.

    Measured in a fresh process: pyarrow's peak allocation and NumPy's (traced).  With no read buffer
    (``READ_BUFFER = 0``, run next in the same process) pyarrow reads whole column chunks: the same measure then
    holds the row group.
    """
    import subprocess

    rng = np.random.default_rng(0)
    m, p = 600_000, 4
    X = rng.normal(size=(m, p))
    table = pa.table({**{f"x{j}": X[:, j] for j in range(p)}, "label": (X[:, 0] > 0).astype(np.int64)})
    pq.write_table(table, tmp_path / "one_group.parquet", row_group_size=m, use_dictionary=False)
    assert pq.ParquetFile(tmp_path / "one_group.parquet").metadata.num_row_groups == 1
    group = m * (p + 1) * 8

    code = [sys.executable, "-c", MEMORY, str(tmp_path / "one_group.parquet"), str(1 << 18), "0"]
    out = subprocess.run(code, check=True, capture_output=True, text=True).stdout.split()
    (arrow, numpy), unbuffered = map(int, out[:2]), int(out[2])
    batch = 8192 * (p + 1) * 8
    assert arrow < 4 * batch + (p + 1) * (2**20 + 2 * 2**18) < group / 2
    assert numpy < 6 * batch < group / 10  # the block, its conversion, the epoch's plan for one block
    assert unbuffered > group / 2  # the measure sees (most of) a row group when one is held


@pytest.mark.filterwarnings("ignore::gdlearn.exceptions.ConvergenceWarning")
def test_shuffle_reaches_a_sources_minibatches(files):
    """shuffle=False walks the blocks and their rows in file order: plain SGD over the rows in order, written out."""
    df, d = files
    source = ParquetSource(d / "parts", target="y", features=FEATURES, batch_rows=64)
    params = dict(solver="gd", batch_size=32, max_iter=1, learning_rate=1e-3, precondition=False, average=False)
    ordered = LinearRegression(shuffle=False, **params).fit(source)
    X, y = df[FEATURES].to_numpy(), df["y"].to_numpy()
    theta = np.r_[np.zeros(P), y.mean()]  # a fit starts at b = the mean target
    for start in (s for b in range(0, M, 100) for s in range(b, b + 100, 64)):  # row groups of 100, batches of 64
        for lo in range(start, min(start + 64, (start // 100 + 1) * 100), 32):
            hi = min(lo + 32, start + 64, (start // 100 + 1) * 100)
            Xb, r = X[lo:hi], X[lo:hi] @ theta[:-1] + theta[-1] - y[lo:hi]
            share = (hi - lo) / 32  # a shorter batch counts its share of a step
            theta -= 1e-3 * share * np.r_[Xb.T @ r, r.sum()] / (hi - lo)
    np.testing.assert_allclose(np.r_[ordered.coef_, ordered.intercept_], theta, rtol=1e-10)
    shuffled = LinearRegression(shuffle=True, random_state=0, **params).fit(source)
    assert not np.allclose(shuffled.coef_, ordered.coef_, rtol=1e-6, atol=0)
