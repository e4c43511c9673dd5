"""The optimizers at their edges: stalled line searches, useless directions, flags and names, on small objectives
whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from gdlearn.optim import LBFGS, Backtracking, Newton, OptimizerSpec
from gdlearn.optim.base import Optimizer
from gdlearn.optim.factory import MINIBATCH_SOLVERS, SOLVERS, capabilities, check_compatible, make_spec
from gdlearn.optim.schedules import Constant, InverseDecay, Schedule, StepDecay
from gdlearn.optim.transforms import Chain, ScaleByLearningRate, Trace


class Quadratic:
    """J(θ) = ½ θᵀAθ − bᵀθ on a column θ (smooth, no L1): the objective protocol the optimizers use."""

    has_l1 = False

    def __init__(self, A, b, flat_beyond=None):
        self.A, self.b = np.asarray(A, float), np.asarray(b, float).reshape(-1, 1)
        self.flat_beyond = flat_beyond  # J is +inf at every θ but this one: no step can be accepted

    def value_and_grad(self, theta):
        if self.flat_beyond is not None and theta is not self.flat_beyond:
            return np.inf, np.full_like(theta, np.inf)
        return (0.5 * theta.T @ self.A @ theta - self.b.T @ theta).item(), self.A @ theta - self.b

    def value_grad_hessian(self, theta):
        return (*self.value_and_grad(theta), self.A)

    def prox(self, theta, step):
        return theta

    def nonsmooth_value(self, theta):
        return 0.0


THETA0 = np.array([[1.0], [-2.0]])


@pytest.mark.parametrize("optimizer", [Backtracking(), Newton(), LBFGS()], ids=["backtracking", "newton", "lbfgs"])
def test_a_line_search_that_finds_no_decrease_stalls_in_place(optimizer):
    objective = Quadratic(np.eye(2), [0.0, 0.0], flat_beyond=THETA0)
    value, grad = objective.value_and_grad(THETA0)
    state = optimizer.init(THETA0)
    theta, v, g, state = optimizer.step(objective, THETA0, value, grad, state)
    assert np.array_equal(theta, THETA0) and v == value and state["stalled"] == 1 and state["count"] == 1
    assert optimizer.current_lr(state) == optimizer.init(THETA0)["lr"]  # the step size did not change


def test_newton_and_lbfgs_take_the_exact_step_on_a_quadratic():
    A, b = np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([1.0, -1.0])
    objective = Quadratic(A, b)
    optimum = np.linalg.solve(A, b).reshape(-1, 1)
    value, grad = objective.value_and_grad(THETA0)
    theta, *_, state = Newton().step(objective, THETA0, value, grad, Newton().init(THETA0))
    np.testing.assert_allclose(theta, optimum, rtol=1e-12)
    assert state["lr"] == 1.0 and state["residual_norm"] == pytest.approx(0.0, abs=1e-12)
    lbfgs, theta, state = LBFGS(), THETA0, LBFGS().init(THETA0)
    for _ in range(6):
        theta, value, grad, state = lbfgs.step(objective, theta, value, grad, state)
    np.testing.assert_allclose(theta, optimum, rtol=1e-10)


def test_lbfgs_forgets_pairs_that_no_longer_give_a_descent_direction():
    objective = Quadratic(np.eye(2), [0.0, 0.0])
    value, grad = objective.value_and_grad(THETA0)
    state = {**LBFGS().init(THETA0), "S": np.array([[1.0, 0.0]]), "Y": np.array([[-1.0, 0.0]])}  # sᵀy < 0
    theta, *_, new = LBFGS().step(objective, THETA0, value, grad, state)
    assert new["S"].shape[0] == 1 and np.all(np.isfinite(theta))  # restarted from the gradient, one new pair
    assert objective.value_and_grad(theta)[0] < value


def test_capability_flags_decide_what_combines():
    assert MINIBATCH_SOLVERS == ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
    assert [s for s in SOLVERS[1:] if not capabilities(s).supports_l1] == ["lbfgs", "newton"]
    assert [s for s in SOLVERS[1:] if capabilities(s).per_coordinate] == ["adagrad", "rmsprop", "adam"]
    assert [s for s in SOLVERS[1:] if capabilities(s).uses_curvature] == ["lbfgs", "newton"]
    with pytest.raises(ValueError, match="full batch only"):
        check_compatible("fista", 0.1, minibatch=True, has_l1=False)
    with pytest.raises(ValueError, match="cannot handle an L1 penalty"):
        check_compatible("newton", "auto", minibatch=False, has_l1=True)
    with pytest.raises(ValueError, match="Unknown solver 'sgd'"):
        OptimizerSpec("sgd", Constant(1.0)).build()


def test_the_spec_rebuilds_the_same_optimizer_and_replaces_only_its_step():
    spec = make_spec("adam", "auto", auto_lr=lambda: 1 / 0, hyper={"beta_2": 0.9, "epsilon": 1e-6})
    assert spec.lr == 0.05 and spec.build().transform.blocks[0].b2 == 0.9  # adam's own default, not 1/L
    assert spec.with_lr(0.01).lr == 0.01 and spec.with_lr(0.01).beta_2 == 0.9
    assert make_spec("lbfgs", "auto", auto_lr=lambda: 1 / 0, hyper={}).lr is None
    assert make_spec("gd", InverseDecay("auto", rate=0.5), auto_lr=lambda: 0.25, hyper={}).learning_rate == (
        InverseDecay(0.25, rate=0.5)
    )
    assert repr(spec.build()) == "<optimizer adam>" and Optimizer().current_lr({}) is None
    assert Optimizer().max_stable_lr(1.0) is None


def test_a_chain_needs_distinct_block_names():
    with pytest.raises(ValueError, match="distinct names"):
        Chain(Trace(0.5), Trace(0.9), ScaleByLearningRate(Constant(1.0)))


def test_schedules_refuse_what_they_cannot_do():
    with pytest.raises(NotImplementedError):
        Schedule(1.0)(0)
    Schedule(1.0).validate()  # no rates of its own
    for bad, message in [
        (StepDecay(0.1, factor=2.0), r"factor must be in \(0, 1\]"),
        (StepDecay(0.1, step_size=0), "step_size must be an integer"),
        (Constant(-1.0), "lr must be a positive number"),
        (InverseDecay(0.1, rate=-1.0), "rate must be a non-negative number"),
    ]:
        with pytest.raises(ValueError, match=message):
            bad.validate()
    assert StepDecay(1.0, factor=0.5, step_size=2)(5) == 0.25
