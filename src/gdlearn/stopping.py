"""The solver loop's stopping rules: small objects with their own named state, as optimizers have.

A rule has ``name``, ``init(epoch) -> state`` and ``update(state, epoch) -> (state, reason)``.
Its state is a dict of numbers and arrays, kept in ``SolverState.rules[name]``, carried across
``partial_fit`` calls and written to checkpoints under ``state/rules/<name>/`` like the
optimizer's state.  ``reason`` is None to go on, or says why the fit is done (``stop_reason_``);
:class:`Divergence` raises instead.  The loop updates every rule after every iteration, in order,
and stops on the first reason.  A new rule is one class here and one line in :func:`rules`.

=================  ===========================================================================
rule               stops when
=================  ===========================================================================
``divergence``     J or ∇J is not finite; full-batch ``gd``: J rose above J₀ for three
                   iterations running (below 2/L it must fall); otherwise J > 10⁴·|J₀|
``tolerance``      ‖residual‖₂ ≤ ``tol`` (also before the first iteration)
``plateau``        mini-batch runs: the epoch's J (at the averaged iterate, when averaging)
                   has not improved by more than ``tol``·|J_best| for ``n_iter_no_change`` epochs
``early_stopping`` the validation loss has not improved by more than ``tol``·|best| for
                   ``n_iter_no_change`` epochs; the best parameters are restored
``line_search``    the optimizer's line search cannot decrease J (machine precision)
=================  ===========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .exceptions import DivergenceError

__all__ = ["Epoch", "Divergence", "Tolerance", "Plateau", "EarlyStopping", "LineSearchStall", "rules"]


@dataclass
class Epoch:
    """What the loop measured after an iteration (an epoch of mini-batches), for the rules.

    ``theta`` is the point evaluated: the iterate, or the average of the
    iterates where the optimizer averages (:class:`gdlearn.optim.averaging.Averaged`).
    """

    iteration: int
    theta: np.ndarray
    loss: float
    grad_norm: float
    val_loss: float | None
    opt_state: dict
    learning_rate: float | None
    history: dict


class Divergence:
    """Raise :class:`~gdlearn.exceptions.DivergenceError` when the run is running away."""

    name = "divergence"

    def __init__(self, expects_descent: bool) -> None:
        self.expects_descent = expects_descent  # full-batch gd: J must fall at every step below 2/L

    def init(self, epoch: Epoch) -> dict:
        return {"initial_loss": float(epoch.loss), "rising": 0}

    def update(self, state: dict, epoch: Epoch) -> tuple[dict, None]:
        F, F0, h = epoch.loss, state["initial_loss"], epoch.history["loss"]
        rising, reason = 0, None
        if not (np.isfinite(F) and np.isfinite(epoch.grad_norm)):
            reason = "the loss or its gradient is no longer finite"
        elif self.expects_descent:
            rising = state["rising"] + 1 if F > h[-2] + 1e-12 * abs(h[-2]) and F > F0 else 0
            if rising >= 3:
                reason = "the loss rose above its starting value for 3 iterations in a row"
        elif F > 1e4 * max(abs(F0), 1e-12):
            reason = "the loss grew to more than 10,000 times its starting value"
        if reason is not None:
            history = {k: list(v) for k, v in epoch.history.items()}
            raise DivergenceError(
                reason, iteration=epoch.iteration, loss=F, learning_rate=epoch.learning_rate, history=history
            )
        return {"initial_loss": F0, "rising": rising}, None


class Tolerance:
    """Converged when the optimality residual's norm is at most ``tol``."""

    name = "tolerance"
    at_start = True  # also checked before the first iteration

    def __init__(self, tol: float) -> None:
        self.tol = tol

    def init(self, epoch: Epoch) -> dict:
        return {}

    def update(self, state: dict, epoch: Epoch) -> tuple[dict, str | None]:
        return state, "gradient norm below tol" if epoch.grad_norm <= self.tol else None


class Plateau:
    """Mini-batch runs: the epoch's J has not improved by more than tol·|J_best| for ``patience`` epochs.

    The gradient norm of a noisy method seldom falls below tol; the epoch's
    full objective (at the averaged iterate, when averaging) is a smooth
    measure of progress, and patience counted in epochs ignores one bad epoch.
    """

    name = "plateau"

    def __init__(self, tol: float, patience: int) -> None:
        self.tol, self.patience = tol, patience

    def init(self, epoch: Epoch) -> dict:
        return {"best": float(epoch.loss), "count": 0}

    def update(self, state: dict, epoch: Epoch) -> tuple[dict, str | None]:
        best = state["best"]
        count = 0 if epoch.loss < best - self.tol * abs(best) else state["count"] + 1
        reason = f"training loss did not improve for {self.patience} epochs" if count >= self.patience else None
        return {"best": min(best, float(epoch.loss)), "count": count}, reason


class EarlyStopping:
    """The validation loss has not improved by more than tol·|best| for ``patience`` epochs.

    The state keeps the best parameters seen (``best_theta``, at
    ``best_iteration``); the fit returns them.
    """

    name = "early_stopping"

    def __init__(self, tol: float, patience: int) -> None:
        self.tol, self.patience = tol, patience

    def init(self, epoch: Epoch) -> dict:
        return {"best": float(epoch.val_loss), "best_iteration": 0, "best_theta": epoch.theta.copy(), "count": 0}

    def update(self, state: dict, epoch: Epoch) -> tuple[dict, str | None]:
        best, val = state["best"], float(epoch.val_loss)
        count = 0 if not np.isfinite(best) or val < best - self.tol * abs(best) else state["count"] + 1
        state = {**state, "count": count}
        if val < best:
            state.update(best=val, best_iteration=epoch.iteration, best_theta=epoch.theta.copy())
        reason = f"validation loss did not improve for {self.patience} epochs" if count >= self.patience else None
        return state, reason


class LineSearchStall:
    """The optimizer's line search found no step that decreases J: nothing more can be done."""

    name = "line_search"

    def init(self, epoch: Epoch) -> dict:
        return {}

    def update(self, state: dict, epoch: Epoch) -> tuple[dict, str | None]:
        stalled = isinstance(epoch.opt_state, dict) and epoch.opt_state.get("stalled")
        return state, "line search cannot decrease the loss further (machine precision)" if stalled else None


def rules(
    tol: float, *, patience: int = 10, minibatch: bool = False, early_stopping: bool = False, expects_descent=False
) -> list:
    """The rules of one fit, in the order they are checked (see the module's table)."""
    out = [Divergence(expects_descent and not minibatch), Tolerance(tol)]
    if minibatch:
        out.append(Plateau(tol, patience))
    if early_stopping:
        out.append(EarlyStopping(tol, patience))
    return [*out, LineSearchStall()]
