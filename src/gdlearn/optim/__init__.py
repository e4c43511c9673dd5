"""Optimizers with explicit state, built from small blocks (see ``docs/optimizers.md``)."""

from .backtracking import Backtracking
from .base import Optimizer
from .factory import SOLVERS, OptimizerSpec, make_spec, resolve_solver
from .fista import FISTA
from .lbfgs import LBFGS
from .newton import Newton
from .schedules import Constant, ExponentialDecay, InverseDecay, Schedule, StepDecay

__all__ = [
    "Optimizer",
    "Backtracking",
    "FISTA",
    "LBFGS",
    "Newton",
    "SOLVERS",
    "OptimizerSpec",
    "make_spec",
    "resolve_solver",
    "Schedule",
    "Constant",
    "ExponentialDecay",
    "InverseDecay",
    "StepDecay",
]
