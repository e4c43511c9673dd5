"""Learning-rate schedules α_t, with t the number of updates taken so far.

t counts optimizer steps (one per mini-batch; one per iteration for full-batch
fits) and is part of the optimizer state, so it carries over ``partial_fit``
calls, ``warm_start`` and checkpoints.  ``lr`` may be ``"auto"``: it is then
replaced at fit time by the step the solver would pick (1/L for the
gradient-descent family).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

__all__ = ["Schedule", "Constant", "ExponentialDecay", "InverseDecay", "StepDecay"]


@dataclass(frozen=True)
class Schedule:
    """Base class: a callable t ↦ α_t."""

    lr: float | str = "auto"

    def __call__(self, t: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def resolve(self, auto_lr: float) -> Schedule:
        """This schedule with ``lr="auto"`` replaced by ``auto_lr``."""
        return replace(self, lr=auto_lr) if self.lr == "auto" else self

    def validate(self) -> None:
        """Raise ValueError naming the field at fault."""
        if self.lr != "auto" and not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"{type(self).__name__}: lr must be a positive number or 'auto', got {self.lr!r}.")
        for name, value in self._rates().items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{type(self).__name__}: {name} must be a non-negative number, got {value!r}.")

    def _rates(self) -> dict:
        return {}


@dataclass(frozen=True)
class Constant(Schedule):
    """α_t = lr."""

    def __call__(self, t: int) -> float:
        return float(self.lr)


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """α_t = lr · e^(−rate·t)."""

    rate: float = 0.01

    def __call__(self, t: int) -> float:
        return float(self.lr) * math.exp(-self.rate * t)

    def _rates(self):
        return {"rate": self.rate}


@dataclass(frozen=True)
class InverseDecay(Schedule):
    """α_t = lr / (1 + rate·t)^power (power = 1: the classic 1/t decay)."""

    rate: float = 0.01
    power: float = 1.0

    def __call__(self, t: int) -> float:
        try:
            return float(self.lr) / (1.0 + self.rate * t) ** self.power
        except OverflowError:  # the denominator is beyond double precision: α_t is 0 to within it
            return 0.0

    def _rates(self):
        return {"rate": self.rate, "power": self.power}


@dataclass(frozen=True)
class StepDecay(Schedule):
    """α_t = lr · factor^⌊t / step_size⌋."""

    factor: float = 0.5
    step_size: int = 100

    def __call__(self, t: int) -> float:
        return float(self.lr) * self.factor ** (t // self.step_size)

    def validate(self) -> None:
        super().validate()
        if not (isinstance(self.step_size, int) and self.step_size >= 1):
            raise ValueError(f"StepDecay: step_size must be an integer >= 1, got {self.step_size!r}.")
        if not (isinstance(self.factor, (int, float)) and 0 < self.factor <= 1):
            raise ValueError(
                f"StepDecay: factor must be in (0, 1] (each step multiplies α by it; above 1 α grows until it "
                f"overflows), got {self.factor!r}."
            )

    def _rates(self):
        return {"factor": self.factor}
