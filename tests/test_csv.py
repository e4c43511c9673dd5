"""The CSV reader: correct parsing of good files, and fuzzing for bad ones."""

import numpy as np
import pytest
from hypothesis import given, settings
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


number = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.integers(-(10**6), 10**6).map(str),
)


def _table_text(draw_header, body):
    return "\n".join([",".join(draw_header)] + [",".join(r) for r in body])


@st.composite
def csv_text(draw):
    """Half the time a well-formed numeric table (header, equal-length numeric rows), else arbitrary cells."""
    n_cols = draw(st.integers(2, 4))  # at least one feature besides the target
    header = [f"c{j}" for j in range(n_cols)]
    if draw(st.booleans()):
        body = draw(st.lists(st.lists(number, min_size=n_cols, max_size=n_cols), min_size=1, max_size=6))
    else:
        body = draw(st.lists(st.lists(cell, min_size=1, max_size=4), max_size=6))
        if draw(st.booleans()):
            header = draw(st.lists(cell, min_size=1, max_size=4))
    return _table_text(header, body)


def _read_or_refuse(path, outcomes) -> None:
    """read_csv gives a well-formed table or a ValueError, never another exception; records which."""
    try:
        table = read_csv(path)
    except ValueError:
        outcomes.append("refused")
        return
    outcomes.append("read")
    assert table.X.ndim == 2 and table.X.shape[0] == len(table.y)
    assert np.all(np.isfinite(table.X)) and table.X.shape[1] == len(table.feature_names)


def test_fuzz_structured_text(tmp_path):
    """Any CSV-like text: a well-formed table, or a ValueError — never another exception; both outcomes happen."""
    outcomes = []

    @settings(max_examples=150, deadline=None, derandomize=True, database=None)
    @given(text=csv_text())
    def run(text):
        path = tmp_path / "fuzz.csv"
        path.write_text(text, encoding="utf-8")
        _read_or_refuse(path, outcomes)

    run()
    assert outcomes.count("read") >= 0.25 * len(outcomes), outcomes.count("read")  # the success branch runs
    assert outcomes.count("refused") >= 0.1 * len(outcomes)


def test_fuzz_bytes(tmp_path):
    """Arbitrary bytes, half of them a valid table with some bytes changed: a table or a ValueError."""
    outcomes = []
    valid = b"a,b,y\n1,2,3\n4,5,6\n7,8,9\n"
    DIGITS = [i for i, c in enumerate(valid) if chr(c).isdigit()]

    @settings(max_examples=150, deadline=None, derandomize=True, database=None)
    @given(
        data=st.one_of(
            st.binary(max_size=200),
            st.tuples(st.integers(0, len(valid) - 1), st.binary(min_size=1, max_size=1)).map(
                lambda t: valid[: t[0]] + t[1] + valid[t[0] + 1 :]
            ),
            st.tuples(st.sampled_from(DIGITS), st.sampled_from(b"0123456789 -.")).map(
                lambda t: valid[: t[0]] + bytes([t[1]]) + valid[t[0] + 1 :]  # a digit changed: still a table
            ),
        )
    )
    def run(data):
        path = tmp_path / "fuzz.csv"
        path.write_bytes(data)
        _read_or_refuse(path, outcomes)

    run()
    assert outcomes.count("read") >= 0.2 * len(outcomes), outcomes.count("read")
    assert outcomes.count("refused") >= 0.2 * len(outcomes)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        read_csv(tmp_path)
