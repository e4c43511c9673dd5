"""Learning-rate schedules, for ``learning_rate=`` (re-exported from :mod:`gdlearn.optim.schedules`)."""

from .optim.schedules import Constant, ExponentialDecay, InverseDecay, Schedule, StepDecay

__all__ = ["Schedule", "Constant", "ExponentialDecay", "InverseDecay", "StepDecay"]
