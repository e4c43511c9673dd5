"""Loaders for the bundled data sets."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
from sklearn.utils import Bunch

from .._optional import import_optional

__all__ = ["load_housing", "load_breast_cancer"]


def _frame(X, y, feature_names, target_name):
    pd = import_optional("pandas", extra="pandas", purpose="as_frame=True")
    data = pd.DataFrame(X, columns=list(feature_names))
    target = pd.Series(y, name=target_name)
    return data, target, pd.concat([data, target], axis=1)


def load_housing(*, return_X_y: bool = False, as_frame: bool = False) -> Bunch | tuple:
    """Load the Boston house-prices data without the ``B`` column (regression).

    ==============   ==============
    Samples total    506
    Dimensionality   12
    Features         real, positive
    Target           real, 5 – 50 (median home value in $1000s)
    ==============   ==============

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        Return pandas objects (needs the ``pandas`` extra).

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data`` (506, 12), ``target`` (506,), ``feature_names``,
        ``target_names`` (``["MEDV"]``), ``DESCR``, ``filename``, and ``frame``
        when ``as_frame=True``.
    (data, target) : tuple, if ``return_X_y``

    Examples
    --------
    >>> from gdlearn.datasets import load_housing
    >>> X, y = load_housing(return_X_y=True)
    >>> X.shape, y.shape
    ((506, 12), (506,))
    """
    ref = resources.files(__package__) / "data" / "housing.csv"
    with ref.open("r", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    values = np.array(body, dtype=float)
    X, y = values[:, :-1], values[:, -1]
    feature_names = np.array(header[:-1], dtype=object)
    descr = (resources.files(__package__) / "housing.rst").read_text(encoding="utf-8")
    frame = None
    if as_frame:
        X, y, frame = _frame(X, y, feature_names, header[-1])
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        frame=frame,
        feature_names=feature_names,
        target_names=np.array([header[-1]]),
        DESCR=descr,
        filename="housing.csv",
        data_module=f"{__package__}.data",
    )


def load_breast_cancer(*, return_X_y: bool = False, as_frame: bool = False) -> Bunch | tuple:
    """Load the Wisconsin diagnostic breast-cancer data (binary classification).

    ==============   ===============
    Samples total    569 (212 malignant, 357 benign)
    Dimensionality   30
    Features         real, positive
    Classes          2 (0 = malignant, 1 = benign)
    ==============   ===============

    This is scikit-learn's copy (``sklearn.datasets.load_breast_cancer``),
    returned in the same shape as :func:`load_housing`.

    Parameters
    ----------
    return_X_y : bool, default=False
    as_frame : bool, default=False
        Needs the ``pandas`` extra.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data`` (569, 30), ``target`` (569,), ``feature_names``,
        ``target_names``, ``DESCR``, and ``frame`` when ``as_frame=True``.
    (data, target) : tuple, if ``return_X_y``
    """
    from sklearn.datasets import load_breast_cancer as _sk_load

    if as_frame:
        import_optional("pandas", extra="pandas", purpose="as_frame=True")
    return _sk_load(return_X_y=return_X_y, as_frame=as_frame)
