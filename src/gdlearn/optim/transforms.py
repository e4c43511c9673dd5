"""Gradient transformations: small blocks with explicit state (after optax).

Each block has ``init(theta) -> state`` and ``update(g, state) -> (u, state)``;
``chain`` composes them, keying each block's state by the block's name (as
optax names its states), so a checkpoint says whose moments it holds.  The last block of every optimizer is
:class:`ScaleByLearningRate`, which turns a direction into the update
``u = −α_t · d``; the parameters then move by θ ← θ + u.

State is a plain ``dict`` of numpy arrays and numbers, so it can be saved in a
checkpoint and carried across ``partial_fit`` calls.

``prox_scale(state)`` returns, per coordinate, how the block scales a steady
gradient (1/(1 − β) for momentum, 1/(√v + ε) for the adaptive blocks, α_t for
the learning rate).  Their product is the step the L1 proximal operator must
use so that the fixed points of "update, then soft-threshold" are exactly the
minimisers of the penalised objective.
"""

from __future__ import annotations

import numpy as np

from .schedules import Schedule

__all__ = [
    "Trace",
    "ScaleByAdagrad",
    "ScaleByRms",
    "ScaleByAdam",
    "ScaleByLearningRate",
    "Chain",
]


class Trace:
    """Momentum: v ← βv + g; direction v, or g + βv with ``nesterov=True``.

    This is PyTorch's convention (``torch.optim.SGD`` with ``dampening=0``):
    the step is θ ← θ − α v, so at steady state the step is α g/(1 − β).
    With β = 0 it is the identity: plain gradient descent is momentum with β = 0.
    """

    name = "trace"

    def __init__(self, beta: float = 0.9, nesterov: bool = False) -> None:
        self.beta = float(beta)
        self.nesterov = bool(nesterov)

    def init(self, theta):
        return {"v": np.zeros_like(theta)}

    def update(self, g, state):
        v = self.beta * state["v"] + g
        d = g + self.beta * v if self.nesterov else v
        return d, {"v": v}

    def prox_scale(self, state):
        return 1.0 / (1.0 - self.beta)


class ScaleByAdagrad:
    """AdaGrad: G ← G + g²; direction g / (√G + ε)."""

    name = "adagrad"
    per_coordinate = True  # scales each coordinate by its own gradient history

    def __init__(self, eps: float = 1e-10) -> None:
        self.eps = float(eps)

    def init(self, theta):
        return {"sum_sq": np.zeros_like(theta)}

    def update(self, g, state):
        s = state["sum_sq"] + g * g
        return g / (np.sqrt(s) + self.eps), {"sum_sq": s}

    def prox_scale(self, state):
        return 1.0 / (np.sqrt(state["sum_sq"]) + self.eps)


class ScaleByRms:
    """RMSProp: v ← γv + (1 − γ)g²; direction g / (√v + ε)."""

    name = "rms"
    per_coordinate = True  # scales each coordinate by its own gradient history

    def __init__(self, decay: float = 0.9, eps: float = 1e-8) -> None:
        self.decay = float(decay)
        self.eps = float(eps)

    def init(self, theta):
        return {"nu": np.zeros_like(theta)}

    def update(self, g, state):
        nu = self.decay * state["nu"] + (1.0 - self.decay) * g * g
        return g / (np.sqrt(nu) + self.eps), {"nu": nu}

    def prox_scale(self, state):
        return 1.0 / (np.sqrt(state["nu"]) + self.eps)


class ScaleByAdam:
    """Adam: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², bias-corrected.

    Direction m̂ / (√v̂ + ε) with m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ) (Kingma & Ba,
    2015; ε outside the square root, as PyTorch).
    """

    name = "adam"
    per_coordinate = True  # scales each coordinate by its own gradient history

    def __init__(self, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
        self.b1, self.b2, self.eps = float(b1), float(b2), float(eps)

    def init(self, theta):
        return {"mu": np.zeros_like(theta), "nu": np.zeros_like(theta), "count": 0}

    def update(self, g, state):
        t = state["count"] + 1
        mu = self.b1 * state["mu"] + (1.0 - self.b1) * g
        nu = self.b2 * state["nu"] + (1.0 - self.b2) * g * g
        mu_hat = mu / (1.0 - self.b1**t)
        nu_hat = nu / (1.0 - self.b2**t)
        return mu_hat / (np.sqrt(nu_hat) + self.eps), {"mu": mu, "nu": nu, "count": t}

    def prox_scale(self, state):
        t = max(state["count"], 1)
        return 1.0 / (np.sqrt(state["nu"] / (1.0 - self.b2**t)) + self.eps)


class ScaleByLearningRate:
    """u = −α_t · d, with α_t from a schedule and t the number of updates so far."""

    name = "learning_rate"

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def init(self, theta):
        return {"count": 0, "lr": float(self.schedule(0))}

    def update(self, d, state):
        lr = float(self.schedule(state["count"]))
        return -lr * d, {"count": state["count"] + 1, "lr": lr}

    def prox_scale(self, state):
        return state["lr"]


class Chain:
    """Apply blocks in sequence; the state is a dict keyed by each block's name."""

    def __init__(self, *blocks) -> None:
        names = [b.name for b in blocks]
        if len(set(names)) != len(names):
            raise ValueError(f"a chain's blocks need distinct names, got {names}")
        self.blocks = blocks

    def init(self, theta):
        return {b.name: b.init(theta) for b in self.blocks}

    def update(self, g, state):
        new = {}
        for b in self.blocks:
            g, new[b.name] = b.update(g, state[b.name])
        return g, new

    def prox_scale(self, state):
        scale = 1.0
        for b in self.blocks:
            scale = scale * b.prox_scale(state[b.name])
        return scale
