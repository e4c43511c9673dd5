"""Turn the estimator's ``solver`` and ``learning_rate`` settings into an optimizer.

``solver="auto"`` picks the method that reaches the optimum fastest and cannot
diverge, for the problem at hand:

=====================================================  ==================================
situation                                              auto picks
=====================================================  ==================================
``learning_rate`` is a number or a schedule             ``"gd"`` (the tutorial's update)
``learning_rate="backtracking"``                       ``"gd"`` with Armijo line search
mini-batches (``batch_size`` set)                       ``"gd"`` with α = 1/L_B
full batch with an L1 penalty                           ``"fista"`` with α = 1/L
full batch, log loss, (p + 1)·k ≤ 64 parameters         ``"newton"`` (its Hessian is cheap)
full batch otherwise                                    ``"lbfgs"``
=====================================================  ==================================

``learning_rate="auto"`` means α = 1/L (1/L_B for mini-batches, see
:func:`gdlearn.lipschitz.minibatch_lipschitz`) for gd, momentum, nesterov and
fista, and the fixed defaults of :data:`ADAPTIVE_AUTO_LR` for the adaptive
methods, whose steps do not scale with L.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

from . import first_order
from .backtracking import Backtracking
from .base import Optimizer
from .fista import FISTA
from .lbfgs import LBFGS
from .newton import Newton
from .schedules import Constant, ExponentialDecay, Schedule

__all__ = ["SOLVERS", "MINIBATCH_SOLVERS", "ADAPTIVE_AUTO_LR", "NEWTON_MAX_PARAMS", "resolve_solver", "make_optimizer"]

SOLVERS = ("auto", "gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "fista", "lbfgs", "newton")

#: ``solver="auto"`` uses Newton's method for the log losses up to this many parameters (p + 1)·k.
NEWTON_MAX_PARAMS = 64

#: ``learning_rate="auto"`` for the adaptive methods (in standardised coordinates).
ADAPTIVE_AUTO_LR = {"adagrad": 0.5, "rmsprop": ExponentialDecay(0.01, rate=5e-4), "adam": 0.05}

#: solvers that can step on mini-batches (the others work on the full batch only)
MINIBATCH_SOLVERS = ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")


def _user_fixed_step(learning_rate) -> bool:
    if isinstance(learning_rate, Schedule):
        return learning_rate.lr != "auto"
    return isinstance(learning_rate, numbers.Real) and not isinstance(learning_rate, bool)


def resolve_solver(solver: str, learning_rate, *, minibatch: bool, has_l1: bool, newton: bool = False) -> str:
    """The concrete solver name ``"auto"`` stands for (see the module docstring).

    ``newton``: the problem is one for which Newton's method is the fastest
    (a log loss with at most :data:`NEWTON_MAX_PARAMS` parameters).
    """
    if solver != "auto":
        return solver
    if _user_fixed_step(learning_rate) or learning_rate == "backtracking" or minibatch:
        return "gd"
    if isinstance(learning_rate, Schedule):
        return "gd"
    if has_l1:
        return "fista"
    return "newton" if newton else "lbfgs"


def check_compatible(name: str, learning_rate, *, minibatch: bool, has_l1: bool) -> None:
    """Raise ValueError for combinations that cannot work, saying what to do instead."""
    if minibatch and name not in MINIBATCH_SOLVERS:
        raise ValueError(
            f"solver={name!r} works on the full batch only; with batch_size set use one of "
            f"{', '.join(repr(s) for s in MINIBATCH_SOLVERS)}, or set batch_size=None."
        )
    if has_l1 and name in ("lbfgs", "newton"):
        raise ValueError(f"solver={name!r} cannot handle an L1 penalty (l1 > 0); use solver='fista' or 'auto'.")
    if learning_rate == "backtracking" and (name != "gd" or minibatch):
        raise ValueError(
            "learning_rate='backtracking' is a line search for full-batch solver='gd' (or 'auto'); "
            f"got solver={name!r}{' with batch_size set' if minibatch else ''}."
        )


def make_optimizer(
    name: str,
    learning_rate,
    *,
    auto_lr: Callable[[], float],
    momentum: float = 0.9,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    rho: float = 0.9,
) -> Optimizer:
    """Build the optimizer ``name`` (a concrete solver, not ``"auto"``).

    Parameters
    ----------
    name : str
    learning_rate : float, "auto", "backtracking" or Schedule
    auto_lr : callable
        Returns the step ``"auto"`` stands for in the gradient-descent family
        (1/L); called only when needed.
    momentum, beta_1, beta_2, epsilon, rho : float
        β of momentum/nesterov; Adam's β₁, β₂; ε of the adaptive methods;
        γ (decay) of RMSProp.
    """
    if name == "lbfgs":
        return LBFGS()
    if name == "newton":
        return Newton()
    if learning_rate == "backtracking":
        return Backtracking()
    schedule = learning_rate if isinstance(learning_rate, Schedule) else Constant(learning_rate)
    if schedule.lr == "auto":
        default = ADAPTIVE_AUTO_LR.get(name)
        if isinstance(default, Schedule) and isinstance(learning_rate, str):
            schedule = default  # the method's own default schedule
        elif isinstance(default, Schedule):
            schedule = schedule.resolve(default.lr)
        else:
            schedule = schedule.resolve(default if default is not None else auto_lr())
    if name == "fista":
        return FISTA(schedule)
    if name == "gd":
        return first_order.gd(schedule)
    if name == "momentum":
        return first_order.momentum(schedule, momentum)
    if name == "nesterov":
        return first_order.nesterov(schedule, momentum)
    if name == "adagrad":
        return first_order.adagrad(schedule, eps=epsilon)
    if name == "rmsprop":
        return first_order.rmsprop(schedule, decay=rho, eps=epsilon)
    if name == "adam":
        return first_order.adam(schedule, b1=beta_1, b2=beta_2, eps=epsilon)
    raise ValueError(f"Unknown solver {name!r}; choose one of {', '.join(repr(s) for s in SOLVERS)}.")
