"""Assemble objective, preconditioning, optimizer and solver loop for one fit.

The estimators call :func:`start_session` once per fit (or on the first
``partial_fit``) and :func:`run` for each batch of iterations.  A
:class:`Session` holds what must stay fixed across ``partial_fit`` calls and
checkpoints: the change of variables, the optimizer with its resolved step
size, the shuffling seed and the solver state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .exceptions import DivergenceError
from .lipschitz import lipschitz_constant, minibatch_lipschitz
from .objective import Objective
from .optim.factory import _user_fixed_step, check_compatible, make_optimizer, resolve_solver
from .optim.schedules import Schedule
from .preconditioning import ColumnScaling, Standardized
from .solver import FitResult, SolverState, minimize

__all__ = ["Config", "Session", "start_session", "run", "wants_preconditioning"]


@dataclass
class Config:
    """The estimator's settings that shape a fit (validated by the estimator)."""

    solver: str = "auto"
    learning_rate: Any = "auto"
    max_iter: int = 1000
    tol: float = 1e-4
    fit_intercept: bool = True
    l2: float = 0.0
    l1: float = 0.0
    batch_size: int | None = None
    shuffle: bool = True
    momentum: float = 0.9
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    rho: float = 0.9
    precondition: Any = "auto"
    n_iter_no_change: int = 10
    early_stopping: bool = False


@dataclass
class Session:
    """What stays fixed while a model trains (across partial_fit and resume)."""

    solver: str
    optimizer: Any
    seed: int
    scaling: ColumnScaling | None = None
    lipschitz: float | None = None
    state: SolverState | None = None
    extra: dict = field(default_factory=dict)

    def wrap(self, objective: Objective):
        """The objective in the solver's coordinates."""
        return objective if self.scaling is None else Standardized(objective, self.scaling)

    def to_original(self, theta: np.ndarray) -> np.ndarray:
        return theta if self.scaling is None else self.scaling.to_original(theta)

    def from_original(self, theta: np.ndarray) -> np.ndarray:
        return theta if self.scaling is None else self.scaling.from_original(theta)

    @property
    def value_scale(self) -> float:
        """The solver minimises J / value_scale (see :mod:`gdlearn.preconditioning`)."""
        return 1.0 if self.scaling is None else self.scaling.value_scale


def wants_preconditioning(cfg: Config) -> bool:
    """Standardise internally unless the user fixed the step size α themselves.

    A number or a schedule with a numeric ``lr`` means "the tutorial's update on
    my data as given", so α keeps its textbook meaning; otherwise (``"auto"``,
    ``"backtracking"``, L-BFGS) the solver works in standardised coordinates.
    """
    if cfg.precondition == "auto":
        return not _user_fixed_step(cfg.learning_rate)
    return bool(cfg.precondition)


def start_session(objective: Objective, cfg: Config, seed: int) -> Session:
    """Fix preconditioning, solver, step size for training on ``objective``'s data."""
    minibatch = cfg.batch_size is not None and cfg.batch_size < objective.n_samples
    name = resolve_solver(cfg.solver, cfg.learning_rate, minibatch=minibatch, has_l1=cfg.l1 > 0)
    check_compatible(name, cfg.learning_rate, minibatch=minibatch, has_l1=cfg.l1 > 0)
    session = Session(solver=name, optimizer=None, seed=seed)
    if wants_preconditioning(cfg):
        Y = None if objective.loss.is_classification else objective.Y
        session.scaling = ColumnScaling.fit(
            objective.X, objective.sample_weight, center=cfg.fit_intercept, Y=Y, ridge=cfg.l2 / objective.penalty_norm
        )
        _check_representable(session.scaling)
    work = session.wrap(objective)

    def auto_lr() -> float:
        L = session_lipschitz(session, work)
        if minibatch:
            L = minibatch_lipschitz(L, work.row_norm_bound(), objective.n_samples, cfg.batch_size)
        return 1.0 / L if L > 0 else 1.0

    session.optimizer = make_optimizer(
        name,
        cfg.learning_rate,
        auto_lr=auto_lr,
        momentum=cfg.momentum,
        beta_1=cfg.beta_1,
        beta_2=cfg.beta_2,
        epsilon=cfg.epsilon,
        rho=cfg.rho,
    )
    return session


_LOG_LIMIT = 305.0  # |log10| beyond which float64 values over- or underflow (with margin)


