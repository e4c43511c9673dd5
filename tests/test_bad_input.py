"""Bad input gets a clear error before any work, naming what is wrong and what to do.

One table, three front doors: the estimators, the CSV reader, and the command line.
Each row: an id, a callable that must fail, the exception type, and a regex the
message must match.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from gdlearn import LinearRegression, LogisticRegression
from gdlearn.cli import main
from gdlearn.data import read_csv
from gdlearn.schedules import ExponentialDecay

rng = np.random.default_rng(0)
X = rng.normal(size=(30, 3))
y = X @ [1.0, 2.0, 3.0] + 0.1 * rng.normal(size=30)
labels = (X[:, 0] > 0).astype(int)


def with_value(a, i, j, v):
    a = a.astype(object) if isinstance(v, str) else a.copy()
    a[i, j] = v
    return a


def fit(est, X_, y_, **kw):
    return lambda: est.fit(X_, y_, **kw)


fitted = LinearRegression().fit(X, y)
fitted_frame = LinearRegression().fit(pd.DataFrame(X, columns=["a", "b", "c"]), y)
fitted_clf = LogisticRegression(l2=1.0).fit(X, np.where(labels == 1, "yes", "no"))

ESTIMATOR_CASES = [
    ("nan-in-X", fit(LinearRegression(), with_value(X, 0, 0, np.nan), y), ValueError, r"Input X contains NaN"),
    ("inf-in-X", fit(LinearRegression(), with_value(X, 1, 1, np.inf), y), ValueError, r"Input X contains infinity"),
    ("nan-in-y", fit(LinearRegression(), X, np.r_[np.nan, y[1:]]), ValueError, r"Input y contains NaN"),
    ("inf-in-y", fit(LinearRegression(), X, np.r_[np.inf, y[1:]]), ValueError, r"Input y contains infinity"),
    ("length-mismatch", fit(LinearRegression(), X, y[:-1]), ValueError, r"inconsistent numbers of samples: \[30, 29\]"),
    ("empty", fit(LinearRegression(), np.empty((0, 3)), np.empty(0)), ValueError, r"0 sample\(s\)"),
    ("one-sample", fit(LinearRegression(), X[:1], y[:1]), ValueError, r"at least 2 samples.*got 1 sample"),
    ("no-features", fit(LinearRegression(), np.empty((30, 0)), y), ValueError, r"0 feature\(s\)"),
    ("X-1d", fit(LinearRegression(), X[:, 0], y), ValueError, r"(?s)Expected 2D array.*reshape"),
    ("X-3d", fit(LinearRegression(), X[:, :, None], y), ValueError, r"dim 3"),
    ("y-2d-classifier", fit(LogisticRegression(), X, np.c_[labels, labels]), ValueError, r"y should be a 1d array"),
    ("y-none", fit(LinearRegression(), X, None), ValueError, r"requires y to be passed"),
    ("text-in-X", fit(LinearRegression(), with_value(X, 2, 1, "abc"), y), ValueError, r"non-numeric.*OneHotEncoder"),
    ("text-y-regression", fit(LinearRegression(), X, np.array(["a", "b", "c"] * 10)), ValueError,
     r"y holds non-numeric.*LogisticRegression"),
    ("complex-X", fit(LinearRegression(), X + 1j, y), ValueError, r"[Cc]omplex.*real part"),
    ("one-class", fit(LogisticRegression(), X, np.ones(30)), ValueError, r"at least two classes.*only one class"),
    ("continuous-y-classifier", fit(LogisticRegression(), X, y), ValueError,
     r"classifier.*continuous.*LinearRegression"),
    ("negative-weight", fit(LinearRegression(), X, y, sample_weight=-np.ones(30)), ValueError, r"[Nn]egative"),
    ("zero-weights", fit(LinearRegression(), X, y, sample_weight=np.zeros(30)), ValueError, r"at least one non-zero"),
    ("weight-length", fit(LinearRegression(), X, y, sample_weight=np.ones(5)), ValueError, r"sample_weight"),
    ("huge-target", fit(LinearRegression(), X, y * 1e160), ValueError, r"overflow.*Rescale y"),
    ("tiny-target", fit(LinearRegression(), X, y * 1e-150), ValueError, r"underflow.*Rescale y"),
    ("predict-unfitted", lambda: LinearRegression().predict(X), NotFittedError, r"not fitted yet"),
    ("predict-n-features", lambda: fitted.predict(X[:, :2]), ValueError, r"X has 2 features.*expecting 3"),
    ("predict-feature-names",
     lambda: fitted_frame.predict(pd.DataFrame(X, columns=["a", "b", "z"])), ValueError, r"feature names should match"),
    ("predict-nan", lambda: fitted.predict(with_value(X, 0, 0, np.nan)), ValueError, r"NaN"),
    ("partial-fit-no-classes", lambda: LogisticRegression().partial_fit(X, labels), ValueError,
     r"classes must be given"),
    ("partial-fit-unseen-label", lambda: LogisticRegression().partial_fit(X, labels, classes=[0, 5]), ValueError,
     r"not in classes_"),
    ("resume-without-checkpoint", fit(LinearRegression(), X, y, resume=True), ValueError, r"checkpoint"),
    ("coef-init-shape", fit(LinearRegression(), X, y, coef_init=[1.0, 2.0]), ValueError,
     r"coef_init must be finite numbers of shape \(3,\)"),
    ("intercept-init-nan", fit(LinearRegression(), X, y, intercept_init=np.nan), ValueError,
     r"intercept_init must be a finite number"),
    ("sparse-y", fit(LinearRegression(), X, sp.csr_matrix(y[:, None])), ValueError, r"y is a sparse matrix.*dense"),
]  # fmt: skip

PARAM_CASES = [
    ("learning_rate", -0.1, r"learning_rate=-0.1 is not allowed; learning_rate must be a positive number"),
    ("learning_rate", "fast", r"learning_rate='fast'.*'auto', 'backtracking'"),
    ("learning_rate", ExponentialDecay(0.1, rate=-1.0), r"rate must be a non-negative number"),
    ("max_iter", 0, r"max_iter=0 is not allowed; max_iter must be an integer from 1 to 10,000,000"),
    ("max_iter", 10**7 + 1, r"max_iter must be an integer from 1 to 10,000,000"),
    ("max_iter", 2.5, r"max_iter must be an integer"),
    ("solver", "sgd", r"solver='sgd'.*one of 'auto', 'gd'"),
    ("tol", -1.0, r"tol must be a non-negative number"),
    ("l2", -1.0, r"l2 must be a non-negative number"),
    ("l1", float("nan"), r"l1 must be a non-negative number"),
    ("batch_size", 0, r"batch_size must be None \(full batch\) or an integer >= 1"),
    ("momentum", 1.0, r"momentum must be a number in \[0, 1\)"),
    ("validation_fraction", 1.5, r"validation_fraction must be None or a number in \(0, 1\)"),
    ("precondition", "yes", r"precondition must be 'auto', True, False, 'diagonal' or 'dense'"),
    ("fit_intercept", "yes", r"fit_intercept must be True or False"),
    ("n_iter_no_change", 0, r"n_iter_no_change must be an integer >= 1"),
    ("tol", 10**400, r"tol must be a non-negative number"),
]


@pytest.mark.parametrize("case", ESTIMATOR_CASES, ids=[c[0] for c in ESTIMATOR_CASES])
def test_estimator_rejects_bad_input(case):
    _, call, exc, pattern = case
    with pytest.raises(exc, match=pattern):
        call()


@pytest.mark.parametrize("name,value,pattern", PARAM_CASES, ids=[f"{c[0]}={c[1]!r}" for c in PARAM_CASES])
def test_invalid_parameter_names_itself(name, value, pattern):
    with pytest.raises(ValueError, match=pattern) as info:
        LinearRegression(**{name: value}).fit(X, y)
    assert str(info.value).startswith("LinearRegression: ")


def test_failed_fit_loses_nothing():
    model = LinearRegression().fit(X, y)
    before = (model.coef_.copy(), model.intercept_, model.n_iter_)
    with pytest.raises(ValueError):
        model.set_params(max_iter=0).fit(X, y)
    with pytest.raises(ValueError):
        model.set_params(max_iter=100).fit(with_value(X, 0, 0, np.nan), y)
    np.testing.assert_array_equal(model.coef_, before[0])
    assert (model.intercept_, model.n_iter_) == before[1:]


# ------------------------------------------------------------------ CSV files
CSV_CASES = [
    ("empty-file", "", r"the file is empty"),
    ("header-only", "a,b,y\n", r"header but no data rows"),
    ("no-header", "1,2,3\n4,5,6\n", r"looks like data.*add a header row"),
    ("ragged", "a,b,y\n1,2,3\n4,5\n", r"line 3: 2 values but the header names 3 columns"),
    ("text-feature", "a,color,y\n1,red,3\n2,blue,4\n", r"column 'color' holds text.*Encode it as numbers"),
    ("missing-value", "a,b,y\n1,,3\n2,5,4\n", r"line 2: missing value in column 'b'"),
    ("missing-target", "a,b,y\n1,2,\n2,5,4\n", r"missing target value"),
    ("unknown-target", "a,b,y\n1,2,3\n", r"no column named 'price'"),
    ("duplicate-columns", "a,a,y\n1,2,3\n", r"duplicate column names.*a"),
    ("empty-column-name", "a,,y\n1,2,3\n", r"empty column name"),
    ("infinite", "a,b,y\n1,inf,3\n", r"holds 'inf'; values must be finite"),
    ("bad-quotes", 'a,b,y\n"1,2,3\n', r"not a valid CSV|values but the header"),
]


@pytest.mark.parametrize("name,text,pattern", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_csv_reader_rejects_bad_files(tmp_path, name, text, pattern):
    path = tmp_path / "data.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=pattern):
        read_csv(path, "price" if name == "unknown-target" else None)


def test_csv_reader_rejects_binary_and_missing_files(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"\xff\xfe\x00\x81binary")
    with pytest.raises(ValueError, match="not a UTF-8 text file"):
        read_csv(path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_csv(tmp_path / "missing.csv")


# ------------------------------------------------------------ command line
def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


CLI_CASES = [
    ("unknown-data", lambda t: ["train", "bostn"], r"unknown data 'bostn'"),
    ("missing-csv", lambda t: ["train", str(t / "none.csv")], r"no such file"),
    ("text-column", lambda t: ["train", write(t, "a,city,y\n1,Oslo,2\n3,Rome,4\n5,Oslo,1\n")],
     r"column 'city' holds text"),
    ("single-target-value", lambda t: ["train", write(t, "a,y\n1,2\n3,2\n5,2\n")], r"single value"),
    ("regression-on-labels", lambda t: ["train", write(t, "a,y\n1,x\n3,y\n5,z\n"), "--task", "regression"],
     r"needs a numeric target"),
    ("target-on-builtin", lambda t: ["train", "housing", "--target", "MEDV"], r"--target is only for CSV"),
    ("bad-test-size", lambda t: ["train", "housing", "--test-size", "1.5"], r"--test-size must be in \[0, 1\)"),
    ("negative-learning-rate", lambda t: ["train", "housing", "--learning-rate", "-1"],
     r"learning_rate=-1.0 is not allowed"),
    ("diverging", lambda t: ["train", "housing", "--solver", "gd", "--learning-rate", "1"],
     r"diverged at iteration \d+.*2/L"),
    ("resume-without-checkpoint", lambda t: ["train", "housing", "--resume", "--checkpoint", str(t / "c.json")],
     r"no checkpoint file"),
    ("predict-missing-model", lambda t: ["predict", str(t / "m.json"), write(t, "a\n1\n")], r"m.json"),
]  # fmt: skip


@pytest.mark.parametrize("name,argv,pattern", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_errors_are_one_clear_line(tmp_path, capsys, monkeypatch, name, argv, pattern):
    monkeypatch.chdir(tmp_path)  # whatever a failing run might write stays out of the repository
    code = main(argv(tmp_path) + ["--quiet"] if argv(tmp_path)[0] == "train" else argv(tmp_path))
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("gdlearn: error: ") and "\n" not in err and "Traceback" not in err
    assert __import__("re").search(pattern, err), err


def test_table_has_at_least_forty_cases():
    total = len(ESTIMATOR_CASES) + len(PARAM_CASES) + len(CSV_CASES) + 2 + len(CLI_CASES)
    assert total >= 40
