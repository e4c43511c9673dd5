"""The gradient-descent family, each one a chain of small blocks.

============  ==========================================================  ====================
solver        update (g = ∇J(θ), α = learning rate)                        blocks
============  ==========================================================  ====================
gd            θ ← θ − α g   (the tutorial's W ← W − α dW, b ← b − α db)   lr
momentum      v ← βv + g;  θ ← θ − α v                                     trace(β), lr
nesterov      v ← βv + g;  θ ← θ − α (g + βv)                              trace(β, nesterov), lr
adagrad       G ← G + g²;  θ ← θ − α g/(√G + ε)                            adagrad, lr
rmsprop       v ← γv + (1−γ)g²;  θ ← θ − α g/(√v + ε)                      rms(γ), lr
adam          m, v moving averages, bias-corrected; θ ← θ − α m̂/(√v̂ + ε)  adam(β₁, β₂), lr
============  ==========================================================  ====================

Momentum follows PyTorch's ``torch.optim.SGD`` convention (no dampening); its
Nesterov form evaluates the gradient at the stored parameters, which are the
look-ahead point of Sutskever et al. (2013).  With an L1 penalty each update is
followed by a soft-threshold whose step is the chain's steady-state scale (see
:mod:`gdlearn.optim.transforms`).
"""

from __future__ import annotations

from .base import Optimizer
from .schedules import Schedule
from .transforms import Chain, ScaleByAdagrad, ScaleByAdam, ScaleByLearningRate, ScaleByRms, Trace

__all__ = ["FirstOrder", "gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]


class FirstOrder(Optimizer):
    """θ ← prox(θ + u), with the update u from a chain of transforms.

    Parameters
    ----------
    name : str
    transform : Chain
        Ends with :class:`~gdlearn.optim.transforms.ScaleByLearningRate`.
    expects_descent : bool
        True for plain gradient descent, whose loss decreases at every step
        exactly when α < 2/L.
    stability : str, optional
        Which rule of :data:`STABILITY` gives the largest stable fixed α on a
        quadratic, for error messages (a name, not a function, so that a fitted
        model pickles).
    """

    def __init__(self, name: str, transform: Chain, *, expects_descent: bool = False, stability=None) -> None:
        self.name = name
        self.transform = transform
        self.expects_descent = expects_descent
        self._stability = stability
        self.schedule = transform.blocks[-1].schedule
        self.per_coordinate = any(getattr(b, "per_coordinate", False) for b in transform.blocks)

    def init(self, theta):
        return self.transform.init(theta)

    def step(self, objective, theta, value, grad, state, evaluate=True):
        u, state = self.transform.update(grad, state)
        new = theta + u
        if objective.has_l1:
            new = objective.prox(new, self.transform.prox_scale(state))
        if not evaluate:  # mini-batch: the next batch brings its own gradient
            return new, None, None, state
        value, grad = objective.value_and_grad(new)
        return new, value, grad, state

    def current_lr(self, state):
        return state[self.transform.blocks[-1].name]["lr"]

    def max_stable_lr(self, L):
        if self._stability is None or L <= 0:
            return None
        beta = next((b.beta for b in self.transform.blocks if isinstance(b, Trace)), 0.0)
        return STABILITY[self._stability](L, beta)


#: (L, β) ↦ the largest fixed α that cannot diverge on a quadratic with curvature up to L
STABILITY = {
    "gd": lambda L, beta: 2.0 / L,
    "momentum": lambda L, beta: 2.0 * (1 + beta) / L,
    "nesterov": lambda L, beta: 2.0 * (1 + beta) / ((1 + 2 * beta) * L),
}


def gd(schedule: Schedule) -> FirstOrder:
    """Plain gradient descent θ ← θ − α_t ∇J(θ); stable for α < 2/L."""
    return FirstOrder("gd", Chain(ScaleByLearningRate(schedule)), expects_descent=True, stability="gd")


def momentum(schedule: Schedule, beta: float = 0.9) -> FirstOrder:
    """Heavy-ball momentum; on a quadratic, stable for α < 2(1 + β)/L."""
    return FirstOrder("momentum", Chain(Trace(beta), ScaleByLearningRate(schedule)), stability="momentum")


def nesterov(schedule: Schedule, beta: float = 0.9) -> FirstOrder:
    """Nesterov momentum; on a quadratic, stable for α < 2(1 + β)/((1 + 2β)L)."""
    return FirstOrder(
        "nesterov",
        Chain(Trace(beta, nesterov=True), ScaleByLearningRate(schedule)),
        stability="nesterov",
    )


def adagrad(schedule: Schedule, eps: float = 1e-10) -> FirstOrder:
    """AdaGrad (Duchi et al., 2011)."""
    return FirstOrder("adagrad", Chain(ScaleByAdagrad(eps), ScaleByLearningRate(schedule)))


def rmsprop(schedule: Schedule, decay: float = 0.9, eps: float = 1e-8) -> FirstOrder:
    """RMSProp (Tieleman & Hinton, 2012) with decay γ."""
    return FirstOrder("rmsprop", Chain(ScaleByRms(decay, eps), ScaleByLearningRate(schedule)))


def adam(schedule: Schedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> FirstOrder:
    """Adam (Kingma & Ba, 2015), bias-corrected."""
    return FirstOrder("adam", Chain(ScaleByAdam(b1, b2, eps), ScaleByLearningRate(schedule)))
