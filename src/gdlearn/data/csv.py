"""A small, strict CSV reader for the command line.

The file must have a header row of column names; values are separated by
commas (quoted fields are allowed).  Feature columns must be numeric: a
column holding text is refused with a message that names it and suggests
encoding it.  The target column may hold numbers or labels.  Every problem is
reported as a :class:`ValueError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv as _csv
import fnmatch
import io
import math
import os
from collections import Counter
from dataclasses import dataclass

import numpy as np

__all__ = ["Table", "read_csv", "select_columns"]

_MISSING = {"", "na", "nan", "null", "none", "n/a", "?"}


@dataclass
class Table:
    """A parsed CSV file.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,) or None
        Floats if the target column is numeric, else strings.
    feature_names : list of str
    target_name : str or None
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list
    target_name: str | None


def _parse_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value


def select_columns(names: list[str], idx: list[int], features, drop, where: str) -> list[int]:
    """The positions in ``idx`` whose names match a pattern of ``features`` (all if None) and none of ``drop``.

    Patterns are names or ``fnmatch`` shell patterns; one that matches no name
    raises ValueError naming ``where`` and the names there are.
    """
    for patterns, keep in ((features, True), (drop, False)):
        for pattern in patterns or ():
            if not any(fnmatch.fnmatchcase(h, pattern) for h in names):
                raise ValueError(f"{where}: no column matches {pattern!r}; the columns are: {', '.join(names)}.")
        if patterns is not None:
            idx = [j for j in idx if any(fnmatch.fnmatchcase(names[j], p) for p in patterns) == keep]
    return idx


def read_csv(
    path,
    target: str | None = None,
    *,
    require_target: bool = True,
    columns: list | None = None,
    features: list[str] | None = None,
    drop: list[str] | None = None,
    max_bytes: int = 2**31,
) -> Table:
    """Read a CSV file with a header row into a :class:`Table`.

    Parameters
    ----------
    path : str or path-like
    target : str, optional
        Name of the target column; default: the last column.
    require_target : bool, default=True
        If False, the target column is optional (used at predict time): when
        ``target`` is None every column is a feature.
    columns : list of str, optional
        Read only these feature columns, in this order (used at predict time);
        other columns are ignored and no target is read.
    features, drop : list of str, optional
        Column names or shell patterns (``fnmatch``: ``x_*``, ``age?``): keep
        only the feature columns that match ``features``, then leave out those
        that match ``drop``.  A name or pattern that matches no column is an
        error; dropped columns are never parsed (a text column can be dropped).
    max_bytes : int
        Refuse larger files (this reader holds the file in memory).

    Returns
    -------
    Table

    Raises
    ------
    ValueError
        Naming the file, line and column of the first problem found.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file. Give a CSV file with a header row, or 'housing'.")
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a directory, not a CSV file.")
    too_big = f"{path}: the file is larger than {max_bytes:,} bytes; this reader holds it in memory."
    if os.path.getsize(path) > max_bytes:
        raise ValueError(too_big)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read(max_bytes + 1)  # bounded: a pipe or a device reports no size
        if len(text) > max_bytes:
            raise ValueError(too_big)
        rows = [row for row in _csv.reader(io.StringIO(text, newline=""), strict=True)]
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start}).") from None
    except _csv.Error as exc:
        raise ValueError(f"{path}: not a valid CSV file ({exc}).") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise ValueError(f"{path}: the file is empty; it needs a header row and at least one data row.")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if not body:
        raise ValueError(f"{path}: the file has a header but no data rows.")
    if any(h == "" for h in header):
        raise ValueError(f"{path}: the header row has an empty column name (column {header.index('') + 1}).")
    dupes = sorted(h for h, n in Counter(header).items() if n > 1)
    if dupes:
        raise ValueError(f"{path}: duplicate column names in the header: {', '.join(dupes)}.")
    if all(_parse_number(h) is not None for h in header):
        raise ValueError(
            f"{path}: the first row looks like data, not column names; add a header row with the column names."
        )
    for i, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}, line {i}: {len(row)} values but the header names {len(header)} columns.")

    if columns is not None:
        names = set(header)
        missing = [str(c) for c in columns if c not in names]
        if missing:
            raise ValueError(f"{path}: the model needs the columns {', '.join(missing)}, which the file lacks.")
        target, require_target = None, False
    if target is None and require_target:
        target = header[-1]
    if target is not None and target not in header:
        raise ValueError(f"{path}: no column named {target!r}; the columns are: {', '.join(header)}.")
    position = {h: j for j, h in enumerate(header)}
    t = position[target] if target is not None else None
    feature_idx = [position[c] for c in columns] if columns is not None else [j for j in range(len(header)) if j != t]
    feature_idx = select_columns(header, feature_idx, features, drop, path)
    if not feature_idx:
        raise ValueError(f"{path}: there are no feature columns besides the target {target!r}.")

    X = np.empty((len(body), len(feature_idx)))
    for col, j in enumerate(feature_idx):
        name = header[j]
        for i, row in enumerate(body, start=2):
            cell = row[j].strip()
            if cell.lower() in _MISSING:
                raise ValueError(
                    f"{path}, line {i}: missing value in column {name!r}. Fill or drop missing values first."
                )
            value = _parse_number(cell)
            if value is None:
                raise ValueError(
                    f"{path}, line {i}: column {name!r} holds text ({cell[:30]!r}); feature columns must be "
                    f"numeric. Encode it as numbers (e.g. one 0/1 column per category) or drop the column."
                )
            if not math.isfinite(value):
                raise ValueError(f"{path}, line {i}: column {name!r} holds {cell!r}; values must be finite.")
            X[i - 2, col] = value
    y = None
    if t is not None:
        cells = [row[t].strip() for row in body]
        for i, cell in enumerate(cells, start=2):
            if cell.lower() in _MISSING:
                raise ValueError(f"{path}, line {i}: missing target value in column {target!r}.")
        numbers = [_parse_number(c) for c in cells]
        if all(v is not None for v in numbers):
            y = np.array(numbers, dtype=float)
            bad = np.flatnonzero(~np.isfinite(y))
            if bad.size:
                raise ValueError(f"{path}, line {bad[0] + 2}: the target {target!r} must be finite.")
        else:
            y = np.array(cells, dtype=object)
    return Table(X=X, y=y, feature_names=[header[j] for j in feature_idx], target_name=target)
