"""Validation of estimator hyperparameters (done in ``fit``, never in ``__init__``).

A table maps each parameter to a predicate and a description of what is
allowed, so that every error names the parameter, the value given and the
allowed range, e.g.::

    ValueError: LinearRegression: learning_rate=-0.1 is not allowed; learning_rate
    must be a positive number, 'auto', 'backtracking' or a gdlearn.schedules schedule.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .optim.factory import SOLVERS
from .optim.schedules import Schedule

__all__ = ["validate_params", "PARAMETER_RULES", "MAX_ITER"]

#: The largest ``max_iter``: the history of a fit holds a few numbers per iteration.
MAX_ITER = 10_000_000


def _real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _prob_open(x) -> bool:
    return _real(x) and 0.0 <= x < 1.0


def _learning_rate(x) -> bool:
    if isinstance(x, Schedule):
        x.validate()  # raises with the field at fault
        return True
    return x in ("auto", "backtracking") if isinstance(x, str) else _real(x) and x > 0


PARAMETER_RULES: dict[str, tuple] = {
    "solver": (lambda x: isinstance(x, str) and x in SOLVERS, "one of " + ", ".join(repr(s) for s in SOLVERS)),
    "learning_rate": (
        _learning_rate,
        "a positive number, 'auto', 'backtracking' or a gdlearn.schedules schedule",
    ),
    "max_iter": (  # each iteration adds to the recorded history: bounded, as every size a user gives
        lambda x: _int(x) and 1 <= x <= MAX_ITER,
        f"an integer from 1 to {MAX_ITER:,} (each iteration is a full pass or an epoch, and is recorded)",
    ),
    "tol": (lambda x: _real(x) and x >= 0, "a non-negative number"),
    "fit_intercept": (lambda x: isinstance(x, bool), "True or False"),
    "l2": (lambda x: _real(x) and x >= 0, "a non-negative number"),
    "l1": (lambda x: _real(x) and x >= 0, "a non-negative number"),
    "batch_size": (lambda x: x is None or (_int(x) and x >= 1), "None (full batch) or an integer >= 1"),
    "shuffle": (lambda x: isinstance(x, bool), "True or False"),
    "average": (lambda x: isinstance(x, bool) or (isinstance(x, str) and x == "auto"), "'auto', True or False"),
    "momentum": (_prob_open, "a number in [0, 1)"),
    "beta_1": (_prob_open, "a number in [0, 1)"),
    "beta_2": (_prob_open, "a number in [0, 1)"),
    "rho": (_prob_open, "a number in [0, 1)"),
    "epsilon": (lambda x: _real(x) and x > 0, "a positive number"),
    "early_stopping": (lambda x: isinstance(x, bool), "True or False"),
    "validation_fraction": (lambda x: x is None or (_real(x) and 0 < x < 1), "None or a number in (0, 1)"),
    "n_iter_no_change": (lambda x: _int(x) and x >= 1, "an integer >= 1"),
    "warm_start": (lambda x: isinstance(x, bool), "True or False"),
    "precondition": (
        lambda x: isinstance(x, bool) or (isinstance(x, str) and x in ("auto", "diagonal", "dense")),
        "'auto', True, False, 'diagonal' or 'dense'",
    ),
    "record_path": (lambda x: isinstance(x, bool), "True or False"),
    "verbose": (lambda x: _int(x) and x >= 0 or isinstance(x, bool), "an integer >= 0"),
    "checkpoint": (lambda x: x is None or isinstance(x, str) or hasattr(x, "__fspath__"), "None or a file path"),
    "checkpoint_every": (lambda x: _int(x) and x >= 1, "an integer >= 1 (iterations)"),
    "checkpoint_seconds": (lambda x: x is None or (_real(x) and x > 0), "None or a positive number of seconds"),
    "random_state": (  # what numpy's RandomState (and so scikit-learn's splitters) accept as a seed
        lambda x: x is None or isinstance(x, np.random.RandomState) or (_int(x) and 0 <= x < 2**32),
        "None, an integer in [0, 2**32 - 1] or a numpy RandomState",
    ),
}


def validate_params(estimator) -> None:
    """Check every parameter of ``estimator`` against :data:`PARAMETER_RULES`.

    Raises
    ------
    ValueError
        Naming the estimator, the parameter, the value and what is allowed.
    """
    name = type(estimator).__name__
    for key, (check, allowed) in PARAMETER_RULES.items():  # getattr, not get_params: no signature inspection
        value = getattr(estimator, key)
        try:
            ok = bool(check(value))
        except ValueError as exc:
            raise ValueError(f"{name}: {key}={value!r} is not allowed; {exc}") from None
        except (TypeError, OverflowError):
            ok = False
        if not ok:
            raise ValueError(f"{name}: {key}={value!r} is not allowed; {key} must be {allowed}.")
