"""gdlearn: learning through gradient descent.

Linear and logistic (binary and softmax) regression trained by gradient
descent and its relatives, with scikit-learn's API, a command line, and
pictures of the descent.  See ``docs/`` for the mathematics and conventions.

The public names are imported lazily (PEP 562), so that ``gdlearn --help``
starts instantly; ``from gdlearn import LinearRegression`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

_EXPORTS = {
    "LinearRegression": "estimators",
    "LogisticRegression": "estimators",
    "ConvergenceWarning": "exceptions",
    "PerfectSeparationWarning": "exceptions",
    "DivergenceError": "exceptions",
    "FitInterrupted": "exceptions",
    "check_gradient": "gradcheck",
    "GradientCheckResult": "gradcheck",
    "save": "persistence",
    "load": "persistence",
    "explore": "explorer",
}

__all__ = [
    "__version__",
    "LinearRegression",
    "LogisticRegression",
    "ConvergenceWarning",
    "PerfectSeparationWarning",
    "DivergenceError",
    "FitInterrupted",
    "check_gradient",
    "GradientCheckResult",
    "save",
    "load",
    "explore",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .estimators import LinearRegression, LogisticRegression
    from .exceptions import ConvergenceWarning, DivergenceError, FitInterrupted, PerfectSeparationWarning
    from .explorer import explore
    from .gradcheck import GradientCheckResult, check_gradient
    from .persistence import load, save


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gdlearn' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
