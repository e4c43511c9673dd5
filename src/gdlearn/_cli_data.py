"""Data loading and the error type shared by the ``gdlearn`` commands."""

from __future__ import annotations

import os
import sys

import numpy as np

__all__ = ["TASKS", "BUILTIN", "CLIError", "load_data", "need_matplotlib"]

TASKS = ("regression", "classification")
BUILTIN = {"housing": "regression", "breast-cancer": "classification"}


class CLIError(Exception):
    """An error to report as one line."""


def need_matplotlib() -> None:
    """Fail early, naming the extra to install, when a command will draw pictures."""
    from ._optional import import_optional

    import_optional("matplotlib.pyplot", extra="plot", purpose="drawing pictures (--plot)")


def load_data(data: str, *, target: str | None = None, task: str | None = None):
    """Load DATA for the command line.

    Parameters
    ----------
    data : str
        ``"housing"``, ``"breast-cancer"`` or the path of a CSV file with a
        header row.
    target : str, optional
        The target column of a CSV file (default: the last column).
    task : {"regression", "classification"}, optional
        Default: classification if the target holds text or two distinct
        whole numbers (said on standard error, with how to override it),
        regression otherwise.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    feature_names : list of str
    task : str
    """
    from . import datasets

    if data in BUILTIN:
        if target is not None:
            raise CLIError(f"--target is only for CSV files; {data!r} has its own target.")
        bunch = datasets.load_housing() if data == "housing" else datasets.load_breast_cancer()
        X, y, names = bunch.data, bunch.target, [str(n) for n in bunch.feature_names]
        guessed = BUILTIN[data]
    else:
        from .data import read_csv

        if not os.path.exists(data) and not data.lower().endswith(".csv"):
            raise CLIError(f"unknown data {data!r}: give 'housing', 'breast-cancer' or the path of a CSV file.")
        table = read_csv(data, target)
        X, y, names = table.X, table.y, table.feature_names
        distinct = np.unique(y.astype(str))
        if distinct.size < 2:
            raise CLIError(
                f"{data}: the target column {table.target_name!r} has a single value "
                f"({str(distinct[0])!r}); there is nothing to learn."
            )
        labels = y.dtype == object or (distinct.size == 2 and np.array_equal(y, np.round(y)))
        guessed = "classification" if labels else "regression"  # two non-integral numbers are a measurement
        if task is None and labels and y.dtype != object:
            print(
                f"gdlearn: the target {table.target_name!r} has two values ({', '.join(distinct)}): treating them "
                "as class labels; give --task regression to fit them as numbers.",
                file=sys.stderr,
            )
    task = task or guessed
    if task == "regression" and y.dtype == object:
        raise CLIError(
            f"--task regression needs a numeric target, but {data!r} has text labels. Use --task classification."
        )
    return X, y, names, task
