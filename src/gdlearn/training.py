"""Assemble data, objective, preconditioning, optimizer and solver loop for one fit.

The estimators call :func:`start_session` once per fit (or on the first
``partial_fit``) and :func:`run` for each batch of iterations.  A
:class:`Session` holds what must stay fixed across ``partial_fit`` calls and
checkpoints: the change of variables, the optimizer with its resolved step
size, the shuffling seed and the solver state.

How a fit reads X (``docs/architecture.md``):

1. one statistics pass (max |x|, the means, and the Gram matrix of [X, y] (dense
   X with at most :data:`DENSE_MAX_FEATURES` features) or the column variances,
   each block about its own mean, merged): what preconditioning needs;
2. the solver's iterations: one kernel pass per evaluation of J and ∇J, except
   for the full-batch squared loss, whose J and ∇J come from the Gram matrix
   (:class:`~gdlearn.data.source.GramSource`) without reading X again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import stopping
from .data.source import GramSource
from .data.stats import Statistics
from .exceptions import DivergenceError
from .lipschitz import lipschitz_constant, lipschitz_from_statistics, minibatch_lipschitz
from .objective import Objective, Problem
from .optim.factory import (
    HYPERPARAMETERS,
    NEWTON_MAX_PARAMS,
    OptimizerSpec,
    _user_fixed_step,
    capabilities,
    check_compatible,
    make_spec,
    resolve_solver,
)
from .optim.schedules import Schedule
from .preconditioning import Coordinates, diagonal_coordinates, whitened_coordinates
from .solver import FitResult, SolverState, minimize

__all__ = ["Config", "Session", "start_session", "run", "preconditioning_kind", "DENSE_MAX_FEATURES"]

#: Whitening (and the Gram matrix) for dense X with at most this many features (BENCHMARKS.md, "crossover").
DENSE_MAX_FEATURES = 512


@dataclass
class Config:
    """The estimator's settings that shape a fit (validated by the estimator); see :meth:`from_params`."""

    solver: str = "auto"
    learning_rate: Any = "auto"
    max_iter: int = 1000
    tol: float = 1e-4
    fit_intercept: bool = True
    l2: float = 0.0
    l1: float = 0.0
    batch_size: int | None = None
    shuffle: bool = True
    average: Any = "auto"
    precondition: Any = "auto"
    n_iter_no_change: int = 10
    early_stopping: bool = False
    checkpoint: Any = None
    checkpoint_every: int = 100
    checkpoint_seconds: float | None = None
    #: the optimizer's hyperparameters (:data:`gdlearn.optim.factory.HYPERPARAMETERS`), passed on to its spec
    hyper: dict = field(default_factory=dict)

    def minibatch(self, n_samples: int) -> bool:
        """Whether a fit on ``n_samples`` rows steps on mini-batches (``batch_size`` below the number of rows)."""
        return self.batch_size is not None and self.batch_size < n_samples

    @classmethod
    def from_params(cls, params: dict) -> Config:
        """The settings among an estimator's ``get_params()``, picked by name."""
        names = [f.name for f in dataclasses.fields(cls) if f.name != "hyper"]
        return cls(**{k: params[k] for k in names}, hyper={k: params[k] for k in HYPERPARAMETERS})


@dataclass
class Session:
    """What stays fixed while a model trains (across partial_fit and resume)."""

    solver: str
    optimizer: Any
    seed: int
    spec: OptimizerSpec | None = None  # the optimizer is spec.build(); resume rebuilds it from the spec
    auto_lr: bool = True  # the step size was chosen by gdlearn (1/L, a default), not fixed by the user
    coords: Coordinates | None = None
    lipschitz: float | None = None
    state: SolverState | None = None
    stats: Statistics | None = None
    gram: GramSource | None = None
    gram_of: Any = None  # the data source the Gram matrix was formed from
    extra: dict = field(default_factory=dict)

    def __getstate__(self) -> dict:
        """Pickle without the caches of one fit's data (the statistics, the Gram matrix, the data itself)."""
        return {**self.__dict__, "stats": None, "gram": None, "gram_of": None}

    def problem(self, objective: Objective, data) -> Problem:
        """The objective on ``data`` in the solver's coordinates (read from the Gram matrix where it can be)."""
        source = self.gram if self.gram is not None and data is self.gram_of else data
        return objective.bind(source, self.coords)

    def to_original(self, theta: np.ndarray) -> np.ndarray:
        return theta if self.coords is None else self.coords.to_original(theta)

    def from_original(self, theta: np.ndarray) -> np.ndarray:
        return theta if self.coords is None else self.coords.from_original(theta)

    @property
    def value_scale(self) -> float:
        """The solver minimises J / value_scale (see :mod:`gdlearn.preconditioning`)."""
        return 1.0 if self.coords is None else self.coords.value_scale


