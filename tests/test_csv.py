"""The CSV reader: correct parsing of good files, and fuzzing for bad ones."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdlearn.data import read_csv


def test_reads_numbers_labels_quotes_and_bom(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('\ufeffa,"b, quoted",label\n1,2.5,yes\n-3e2,  4 ,no\n\n', encoding="utf-8")
    table = read_csv(path)
    assert table.feature_names == ["a", "b, quoted"] and table.target_name == "label"
    np.testing.assert_array_equal(table.X, [[1.0, 2.5], [-300.0, 4.0]])
    assert list(table.y) == ["yes", "no"]


def test_target_column_anywhere_and_numeric(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("price,x1,x2\n10,1,2\n20,3,4\n")
    table = read_csv(path, "price")
    assert table.feature_names == ["x1", "x2"] and table.y.dtype == float
    np.testing.assert_array_equal(table.y, [10.0, 20.0])


def test_columns_selects_features_by_name(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("note,b,a\nhello,1,2\nworld,3,4\n")
    table = read_csv(path, columns=["a", "b"])
    np.testing.assert_array_equal(table.X, [[2.0, 1.0], [4.0, 3.0]])
    assert table.y is None


cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
    st.sampled_from(["", "NA", "nan", '"', '""', ",", "\n", "1e999", " 1 "]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cell, min_size=1, max_size=4), max_size=6))
def test_fuzz_structured_text(tmp_path, rows):
    """Any CSV-like text: a well-formed table, or a ValueError — never another exception."""
    path = tmp_path / "fuzz.csv"
    path.write_text("\n".join(",".join(r) for r in rows), encoding="utf-8")
    try:
        table = read_csv(path)
    except ValueError:
        return
    assert table.X.ndim == 2 and table.X.shape[0] == len(table.y)
    assert np.all(np.isfinite(table.X)) and table.X.shape[1] == len(table.feature_names)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_fuzz_bytes(tmp_path, data):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    try:
        table = read_csv(path)
    except ValueError:
        return
    assert np.all(np.isfinite(table.X))


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        read_csv(tmp_path)
