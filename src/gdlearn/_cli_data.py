"""Data loading and the error type shared by the ``gdlearn`` commands."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import numpy as np

__all__ = [
    "TASKS",
    "BUILTIN",
    "CLIError",
    "Data",
    "load_data",
    "need_matplotlib",
    "add_data_options",
    "add_quiet",
    "model_columns",
    "is_parquet",
    "open_source",
]

TASKS = ("regression", "classification")
BUILTIN = {"housing": "regression", "breast-cancer": "classification"}


class CLIError(Exception):
    """An error to report as one line."""


def need_matplotlib() -> None:
    """Fail early, naming the extra to install, when a command will draw pictures."""
    from ._optional import import_optional

    import_optional("matplotlib.pyplot", extra="plot", purpose="drawing pictures (--plot)")


def _patterns(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated column names or patterns, got {text!r}")
    return names


def add_data_options(parser, *, task: bool = True) -> None:
    """The options of every command that reads DATA: --target, --task, --features, --drop."""
    parser.add_argument("--target", help="target column of a CSV file (default: the last column)")
    if task:
        parser.add_argument(
            "--task", choices=TASKS, help="override the guess (two distinct whole numbers or text: classes)"
        )
    parser.add_argument(
        "--features", type=_patterns, metavar="COLS", help="use only these feature columns: names or patterns (x*,age)"
    )
    parser.add_argument("--drop", type=_patterns, metavar="COLS", help="leave out these columns: names or patterns")


def add_quiet(parser) -> None:
    """--quiet: no progress bar and no notes on standard error; results and errors still print."""
    parser.add_argument("--quiet", action="store_true", help="no progress or notes on standard error")


#: Column names that usually hold the target: one of them anywhere but last makes the default target ambiguous.
TARGET_NAMES = ("target", "y", "label", "labels", "class", "outcome", "response", "price")
#: A numeric target with more distinct values than this (and than half the rows) is not a set of class labels.
MAX_GUESSABLE_CLASSES = 20


@dataclass
class Data:
    """What a command reads: X, y, the feature names, the task and the target's name (and whether it was given)."""

    X: np.ndarray
    y: np.ndarray
    names: list
    task: str
    target: str
    guessed_target: bool


def load_data(data: str, *, target=None, task=None, features=None, drop=None, quiet: bool = False) -> Data:
    """Load DATA for the command line.

    Parameters
    ----------
    data : str
        ``"housing"``, ``"breast-cancer"`` or the path of a CSV file with a
        header row.
    target : str, optional
        The target column of a CSV file (default: the last column, said on
        standard error; refused when another column's name is one of
        :data:`TARGET_NAMES`, so that the user chooses).
    task : {"regression", "classification"}, optional
        Default: classification if the target holds text or two distinct
        whole numbers (said on standard error, with how to override it),
        regression otherwise.  Classification of a numeric target with more
        than :data:`MAX_GUESSABLE_CLASSES` distinct values (and more than half
        the rows) is refused: those are measurements.
    features, drop : list of str, optional
        Feature columns to keep, then to leave out (names or shell patterns).
    quiet : bool
        No notes on standard error.
    """
    from . import datasets
    from .data.csv import select_columns

    def note(text: str) -> None:
        if not quiet:
            print(f"gdlearn: {text}", file=sys.stderr)

    if data in BUILTIN:
        if target is not None:
            raise CLIError(f"--target is only for CSV files; {data!r} has its own target.")
        bunch = datasets.load_housing() if data == "housing" else datasets.load_breast_cancer()
        names = [str(n) for n in bunch.feature_names]
        keep = select_columns(names, list(range(len(names))), features, drop, data)
        if not keep:
            raise CLIError(f"{data}: --features/--drop leave no feature columns.")
        X, y, names = bunch.data[:, keep], bunch.target, [names[j] for j in keep]
        guessed, target_name = BUILTIN[data], "MEDV" if data == "housing" else "target"
    else:
        from .data import read_csv

        if not os.path.exists(data) and not data.lower().endswith(".csv"):
            raise CLIError(
                f"unknown data {data!r}: give 'housing', 'breast-cancer' or the path of a CSV or Parquet file."
            )
        if is_parquet(data):  # read whole (small files; larger ones stream: gdlearn._cli_stream)
            source = open_source(data, target, features=features, drop=drop)
            X, y, _ = source.to_arrays()
            names, target_name = source.feature_names, source.target
        else:
            if target is None:
                _check_default_target(data)
            table = read_csv(data, target, features=features, drop=drop)
            X, y, names, target_name = table.X, table.y, table.feature_names, table.target_name
        distinct = np.unique(y.astype(str))
        if distinct.size < 2:
            raise CLIError(
                f"{data}: the target column {target_name!r} has a single value "
                f"({str(distinct[0])!r}); there is nothing to learn."
            )
        labels = y.dtype == object or (distinct.size == 2 and np.array_equal(y, np.round(y)))
        guessed = "classification" if labels else "regression"  # two non-integral numbers are a measurement
        if target is None:
            note(f"target: the last column, {target_name!r}; choose another with --target NAME.")
        if task is None and labels and y.dtype != object:
            note(
                f"the target {target_name!r} has two values ({', '.join(distinct)}): treating them "
                "as class labels; give --task regression to fit them as numbers."
            )
        if task == "classification" and y.dtype != object and distinct.size > max(MAX_GUESSABLE_CLASSES, len(y) / 2):
            raise CLIError(
                f"--task classification: the target {target_name!r} has {distinct.size} distinct numbers in "
                f"{len(y)} rows, measurements rather than class labels. Use --task regression, or make classes "
                "first (e.g. cut the values into ranges)."
            )
    task = task or guessed
    if task == "regression" and y.dtype == object:
        raise CLIError(
            f"--task regression needs a numeric target, but {data!r} has text labels. Use --task classification."
        )
    return Data(X, y, names, task, target_name, target is None and data not in BUILTIN)


