"""Data sets bundled with gdlearn, with scikit-learn-style loaders.

``load_housing``: the Boston house prices (506 × 12, regression), shipped
inside the package without the ``B`` column (see its ``DESCR``).
``load_breast_cancer``: the Wisconsin diagnostic breast-cancer data (569 × 30,
binary), which comes with scikit-learn.
"""

from ._loaders import load_breast_cancer, load_housing

__all__ = ["load_housing", "load_breast_cancer"]
