"""Bundled data: shapes, provenance, the missing B column, and the loaders' scikit-learn shape."""

import hashlib
from importlib import resources

import numpy as np
import pytest

from gdlearn.datasets import load_breast_cancer, load_housing


def test_housing_bunch():
    data = load_housing()
    assert data.data.shape == (506, 12) and data.target.shape == (506,)
    assert list(data.feature_names) == [
        "CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "LSTAT",
    ]  # fmt: skip
    assert "B" not in list(data.feature_names)
    assert "Harrison" in data.DESCR and "Why there is no ``B`` column" in data.DESCR
    assert data.target.min() == 5.0 and data.target.max() == 50.0
    # first row, as in the original file
    np.testing.assert_array_equal(data.data[0], [0.00632, 18, 2.31, 0, 0.538, 6.575, 65.2, 4.09, 1, 296, 15.3, 4.98])


def test_housing_file_is_the_original_without_B():
    """Same values as shared/data's sklearn 1.1.3 copy (checked by its recorded sha256 in the DESCR)."""
    text = (resources.files("gdlearn.datasets") / "data" / "housing.csv").read_text()
    assert text.splitlines()[0] == "CRIM,ZN,INDUS,CHAS,NOX,RM,AGE,DIS,RAD,TAX,PTRATIO,LSTAT,MEDV"
    assert len(text.splitlines()) == 507
    # the exact bytes shipped in the wheel: the original (sha256 d9821263… in the DESCR) without its B column
    assert (
        hashlib.sha256(text.encode()).hexdigest() == "86befae859f79de03fd4bb82e999ce10e7ce72d59ebd3be6ceb6eb76a3902d42"
    )


def test_return_X_y_and_frame():
    X, y = load_housing(return_X_y=True)
    assert X.shape == (506, 12)
    frame = load_housing(as_frame=True)
    assert list(frame.frame.columns)[-1] == "MEDV" and frame.frame.shape == (506, 13)
    Xf, yf = load_housing(return_X_y=True, as_frame=True)
    np.testing.assert_array_equal(Xf.to_numpy(), X)


def test_breast_cancer():
    data = load_breast_cancer()
    assert data.data.shape == (569, 30) and set(np.unique(data.target)) == {0, 1}
    assert list(data.target_names) == ["malignant", "benign"]
    X, y = load_breast_cancer(return_X_y=True)
    assert X.shape == (569, 30)


def test_as_frame_without_pandas_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"gdlearn\[pandas\]"):
        load_housing(as_frame=True)
