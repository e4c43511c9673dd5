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

import dataclasses
import numbers
from collections.abc import Callable
from dataclasses import dataclass

from . import first_order
from .averaging import Averaged
from .backtracking import Backtracking
from .base import Optimizer
from .fista import FISTA
from .lbfgs import LBFGS
from .newton import Newton
from .schedules import Constant, ExponentialDecay, Schedule

__all__ = [
    "SOLVERS",
    "MINIBATCH_SOLVERS",
    "ADAPTIVE_AUTO_LR",
    "NEWTON_MAX_PARAMS",
    "HYPERPARAMETERS",
    "OptimizerSpec",
    "capabilities",
    "resolve_solver",
    "make_spec",
]

SOLVERS = ("auto", "gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "fista", "lbfgs", "newton")

#: ``solver="auto"`` uses Newton's method for the log losses up to this many parameters (p + 1)·k.
NEWTON_MAX_PARAMS = 64

#: ``learning_rate="auto"`` for the adaptive methods (in standardised coordinates).
ADAPTIVE_AUTO_LR = {"adagrad": 0.5, "rmsprop": ExponentialDecay(0.01, rate=5e-4), "adam": 0.05}


@dataclass(frozen=True)
class OptimizerSpec:
    """Everything that defines an optimizer, settled once per training session.

    ``build()`` makes the same optimizer every time (a resumed fit rebuilds it
    from the session's spec).  A hyperparameter is a field here and an argument
    of the block that uses it, nowhere else.

    Attributes
    ----------
    solver : str
        A concrete solver (not ``"auto"``).
    learning_rate : Schedule, "backtracking" or None
        With ``lr`` resolved to a number; None for L-BFGS and Newton, which
        choose their steps by line search.
    momentum, beta_1, beta_2, epsilon, rho : float
        β of momentum/nesterov; Adam's β₁, β₂; ε of the adaptive methods; γ of RMSProp.
    average : int or None
        Average the iterates after this many steps (:class:`~gdlearn.optim.averaging.Averaged`); None: no averaging.
    """

    solver: str
    learning_rate: Schedule | str | None = None
    momentum: float = 0.9
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    rho: float = 0.9
    average: int | None = None

    @property
    def lr(self) -> float | None:
        """The schedule's base step α (None without a schedule)."""
        return float(self.learning_rate.lr) if isinstance(self.learning_rate, Schedule) else None

    def with_lr(self, lr: float) -> OptimizerSpec:
        """This spec with the schedule's base step replaced (a checkpoint's 1/L)."""
        return dataclasses.replace(self, learning_rate=dataclasses.replace(self.learning_rate, lr=lr))

    def build(self) -> Optimizer:
        name, schedule = self.solver, self.learning_rate
        if name == "lbfgs":
            return LBFGS()
        if name == "newton":
            return Newton()
        if schedule == "backtracking":
            return Backtracking()
        builders: dict[str, Callable[[], Optimizer]] = {
            "fista": lambda: FISTA(schedule),
            "gd": lambda: first_order.gd(schedule),
            "momentum": lambda: first_order.momentum(schedule, self.momentum),
            "nesterov": lambda: first_order.nesterov(schedule, self.momentum),
            "adagrad": lambda: first_order.adagrad(schedule, eps=self.epsilon),
            "rmsprop": lambda: first_order.rmsprop(schedule, decay=self.rho, eps=self.epsilon),
            "adam": lambda: first_order.adam(schedule, b1=self.beta_1, b2=self.beta_2, eps=self.epsilon),
        }
        if name not in builders:
            raise ValueError(f"Unknown solver {name!r}; choose one of {', '.join(repr(s) for s in SOLVERS)}.")
        optimizer = builders[name]()
        return optimizer if self.average is None else Averaged(optimizer, start=self.average)


#: The optimizer hyperparameters among the estimators' parameters (fields of :class:`OptimizerSpec`).
HYPERPARAMETERS = tuple(
    f.name for f in dataclasses.fields(OptimizerSpec) if f.name not in ("solver", "learning_rate", "average")
)


def capabilities(solver: str) -> Optimizer:
    """An optimizer ``solver`` builds, for its flags (``full_batch_only``, ``supports_l1``, ...)."""
    return OptimizerSpec(solver, None if solver in ("lbfgs", "newton") else Constant(1.0)).build()


#: solvers that can step on mini-batches (the others work on the full batch only)
MINIBATCH_SOLVERS = tuple(s for s in SOLVERS[1:] if not capabilities(s).full_batch_only)


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
    flags = capabilities(name)
    if minibatch and flags.full_batch_only:
        raise ValueError(
            f"solver={name!r} works on the full batch only; with batch_size set use one of "
            f"{', '.join(repr(s) for s in MINIBATCH_SOLVERS)}, or set batch_size=None."
        )
    if has_l1 and not flags.supports_l1:
        raise ValueError(f"solver={name!r} cannot handle an L1 penalty (l1 > 0); use solver='fista' or 'auto'.")
    if learning_rate == "backtracking" and (name != "gd" or minibatch):
        raise ValueError(
            "learning_rate='backtracking' is a line search for full-batch solver='gd' (or 'auto'); "
            f"got solver={name!r}{' with batch_size set' if minibatch else ''}."
        )


def make_spec(
    name: str, learning_rate, *, auto_lr: Callable[[], float], hyper: dict, average: int | None = None
) -> OptimizerSpec:
    """The :class:`OptimizerSpec` of solver ``name`` (concrete) with ``learning_rate`` resolved.

    Parameters
    ----------
    name : str
    learning_rate : float, "auto", "backtracking" or Schedule
    auto_lr : callable
        Returns the step ``"auto"`` stands for in the gradient-descent family
        (1/L); called only when needed.
    hyper : dict
        The estimator's :data:`HYPERPARAMETERS`.
    average : int or None
        Steps before iterate averaging begins (gradient-descent family only); None: none.
    """
    if name in ("lbfgs", "newton") or learning_rate == "backtracking":
        return OptimizerSpec(name, None if name in ("lbfgs", "newton") else "backtracking", **hyper)
    schedule = learning_rate if isinstance(learning_rate, Schedule) else Constant(learning_rate)
    if schedule.lr == "auto":
        default = ADAPTIVE_AUTO_LR.get(name)
        if isinstance(default, Schedule) and isinstance(learning_rate, str):
            schedule = default  # the method's own default schedule
        elif isinstance(default, Schedule):
            schedule = schedule.resolve(default.lr)
        else:
            schedule = schedule.resolve(default if default is not None else auto_lr())
    return OptimizerSpec(name, schedule, **hyper, average=average if name != "fista" else None)