def preconditioning_kind(cfg: Config, data, *, minibatch: bool, solver: str = "auto") -> str | None:
    """None (the user's coordinates), ``"diagonal"`` or ``"dense"`` (whitened).

    ``precondition="auto"``: none when the user fixed the step size α (a number,
    or a schedule with a numeric ``lr``: the tutorial's update on the data as
    given); otherwise whitened where it can be (dense X with at most
    :data:`DENSE_MAX_FEATURES` features, neither mini-batches nor ``partial_fit``
    (``minibatch``), no L1 penalty, whose proximal step needs coordinates of
    its own, and not AdaGrad, RMSProp or Adam, which scale each feature's
    axis themselves, nor Newton's method, whose iterates do not depend on the
    coordinates), else diagonal.  ``True`` is "auto"
    even with a fixed α; ``"diagonal"`` and ``"dense"`` force a kind (dense
    falls back to diagonal where it cannot apply).
    """
    setting = cfg.precondition
    if setting is False or (setting == "auto" and _user_fixed_step(cfg.learning_rate)):
        return None
    dense_ok = not data.sparse and data.n_features <= DENSE_MAX_FEATURES and not minibatch and cfg.l1 == 0
    flags = capabilities(solver) if solver != "auto" else None
    if flags is not None:  # a method that scales each axis itself, or does not care for coordinates
        dense_ok = dense_ok and not flags.per_coordinate and (not flags.affine_invariant or setting == "dense")
    if setting == "diagonal" or not dense_ok or data.n_features < 2:
        return "diagonal"
    return "dense"