def _check_representable(scaling: ColumnScaling) -> None:
    """Refuse problems whose coefficients (≈ τ/σ) or gradients (≈ σ·τ) leave float64's range."""
    tau = scaling.target_scale
    live = ~scaling.frozen
    log_coef = np.log10(tau) - np.log10(scaling.scale[live])
    log_grad = np.log10(tau) + np.log10(scaling.scale[live])
    bad = None
    if np.any(log_coef > _LOG_LIMIT):
        bad = "coefficients (about the spread of y over the spread of a feature)"
    elif np.any(np.abs(log_grad) > _LOG_LIMIT):
        bad = "gradients (about the spread of y times the spread of a feature)"
    if bad is not None:
        raise ValueError(
            f"This problem's {bad} cannot be represented in double precision: y spreads over {tau:.3g} and the "
            f"features over {np.min(scaling.scale):.3g} to {np.max(scaling.scale):.3g}. Rescale X or y (e.g. by "
            "powers of ten) and convert the coefficients back."
        )


def session_lipschitz(session: Session, work, rtol: float = 1e-4) -> float:
    """L of the gradient in the solver's coordinates, computed once per session."""
    if session.lipschitz is None:
        session.lipschitz = lipschitz_constant(work, rtol=rtol, max_iter=200, random_state=session.seed)
    return session.lipschitz


def run(
    session: Session,
    objective: Objective,
    cfg: Config,
    *,
    theta0: np.ndarray,
    max_iter: int,
    validation: tuple[Objective, Callable] | None = None,
    callback=None,
    record_path: bool = False,
    checkpoint=None,
) -> FitResult:
    """Run ``max_iter`` iterations, continuing from ``session.state`` if any.

    ``theta0`` is in the user's coordinates; the result's ``theta`` and ``path``
    are converted back to them.  On divergence, re-raises
    :class:`~gdlearn.exceptions.DivergenceError` with a message that names the
    iteration, the loss and the largest stable step size for this data.
    """
    work = session.wrap(objective)
    c = session.value_scale
    if callback is not None and c != 1.0:
        user_callback = callback

        def callback(info):
            info.loss *= c
            if info.val_loss is not None:
                info.val_loss *= c
            return user_callback(info)

    val = None
    if validation is not None:
        val_obj, score_fn = validation
        val = (session.wrap(val_obj), lambda th: score_fn(session.to_original(th)))
    try:
        result = minimize(
            work,
            session.optimizer,
            session.from_original(theta0),
            max_iter=max_iter,
            tol=cfg.tol,
            batch_size=cfg.batch_size,
            shuffle=cfg.shuffle,
            seed=session.seed,
            n_iter_no_change=cfg.n_iter_no_change,
            validation=val,
            early_stopping=cfg.early_stopping,
            callback=callback,
            record_path=session.to_original if record_path else None,
            state=session.state,
            checkpoint=checkpoint,
        )
    except DivergenceError as err:
        raise _explain_divergence(err, session, work, cfg) from None
    session.state = result.state
    result.theta = session.to_original(result.theta)
    result.history = _user_units(result.history, c)
    return result


def _user_units(history: dict, c: float) -> dict:
    """History with the loss series multiplied back by the solver's value scale c (J in the user's units)."""
    if history is None or c == 1.0:
        return history
    return {k: ([v * c for v in vals] if k in ("loss", "val_loss") else list(vals)) for k, vals in history.items()}


def _explain_divergence(err: DivergenceError, session: Session, work, cfg: Config) -> DivergenceError:
    L = session_lipschitz(session, work, rtol=1e-10)
    opt = session.optimizer
    lr = err.learning_rate
    stable = opt.max_stable_lr(L)
    where = " (in standardised coordinates)" if session.scaling is not None else ""
    msg = (
        f"Gradient descent (solver={session.solver!r}) diverged at iteration {err.iteration}: "
        f"{err.args[0]} (loss = {err.loss * session.value_scale:.6g}, learning_rate = {_fmt(lr)})."
    )
    if stable is not None:
        formula = "2/L" if session.solver == "gd" else "the stability limit"
        msg += (
            f" For this data the largest stable learning rate is {formula} = {stable:.6g}{where}, "
            f"where L = {L:.6g} is the Lipschitz constant of the gradient. "
            f"Use learning_rate < {stable:.6g} (1/L = {1 / L:.6g} is a safe choice), or learning_rate='auto'."
        )
    else:
        msg += " Lower the learning rate (try a tenth of it), or use learning_rate='auto' or solver='auto'."
    if isinstance(cfg.learning_rate, Schedule):
        msg += " (The learning rate came from a schedule; lower its lr.)"
    c = session.value_scale
    history = _user_units(err.history, c)
    return DivergenceError(
        msg,
        iteration=err.iteration,
        loss=err.loss * c,
        learning_rate=lr,
        max_stable_learning_rate=stable,
        history=history,
    )


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.6g}"
