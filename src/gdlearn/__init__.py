"""gdlearn: learning through gradient descent.

Linear and logistic (binary and softmax) regression trained by gradient
descent and its relatives, with scikit-learn's API, a command line, and
pictures of the descent.  See ``docs/`` for the mathematics and conventions.
"""

from ._version import __version__
from .estimators import LinearRegression, LogisticRegression
from .exceptions import ConvergenceWarning, DivergenceError, FitInterrupted, PerfectSeparationWarning
from .gradcheck import GradientCheckResult, check_gradient

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
]