def start_session(data, objective: Objective, cfg: Config, seed: int, *, stochastic: bool = False) -> Session:
    """Fix preconditioning, solver, step size and averaging for training on ``data``.

    A *stochastic* run steps on mini-batches (``cfg.batch_size`` below the
    number of rows) or on one chunk of a stream per call (``partial_fit``:
    ``stochastic=True``).  There, ``learning_rate="auto"`` is 1/L_B, L_B the
    expected smoothness of a mini-batch gradient, times (1 − β) for momentum
    and Nesterov, whose steady-state step is α/(1 − β); and ``average``
    decides whether the model is the average of the iterates (see the
    estimators' ``average`` parameter).
    """
    minibatch = cfg.minibatch(data.n_samples)
    stochastic = stochastic or minibatch
    if cfg.average is True and not stochastic:
        raise ValueError(
            "average=True averages the iterates of stochastic runs; set batch_size (mini-batches) or use "
            "partial_fit, or leave average='auto'."
        )
    newton = objective.loss.is_classification and (data.n_features + 1) * data.n_outputs <= NEWTON_MAX_PARAMS
    name = resolve_solver(cfg.solver, cfg.learning_rate, minibatch=minibatch, has_l1=cfg.l1 > 0, newton=newton)
    check_compatible(name, cfg.learning_rate, minibatch=minibatch, has_l1=cfg.l1 > 0)
    session = Session(solver=name, optimizer=None, seed=seed)
    kind = preconditioning_kind(cfg, data, minibatch=stochastic, solver=name)  # a stream's first chunk: no whitening
    squared = objective.loss.kernel_id == 0
    # the Gram matrix: for whitening, for the squared loss's data term, for an exact L (not needed by Newton)
    use_gram = not data.sparse and data.n_features <= DENSE_MAX_FEATURES
    use_gram = use_gram and (kind == "dense" or squared or name != "newton")
    if kind is not None or (squared and use_gram and not minibatch):
        stats = data.statistics(center=cfg.fit_intercept, gram=use_gram, targets=squared)
        session.stats = stats
        if squared and use_gram and not minibatch:
            session.gram, session.gram_of = GramSource(stats), data
        ridge = cfg.l2 / objective.penalty_norm
        tau = stats.target_std if squared else 1.0
        if kind == "dense":
            session.coords = whitened_coordinates(stats, ridge=ridge, target_scale=tau)
        elif kind == "diagonal":
            session.coords = diagonal_coordinates(stats, ridge=ridge, target_scale=tau)
        if session.coords is not None:
            _check_representable(session.coords)
    if session.coords is None:
        stats = session.stats
        x_big, y_big = (stats.max_abs, stats.y_max_abs) if stats is not None else data.max_abs()
        _check_user_range(x_big, y_big if squared else np.ones(1))

    def auto_lr() -> float:
        L = session_lipschitz(session, session.problem(objective, data))
        if stochastic:
            session.extra.update(row_lipschitz=_row_lipschitz(session, objective, data), rows=data.n_samples)
        return _stochastic_step(session, cfg, name) if stochastic else (1.0 / L if L > 0 else 1.0)

    session.auto_lr = not _user_fixed_step(cfg.learning_rate)
    average = cfg.average if cfg.average != "auto" else session.auto_lr and cfg.l1 == 0
    steps_per_epoch = -(-data.n_samples // (cfg.batch_size or data.n_samples))
    average = steps_per_epoch if stochastic and average else None
    session.spec = make_spec(name, cfg.learning_rate, auto_lr=auto_lr, hyper=cfg.hyper, average=average)
    session.optimizer = session.spec.build()
    return session


def _stochastic_step(session: Session, cfg: Config, name: str) -> float:
    """(1 − β)/L_B for momentum and Nesterov, 1/L_B otherwise (L_B of :func:`minibatch_lipschitz`)."""
    rows, batch = session.extra["rows"], cfg.batch_size or session.extra["rows"]
    L_B = minibatch_lipschitz(session.lipschitz, session.extra["row_lipschitz"], rows, min(batch, rows))
    damping = 1.0 - cfg.hyper.get("momentum", 0.9) if name in ("momentum", "nesterov") else 1.0
    return damping / L_B if L_B > 0 else 1.0


def adapt_step(session: Session, objective: Objective, data, cfg: Config) -> None:
    """``partial_fit``: shrink the automatic step when a chunk has rows larger than any seen before.

    The mini-batch bound L_B mixes the first chunk's L with the largest
    single-row constant; that part follows the largest row seen so far (one
    pass over the chunk's rows, which the epoch reads anyway), so a later chunk
    of larger rows cannot make the run diverge.  The step only ever shrinks.
    """
    if not session.auto_lr or "row_lipschitz" not in session.extra or session.spec.lr is None:
        return
    row = _row_lipschitz(session, objective, data)
    if row > session.extra["row_lipschitz"]:
        session.extra["row_lipschitz"] = row
        lr = _stochastic_step(session, cfg, session.solver)
        if lr < session.spec.lr:
            session.spec = session.spec.with_lr(lr)
            session.optimizer = session.spec.build()


def _row_lipschitz(session: Session, objective: Objective, data) -> float:
    """max over samples of the Lipschitz constant of one sample's term, in the solver's coordinates.

    c·sᵢ(‖Mᵀ(xᵢ − μ)‖² + 1)/s̄ + λ₂/m·max Mⱼ² (bounded above by taking the
    largest weight for the intercept's 1).  Diagonal or user coordinates only
    (mini-batches are never whitened).
    """
    coords = session.coords
    p = data.n_features
    shift = np.zeros(p) if coords is None else coords.mean
    inv = np.ones(p) if coords is None else coords.matrix
    if coords is not None and coords.frozen.any():
        inv = np.where(coords.frozen, 0.0, inv)
    sq = data.max_row_norm(shift, inv)
    top_weight = data.max_weight
    mean_weight = data.weight_sum / data.n_samples
    if objective.fit_intercept:
        sq += top_weight
    # λ₂·max Mⱼ², as (√λ₂·max Mⱼ)²: Mⱼ = 1/σⱼ ≤ √(m/λ₂), so this stays finite; without L2 it is 0 even
    # where 1/σ of a tiny column would square beyond float64
    l2 = objective.penalty.l2
    ridge = (np.sqrt(l2) * float(np.max(inv, initial=0.0))) ** 2 if l2 else 0.0
    return float(objective.loss.curvature * sq / mean_weight + ridge)


_LOG_LIMIT = 305.0  # |log10| beyond which float64 values over- or underflow (with margin)


def _check_representable(coords: Coordinates) -> None:
    """Refuse problems whose coefficients (≈ τ/σ) or gradients (≈ σ·τ) leave float64's range."""
    tau = coords.target_scale
    live = ~coords.frozen
    log_coef = np.log10(tau) - np.log10(coords.scale[live])
    log_grad = np.log10(tau) + np.log10(coords.scale[live])
    bad = None
    if np.any(log_coef > _LOG_LIMIT):
        bad = "coefficients (about the spread of y over the spread of a feature)"
    elif np.any(np.abs(log_grad) > _LOG_LIMIT):
        bad = "gradients (about the spread of y times the spread of a feature)"
    if bad is not None:
        raise ValueError(
            f"This problem's {bad} cannot be represented in double precision: y spreads over {tau:.3g} and the "
            f"features over {np.min(coords.scale):.3g} to {np.max(coords.scale):.3g}. Rescale X or y (e.g. by "
            "powers of ten) and convert the coefficients back."
        )


_UNSCALED_MAX = 1e150  # a square beyond about 1.3e154 overflows double precision; kept as for y


def _check_user_range(x_big: np.ndarray, y_big: np.ndarray) -> None:
    """Refuse data whose curvature (≈ x²) or gradients' squares (≈ (x·y)²) overflow in the user's coordinates."""
    top_x = float(np.max(x_big, initial=0.0))
    top_y = max(float(np.max(y_big, initial=0.0)), 1.0)
    if top_x > _UNSCALED_MAX or top_x * top_y > _UNSCALED_MAX:
        what = "X reaches" if top_x > _UNSCALED_MAX else "|x|·|y| (the gradient's size) reaches"
        raise ValueError(
            f"{what} {top_x if top_x > _UNSCALED_MAX else top_x * top_y:.3g}; without preconditioning "
            "(precondition=False, or a fixed learning_rate with precondition='auto') squares of quantities "
            "beyond 1e150 overflow double precision. Set precondition=True, or rescale X or y (e.g. by a power "
            "of ten) and convert the coefficients back."
        )


def session_lipschitz(session: Session, problem: Problem, rtol: float = 1e-4) -> float:
    """L of the gradient in the solver's coordinates, computed once per session.

    Exact from the Gram matrix when the statistics pass formed it; otherwise by
    power iteration (``rtol``), one curvature pass over X per step.
    """
    if session.lipschitz is None:
        stats = session.stats
        if stats is not None and stats.gram is not None:
            session.lipschitz = lipschitz_from_statistics(
                stats,
                session.coords,
                curvature=problem.loss.curvature,
                ridge=problem.penalty.l2,
                fit_intercept=problem.fit_intercept,
            )
        else:
            session.lipschitz = lipschitz_constant(problem, rtol=rtol, max_iter=200, random_state=session.seed)
    return session.lipschitz


def run(
    session: Session,
    objective: Objective,
    data,
    cfg: Config,
    *,
    theta0: np.ndarray,
    max_iter: int,
    validation: tuple[Any, Callable] | None = None,
    callback=None,
    record_path: bool = False,
    estimator=None,
    resume: bool = False,
) -> FitResult:
    """Run ``max_iter`` iterations on ``data``, continuing from ``session.state`` if any.

    ``theta0`` is in the user's coordinates; the result's ``theta`` and ``path``
    are converted back to them.  ``validation`` is (validation data source,
    score function of θ).  With ``cfg.checkpoint`` set and the ``estimator``
    given (its class, parameters and labels identify the fit), the state is
    checkpointed as the solver goes (:class:`gdlearn.checkpoint.Checkpointer`);
    ``resume=True`` first restores it from that file and runs what is left of
    ``max_iter``.  On divergence, re-raises
    :class:`~gdlearn.exceptions.DivergenceError` with a message that names the
    iteration, the loss and the largest stable step size for this data.
    """
    rules = stopping.rules(
        cfg.tol,
        patience=cfg.n_iter_no_change,
        minibatch=cfg.minibatch(data.n_samples),
        early_stopping=cfg.early_stopping and validation is not None,
        expects_descent=session.optimizer.expects_descent,
    )
    checkpoint = None
    if cfg.checkpoint is not None and estimator is not None:
        from .checkpoint import Checkpointer

        series = ("loss", "grad_norm") + (("val_loss", "val_score", "score") if validation is not None else ())
        checkpoint = Checkpointer(
            cfg.checkpoint,
            estimator,
            session,
            data,
            series=series,
            rules=rules,
            record_path=record_path,
            every=cfg.checkpoint_every,
            seconds=cfg.checkpoint_seconds,
            max_iter=cfg.max_iter,
        )
        if resume:
            session.state = checkpoint.restore()
            max_iter = max(max_iter - session.state.iteration, 0)
    elif resume:
        raise ValueError("resume=True needs the checkpoint parameter: the file to resume from.")
    problem = session.problem(objective, data)
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
        val_data, score_fn = validation
        val = (objective.bind(val_data, session.coords), lambda th: score_fn(session.to_original(th)))
    try:
        result = minimize(
            problem,
            session.optimizer,
            session.from_original(theta0),
            max_iter=max_iter,
            rules=rules,
            batch_size=cfg.batch_size,
            shuffle=cfg.shuffle,
            seed=session.seed,
            validation=val,
            callback=callback,
            record_path=session.to_original if record_path else None,
            state=session.state,
            checkpoint=checkpoint,
        )
    except DivergenceError as err:
        raise _explain_divergence(err, session, problem, cfg) from None
    session.state = result.state
    result.theta = session.to_original(result.theta)
    result.history = _user_units(result.history, c)
    return result


def resume_seed(cfg: Config) -> int:
    """The seed of the interrupted fit that ``cfg.checkpoint`` holds (a ``random_state=None`` run resumes too)."""
    from .checkpoint import read_checkpoint

    return read_checkpoint(cfg.checkpoint)[0]["seed"]


def _user_units(history: dict, c: float) -> dict:
    """History with the loss series multiplied back by the solver's value scale c (J in the user's units)."""
    if history is None or c == 1.0:
        return history
    return {k: ([v * c for v in vals] if k in ("loss", "val_loss") else list(vals)) for k, vals in history.items()}


def _explain_divergence(err: DivergenceError, session: Session, problem: Problem, cfg: Config) -> DivergenceError:
    L = session_lipschitz(session, problem, rtol=1e-10)
    opt = session.optimizer
    lr = err.learning_rate
    stable = opt.max_stable_lr(L)
    where = " (in preconditioned coordinates)" if session.coords is not None else ""
    msg = (
        f"Gradient descent (solver={session.solver!r}) diverged at iteration {err.iteration}: "
        f"{err.args[0]} (loss = {err.loss * session.value_scale:.6g}, learning_rate = {_fmt(lr)})."
    )
    minibatch = cfg.minibatch(problem.n_samples)
    if stable is not None:
        formula = "2/L" if session.solver == "gd" else "the stability limit"
        msg += (
            f" For this data the largest stable learning rate is {formula} = {stable:.6g}{where}, "
            f"where L = {L:.6g} is the Lipschitz constant of the gradient."
        )
    msg += " " + _advice(session, cfg, lr, stable, L, minibatch)
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
        path=None if err.path is None else path_array(err.path),  # recorded in the user's units already
    )


def path_array(points: list) -> np.ndarray:
    """Recorded θ's as ``path_``: (steps, p + 1) for one output, else (steps, k, p + 1); [W, b] per output."""
    path = np.stack([theta.T for theta in points])
    return path[:, 0, :] if path.shape[1] == 1 else path


def _advice(session: Session, cfg: Config, lr, stable, L, minibatch: bool) -> str:
    """What would help, naming only settings other than those in use (issue "Mini-batch training...")."""
    options = []
    if stable is not None and (lr is None or lr >= stable):
        options.append(f"learning_rate < {stable:.6g} (1/L = {1 / L:.6g} is a safe choice)")
    elif lr is not None:
        options.append(f"a smaller learning_rate (a tenth: {lr / 10:.3g})")
    if minibatch:
        options.append(f"a larger batch_size than {cfg.batch_size} (less noisy steps)")
    if not session.auto_lr:
        options.append("learning_rate='auto'")
    if cfg.solver != "auto" and not minibatch:
        options.append("solver='auto' (L-BFGS or Newton, which cannot diverge)")
    lead = "The automatic step (learning_rate='auto', in use) was too large here; set" if session.auto_lr else "Use"
    return f"{lead} {' or '.join(options)}."


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.6g}"