def is_parquet(path: str) -> bool:
    """A Parquet file, or a folder holding Parquet files."""
    if os.path.isdir(path):
        return any(f.lower().endswith((".parquet", ".pq")) for f in os.listdir(path))
    return path.lower().endswith((".parquet", ".pq"))


def open_source(path: str, target=None, *, features=None, drop=None, note=None):
    """A :class:`~gdlearn.data.ParquetSource` or :class:`~gdlearn.data.CSVSource` of a file or folder.

    The default target is the last column (said through ``note``), refused as for CSV files when another
    column is named like a target.
    """
    from .data import CSVSource, ParquetSource

    Source = ParquetSource if is_parquet(path) else CSVSource
    if target is None:
        columns = _column_names(path, Source)
        likely = [c for c in columns[:-1] if c.lower() in TARGET_NAMES]
        if likely:
            raise CLIError(
                f"{path}: which column is the target? By default it is the last one ({columns[-1]!r}), but "
                f"{likely[0]!r} looks like a target. Say which: --target {likely[0]} (or --target {columns[-1]})."
            )
        target = columns[-1]
        if note is not None:
            note(f"target: the last column, {target!r}; choose another with --target NAME.")
    return Source(path, target=target, features=features, drop=drop)


def _column_names(path: str, Source) -> list[str]:
    """The column names of the first file of a source (to choose the default target before opening it)."""
    from .data.files import source_files

    return [str(c) for c in Source.__new__(Source)._schema(source_files(path, Source._suffixes)[0]).names]


def _check_default_target(path: str) -> None:
    """Refuse to guess the target when a column other than the last is named like one."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            header = [h.strip() for h in next(csv.reader(f), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return  # read_csv says what is wrong with the file
    likely = [h for h in header[:-1] if h.lower() in TARGET_NAMES]
    if header and likely:
        raise CLIError(
            f"{path}: which column is the target? By default it is the last one ({header[-1]!r}), but "
            f"{likely[0]!r} looks like a target. Say which: --target {likely[0]} (or --target {header[-1]})."
        )


def model_columns(model, X, names, data):
    """X's columns in the order the model was trained on (by name when it has names)."""
    model_names = getattr(model, "feature_names_in_", None)
    if model_names is not None and names is not None and list(map(str, names)) != list(map(str, model_names)):
        names = [str(n) for n in names]
        missing = [str(n) for n in model_names if str(n) not in names]
        if missing:
            raise CLIError(f"{data}: the model needs the columns {', '.join(missing)}, which the data lacks.")
        X = X[:, [names.index(str(n)) for n in model_names]]
    n_in = getattr(model, "n_features_in_", X.shape[1])
    if X.shape[1] != n_in:
        raise CLIError(f"{data}: {X.shape[1]} feature columns, but the model was trained on {n_in} features.")
    return np.asarray(X, dtype=float)
