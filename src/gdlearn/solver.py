"""The solver loop: iterate, record, stop, detect divergence.

One loop serves full-batch and mini-batch descent.  An *iteration* is one
epoch: one optimizer step on the full batch, or one pass over shuffled
mini-batches.  After each iteration the full objective J (penalties included)
and its optimality residual are recorded, and the stopping rules are checked
in this order:

1. divergence: J or the gradient is not finite, or — for plain gradient
   descent, whose loss must fall at every step when α < 2/L — J rose above its
   starting value three iterations running, or — for the other methods — J
   exceeds 10⁴ times its starting value: :class:`~gdlearn.exceptions.DivergenceError`;
2. convergence: ‖residual‖₂ ≤ ``tol`` (the gradient, or with L1 the
   minimum-norm subgradient, which is zero exactly at the minimum; Newton's
   method measures it in the metric of the Hessian, see :mod:`gdlearn.optim.newton`);
3. mini-batch only: J has not improved by more than ``tol``·|J_best| for
   ``n_iter_no_change`` epochs (the gradient norm of a noisy method seldom
   falls below tol);
4. early stopping: the validation objective has not improved by more than
   ``tol``·|best| for ``n_iter_no_change`` epochs; the best parameters are restored;
5. the optimizer's line search cannot decrease J any further (machine precision);
6. ``max_iter`` iterations.

Everything needed to continue is in :class:`SolverState`, which the loop can
hand to a checkpoint writer and accept back to resume bit for bit.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._norms import vector_norm
from .data.batches import batch_indices
from .exceptions import DivergenceError, FitInterrupted

__all__ = ["SolverState", "FitResult", "IterationInfo", "minimize"]


@dataclass
class SolverState:
    """Everything the loop needs to continue from where it stopped."""

    theta: np.ndarray
    opt_state: dict
    iteration: int = 0
    history: dict = field(default_factory=dict)
    path: list | None = None
    best_theta: np.ndarray | None = None
    best_val: float = np.inf
    best_iteration: int = 0
    best_train: float = np.inf
    no_improve: int = 0
    no_improve_train: int = 0
    initial_loss: float | None = None
    rising: int = 0
    stopped: str | None = None  # why the loop ended, when a stopping rule (not max_iter) ended it

    def snapshot(self) -> SolverState:
        """A deep copy, safe to store while the loop goes on."""
        return copy.deepcopy(self)


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


def _full_eval(objective, theta):
    value, grad = objective.value_and_grad(theta)
    F = value + (objective.nonsmooth_value(theta) if objective.has_l1 else 0.0)
    return value, grad, F


def minimize(
    objective,
    optimizer,
    theta0: np.ndarray,
    *,
    max_iter: int,
    tol: float,
    batch_size: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    n_iter_no_change: int = 10,
    validation=None,
    early_stopping: bool = False,
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
    tol : float
    batch_size : int or None
        None: full batch.
    shuffle, seed : mini-batch order (see :func:`batch_indices`).
    n_iter_no_change : int
    validation : tuple (objective, score_fn) or None
        ``score_fn(theta) -> (val_score, train_score)``.
    early_stopping : bool
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
    val_obj, score_fn = validation if validation is not None else (None, None)

    if state is None:
        state = SolverState(theta=np.array(theta0, dtype=float), opt_state=optimizer.init(theta0))
        value, grad, F = _full_eval(objective, state.theta)
        state.initial_loss = F
        state.history = {"loss": [F], "grad_norm": [_norm(objective, state.theta, grad)]}
        if val_obj is not None:
            _record_validation(state, val_obj, score_fn)
        if record_path is not None:
            state.path = [record_path(state.theta)]
        state.best_theta = state.theta.copy()
        state.best_train = F
    else:
        state = state.snapshot()
        value, grad, F = _full_eval(objective, state.theta)

    start = state.iteration
    stop_reason, converged = "max_iter", False
    if state.stopped is not None:  # resumed from a finished run: nothing is left to do
        stop_reason, converged, max_iter = state.stopped, True, 0
    elif state.iteration == 0 and state.history["grad_norm"][-1] <= tol:
        stop_reason, converged, max_iter = "gradient norm below tol", True, 0
        state.stopped = stop_reason
    try:
        while state.iteration < start + max_iter:
            epoch = state.iteration
            if minibatch:
                for idx in batch_indices(n, batch_size, epoch, seed, shuffle):
                    bv, bg = objective.batch_value_and_grad(state.theta, idx)
                    state.theta, _, _, state.opt_state = optimizer.step(
                        objective, state.theta, bv, bg, state.opt_state, evaluate=False
                    )
                value, grad, F = _full_eval(objective, state.theta)
            else:
                state.theta, value, grad, state.opt_state = optimizer.step(
                    objective, state.theta, value, grad, state.opt_state
                )
                F = value + (objective.nonsmooth_value(state.theta) if objective.has_l1 else 0.0)
            state.iteration += 1
            gnorm = _norm(objective, state.theta, grad, state.opt_state)
            state.history["loss"].append(F)
            state.history["grad_norm"].append(gnorm)
            if record_path is not None:
                state.path.append(record_path(state.theta))
            _check_divergence(state, optimizer, F, gnorm, minibatch)

            val_loss = None
            if val_obj is not None:
                val_loss = _record_validation(state, val_obj, score_fn)

            if gnorm <= tol:
                stop_reason, converged = "gradient norm below tol", True
            elif minibatch and _no_improvement(state, F, tol, "train"):
                if state.no_improve_train >= n_iter_no_change:
                    stop_reason, converged = f"training loss did not improve for {n_iter_no_change} epochs", True
            if early_stopping and val_obj is not None and not converged:
                _no_improvement(state, val_loss, tol, "val")
                if state.no_improve >= n_iter_no_change:
                    stop_reason, converged = f"validation loss did not improve for {n_iter_no_change} epochs", True
            if state.opt_state.get("stalled") if isinstance(state.opt_state, dict) else False:
                stop_reason, converged = "line search cannot decrease the loss further (machine precision)", True

            if callback is not None:
                info = IterationInfo(
                    epoch + 1, start + max_iter, F, gnorm, optimizer.current_lr(state.opt_state), val_loss
                )
                if callback(info):
                    stop_reason = "stopped by callback"
                    if checkpoint is not None:
                        checkpoint(state, True)
                    break
            if converged:
                state.stopped = stop_reason  # recorded before the final checkpoint is written
            if checkpoint is not None:
                checkpoint(state, converged)
            if converged:
                break
    except KeyboardInterrupt as exc:  # the checkpoint saves the last *completed* iteration it was handed
        saved, done = checkpoint.interrupted() if checkpoint is not None else (None, None)
        done = state.iteration if done is None else done
        raise FitInterrupted(f"Fit interrupted after iteration {done}.", checkpoint=saved, iteration=done) from exc

    theta = state.theta
    best_iteration = None
    if early_stopping and val_obj is not None and state.best_theta is not None:
        theta = state.best_theta.copy()
        best_iteration = state.best_iteration
    return FitResult(
        theta=theta,
        n_iter=state.iteration,
        converged=converged,
        stop_reason=stop_reason,
        history=state.history,
        path=state.path,
        state=state,
        best_iteration=best_iteration,
    )


def _norm(objective, theta, grad, opt_state=None) -> float:
    """‖residual‖₂, or the optimizer's own residual norm where it measures one (Newton's decrement)."""
    own = opt_state.get("residual_norm", -1.0) if isinstance(opt_state, dict) else -1.0
    if own >= 0:
        return float(own)
    return vector_norm(objective.residual(theta, grad))


def _record_validation(state, val_obj, score_fn) -> float:
    val_loss = val_obj.value(state.theta)
    val_score, train_score = score_fn(state.theta)
    h = state.history
    h.setdefault("val_loss", []).append(val_loss)
    h.setdefault("val_score", []).append(val_score)
    h.setdefault("score", []).append(train_score)
    if val_loss < state.best_val:
        state.best_val = val_loss
        state.best_theta = state.theta.copy()
        state.best_iteration = state.iteration
    return val_loss


def _no_improvement(state, value, tol, which) -> bool:
    """Count epochs without an improvement by more than tol·|best|; True if none now."""
    if which == "train":
        improved = value < state.best_train - tol * abs(state.best_train)
        state.best_train = min(state.best_train, value)
        state.no_improve_train = 0 if improved else state.no_improve_train + 1
        return not improved
    earlier = state.history["val_loss"][:-1]
    prior_best = min(earlier) if earlier else np.inf
    improved = not np.isfinite(prior_best) or value < prior_best - tol * abs(prior_best)
    state.no_improve = 0 if improved else state.no_improve + 1
    return not improved


def _check_divergence(state, optimizer, F, gnorm, minibatch) -> None:
    F0 = state.initial_loss
    h = state.history["loss"]
    reason = None
    if not (np.isfinite(F) and np.isfinite(gnorm)):
        reason = "the loss or its gradient is no longer finite"
    elif optimizer.expects_descent and not minibatch:
        if len(h) >= 2 and F > h[-2] + 1e-12 * abs(h[-2]) and F > F0:
            state.rising += 1
        else:
            state.rising = 0
        if state.rising >= 3:
            reason = "the loss rose above its starting value for 3 iterations in a row"
    elif F > 1e4 * max(abs(F0), 1e-12):
        reason = "the loss grew to more than 10,000 times its starting value"
    if reason is not None:
        raise DivergenceError(
            reason,
            iteration=state.iteration,
            loss=F,
            learning_rate=optimizer.current_lr(state.opt_state),
            history={k: list(v) for k, v in state.history.items()},
        )
