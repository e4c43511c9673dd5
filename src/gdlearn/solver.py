"""The solver loop: iterate, record, ask the stopping rules.

One loop serves full-batch and mini-batch descent.  An *iteration* is one
epoch: one optimizer step on the full batch, or one pass over shuffled
mini-batches of ``batch_size`` rows, each step's gradient the batch's mean; a
last, shorter batch of b rows counts b/``batch_size`` of a step, so that every
row weighs the same in an epoch (a full step on a few rows would be a large,
noisy one, whose noise biases the averaged iterate of a log loss).  After each
iteration the full objective J (penalties included) and its optimality
residual are recorded at the model's point (the iterate, or the averaged
iterate of :class:`~gdlearn.optim.averaging.Averaged`), and the stopping rules
of :mod:`gdlearn.stopping` are updated in order; the first that gives a reason
ends the fit, as do the callback and ``max_iter``.

Everything needed to continue is in :class:`SolverState`, which the loop hands
to a checkpoint writer after each iteration and accepts back to resume bit for bit.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._norms import vector_norm
from .data.batches import batch_indices
from .exceptions import DivergenceError, FitInterrupted
from .stopping import EarlyStopping, Epoch

__all__ = ["SolverState", "FitResult", "IterationInfo", "minimize"]


@dataclass
class SolverState:
    """Everything the loop needs to continue from where it stopped.

    ``rules`` holds each stopping rule's state by the rule's name; ``stopped``
    says why a finished fit stopped (a rule's reason), else None.
    """

    theta: np.ndarray
    opt_state: dict
    iteration: int = 0
    history: dict = field(default_factory=dict)
    path: list | None = None
    rules: dict = field(default_factory=dict)
    stopped: str | None = None

    def snapshot(self) -> SolverState:
        """A copy that the loop can go on from while this state stays as it was (a fit that fails loses nothing).

        The records that grow by one entry an iteration (``history``'s numbers, ``path``'s arrays, never changed in
        place) get new lists holding the same entries; the rest is copied deeply.  A deep copy of the records cost
        every ``partial_fit`` call time in proportion to all the calls before it.
        """
        return SolverState(
            theta=self.theta.copy(),
            opt_state=copy.deepcopy(self.opt_state),
            iteration=self.iteration,
            history={name: list(values) for name, values in self.history.items()},
            path=None if self.path is None else list(self.path),
            rules=copy.deepcopy(self.rules),
            stopped=self.stopped,
        )


@dataclass
class FitResult:
    """What a fit produced.

    Attributes
    ----------
    theta : ndarray of shape (n_features + 1, n_outputs)
        Final parameters in the solver's coordinates.
    n_iter : int
    converged : bool
    stop_reason : str
    history : dict of lists
        ``"loss"`` (J after k iterations, k = 0..n_iter), ``"grad_norm"``, and
        with validation ``"val_loss"``, ``"val_score"``, ``"score"``.
    path : list of ndarray or None
        Parameters after each iteration (k = 0..n_iter), when recorded.
    state : SolverState
    best_iteration : int or None
        With early stopping, the iteration whose parameters are returned.
    """

    theta: np.ndarray
    n_iter: int
    converged: bool
    stop_reason: str
    history: dict
    path: list | None
    state: SolverState
    best_iteration: int | None = None


@dataclass
class IterationInfo:
    """Passed to the callback after each iteration."""

    iteration: int
    max_iter: int
    loss: float
    grad_norm: float
    learning_rate: float | None
    val_loss: float | None = None


def minimize(
    objective,
    optimizer,
    theta0: np.ndarray,
    *,
    max_iter: int,
    rules: list,
    batch_size: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    validation=None,
    callback: Callable[[IterationInfo], bool | None] | None = None,
    record_path: Callable[[np.ndarray], np.ndarray] | None = None,
    state: SolverState | None = None,
    checkpoint=None,
) -> FitResult:
    """Minimise ``objective`` from ``theta0`` (or from ``state``) with ``optimizer``.

    Parameters
    ----------
    objective : gdlearn.objective.Problem
        The objective on its data, in the solver's coordinates; mini-batches are
        its rows (``batch_value_and_grad``).
    optimizer : gdlearn.optim.base.Optimizer
    theta0 : ndarray of shape (n_features + 1, n_outputs)
    max_iter : int
        Iterations (epochs) to run in this call, counted from ``state.iteration``.
    rules : list
        The stopping rules (:func:`gdlearn.stopping.rules`), checked in order.
    batch_size : int or None
        None: full batch.
    shuffle, seed : mini-batch order (see :func:`batch_indices`; a source of blocks walks its blocks in a
        shuffled order, :meth:`gdlearn.data.source.BlockSource.minibatches`).
    validation : tuple (objective, score_fn) or None
        ``score_fn(theta) -> (val_score, train_score)``.
    callback : callable, optional
        Called with an :class:`IterationInfo`; returning True stops the loop.
    record_path : callable, optional
        θ ↦ parameters to record (e.g. mapped to the user's units).
    state : SolverState, optional
        Resume from it instead of starting at ``theta0``.
    checkpoint : Checkpointer, optional
        Called as ``checkpoint(state, final)`` after each completed iteration
        (it decides whether to write), and ``checkpoint.interrupted()`` on
        Ctrl-C, which returns (path or None, iteration saved or None).

    Returns
    -------
    FitResult
    """
    n = objective.n_samples
    minibatch = batch_size is not None and batch_size < n
    fresh = state is None
    state = SolverState(np.array(theta0, dtype=float), optimizer.init(theta0)) if fresh else state.snapshot()
    value, grad = objective.value_and_grad(optimizer.estimate(state.theta, state.opt_state))
    if fresh:
        epoch = _measure(state, objective, optimizer, value, grad, validation, record_path)
        state.rules = {rule.name: rule.init(epoch) for rule in rules}
        for rule in (r for r in rules if getattr(r, "at_start", False)):
            state.stopped = state.stopped or rule.update(state.rules[rule.name], epoch)[1]
    end = state.iteration + (max_iter if state.stopped is None else 0)  # a finished run has nothing left to do
    stop_reason = state.stopped or "max_iter"
    try:
        while state.iteration < end:
            if minibatch:
                for idx in _minibatches(objective, n, batch_size, state.iteration, seed, shuffle):
                    bv, bg = objective.batch_value_and_grad(state.theta, idx)
                    if len(idx) < batch_size:  # a last, shorter batch counts its share: rows weigh alike in an epoch
                        bv, bg = bv * len(idx) / batch_size, bg * (len(idx) / batch_size)
                    state.theta, _, _, state.opt_state = optimizer.step(
                        objective, state.theta, bv, bg, state.opt_state, evaluate=False
                    )
                value, grad = objective.value_and_grad(optimizer.estimate(state.theta, state.opt_state))
            else:
                state.theta, value, grad, state.opt_state = optimizer.step(
                    objective, state.theta, value, grad, state.opt_state
                )
            state.iteration += 1
            epoch = _measure(state, objective, optimizer, value, grad, validation, record_path)
            reasons = []
            try:
                for rule in rules:
                    state.rules[rule.name], reason = rule.update(state.rules[rule.name], epoch)
                    reasons.append(reason)
            except DivergenceError as err:  # the run's path, to the step that flew off, goes with the error
                err.path = None if state.path is None else list(state.path)
                raise
            reason = next((r for r in reasons if r is not None), None)
            info = IterationInfo(state.iteration, end, epoch.loss, epoch.grad_norm, epoch.learning_rate, epoch.val_loss)
            if callback is not None and callback(info):
                stop_reason = "stopped by callback"  # not a finished run: a resume goes on
            elif reason is not None:
                stop_reason = state.stopped = reason
            if checkpoint is not None:
                checkpoint(state, stop_reason != "max_iter")
            if stop_reason != "max_iter":
                break
    except KeyboardInterrupt as exc:  # the checkpoint saves the last *completed* iteration it was handed
        saved, done = checkpoint.interrupted() if checkpoint is not None else (None, None)
        done = state.iteration if done is None else done
        raise FitInterrupted(f"Fit interrupted after iteration {done}.", checkpoint=saved, iteration=done) from exc

    theta, best_iteration = optimizer.estimate(state.theta, state.opt_state), None
    early = state.rules.get(EarlyStopping.name) if any(isinstance(r, EarlyStopping) for r in rules) else None
    if early is not None:
        theta, best_iteration = early["best_theta"].copy(), early["best_iteration"]
    converged = stop_reason not in ("max_iter", "stopped by callback")
    return FitResult(theta, state.iteration, converged, stop_reason, state.history, state.path, state, best_iteration)


def _minibatches(objective, n: int, batch_size: int, epoch: int, seed: int, shuffle: bool):
    """One epoch's mini-batches: the data source's own (blocks of a file or a cluster), else index arrays."""
    data = getattr(objective, "data", None)
    if data is not None and hasattr(data, "minibatches"):
        return data.minibatches(batch_size, epoch, seed, shuffle)
    return batch_indices(n, batch_size, epoch, seed, shuffle)


def _measure(state, objective, optimizer, value, grad, validation, record_path) -> Epoch:
    """Record J, the residual norm (and validation, path) at the model's point; the rules' view of it."""
    theta = optimizer.estimate(state.theta, state.opt_state)
    F = value + (objective.nonsmooth_value(theta) if objective.has_l1 else 0.0)
    own = state.opt_state.get("residual_norm", -1.0) if isinstance(state.opt_state, dict) else -1.0
    gnorm = float(own) if own >= 0 else vector_norm(objective.residual(theta, grad))  # Newton measures its own
    h = state.history
    h.setdefault("loss", []).append(F)
    h.setdefault("grad_norm", []).append(gnorm)
    val_loss = None
    if validation is not None:
        val_obj, score_fn = validation
        val_loss = val_obj.value(theta)
        val_score, train_score = score_fn(theta)
        for key, v in (("val_loss", val_loss), ("val_score", val_score), ("score", train_score)):
            h.setdefault(key, []).append(v)
    if record_path is not None:
        state.path = [] if state.path is None else state.path
        state.path.append(record_path(theta))
    lr = optimizer.current_lr(state.opt_state)
    return Epoch(state.iteration, theta, F, gnorm, val_loss, state.opt_state, lr, h)
