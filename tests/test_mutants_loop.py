"""Tests that can fail: the loop's rules, averaging, the solver and the file formats, each at its boundary.

Written against mutation testing (issue "Tests that can fail"): every expected value here is a formula
written out, a sequence computed by hand, or bytes written by hand, never the code's own output.
"""

import math

import numpy as np
import pytest

from gdlearn.exceptions import DivergenceError
from gdlearn.stopping import Divergence, EarlyStopping, Epoch, LineSearchStall, Plateau, Tolerance, rules


def epoch(loss=1.0, *, iteration=1, theta=None, grad_norm=1.0, val_loss=None, opt_state=None, lr=None, history=None):
    theta = np.zeros((2, 1)) if theta is None else theta
    history = {"loss": [loss, loss]} if history is None else history
    return Epoch(iteration, theta, loss, grad_norm, val_loss, {} if opt_state is None else opt_state, lr, history)


# ===================================================================== stopping: divergence
def test_divergence_init_remembers_the_first_loss_as_a_float_and_no_rise():
    state = Divergence(True).init(epoch(np.float32(2.5)))
    assert state == {"initial_loss": 2.5, "rising": 0} and type(state["initial_loss"]) is float


@pytest.mark.parametrize("loss, grad_norm", [(math.nan, 1.0), (math.inf, 1.0), (1.0, math.nan), (1.0, -math.inf)])
@pytest.mark.parametrize("descent", [True, False])
def test_divergence_raises_when_the_loss_or_its_gradient_is_not_finite(loss, grad_norm, descent):
    history = {"loss": [1.0, loss], "grad_norm": [1.0, grad_norm]}
    e = epoch(loss, iteration=7, grad_norm=grad_norm, lr=0.25, history=history)
    with pytest.raises(DivergenceError) as exc:
        Divergence(descent).update({"initial_loss": 1.0, "rising": 0}, e)
    err = exc.value
    assert str(err) == "the loss or its gradient is no longer finite"
    assert err.iteration == 7 and err.learning_rate == 0.25
    np.testing.assert_array_equal(err.loss, loss)  # NaN equals NaN here
    assert set(err.history) == {"loss", "grad_norm"} and all(type(v) is list for v in err.history.values())
    np.testing.assert_array_equal(err.history["loss"], [1.0, loss])
    np.testing.assert_array_equal(err.history["grad_norm"], [1.0, grad_norm])
    assert err.history["loss"] is not history["loss"]  # a copy: the loop's lists go on


def test_divergence_history_in_the_error_is_a_copy_of_lists():
    history = {"loss": (1.0, 5.0), "grad_norm": (1.0, math.nan)}
    with pytest.raises(DivergenceError) as exc:
        Divergence(False).update({"initial_loss": 1.0, "rising": 0}, epoch(5.0, grad_norm=math.nan, history=history))
    assert exc.value.history["loss"] == [1.0, 5.0] and type(exc.value.history["loss"]) is list


def _rise(state, previous, loss, initial=1.0):
    return Divergence(True).update(
        {"initial_loss": initial, "rising": state}, epoch(loss, history={"loss": [previous, loss]})
    )


def test_divergence_of_descent_counts_rises_above_the_previous_loss_and_the_first():
    assert _rise(0, 2.0, 3.0) == ({"initial_loss": 1.0, "rising": 1}, None)
    assert _rise(1, 2.0, 3.0) == ({"initial_loss": 1.0, "rising": 2}, None)
    # not above the previous loss (equal, or within 1e-12 of it relatively): the count restarts
    assert _rise(2, 3.0, 3.0) == ({"initial_loss": 1.0, "rising": 0}, None)
    assert _rise(2, 3.0, 3.0 * (1 + 0.5e-12)) == ({"initial_loss": 1.0, "rising": 0}, None)
    assert _rise(1, 3.0, 3.0 * (1 + 4e-12)) == ({"initial_loss": 1.0, "rising": 2}, None)
    # a negative previous loss: the margin is 1e-12·|J|, above it
    assert _rise(0, -3.0, -3.0 * (1 - 0.5e-12), initial=-10.0)[0]["rising"] == 0
    assert _rise(0, -3.0, -3.0 * (1 - 4e-12), initial=-10.0)[0]["rising"] == 1
    # rising, but not above the first loss: not counted
    assert _rise(2, 2.0, 3.0, initial=3.0) == ({"initial_loss": 3.0, "rising": 0}, None)
    assert _rise(2, 2.0, 3.0, initial=4.0)[0]["rising"] == 0
    assert _rise(0, 2.0, 3.0, initial=2.9)[0]["rising"] == 1
    assert _rise(2, 0.0, 0.0, initial=-1.0)[0]["rising"] == 0  # J equal to the previous 0: not a rise


def test_divergence_of_descent_raises_at_the_third_rise_exactly():
    with pytest.raises(DivergenceError) as exc:
        _rise(2, 2.0, 3.0)
    assert str(exc.value) == "the loss rose above its starting value for 3 iterations in a row"
    assert exc.value.loss == 3.0


def test_divergence_without_descent_ignores_rises_and_raises_beyond_ten_thousandfold():
    rule = Divergence(False)
    h = {"loss": [1.0, 2.0]}
    assert rule.update({"initial_loss": 2.0, "rising": 0}, epoch(5.0, history=h)) == (
        {"initial_loss": 2.0, "rising": 0},
        None,
    )
    assert rule.update({"initial_loss": 2.0, "rising": 2}, epoch(2e4, history=h))[0]["rising"] == 0  # exactly 10⁴×
    assert rule.update({"initial_loss": -2.0, "rising": 0}, epoch(2e4, history=h))[1] is None  # |J₀|
    assert rule.update({"initial_loss": 0.0, "rising": 0}, epoch(1e-8, history=h))[1] is None  # 10⁴ × 1e-12
    for initial, loss in ((2.0, 2e4 * (1 + 1e-12)), (-2.0, 2.0001e4), (0.0, 1.01e-8), (1e-13, 2e-8)):
        with pytest.raises(DivergenceError, match="^the loss grew to more than 10,000 times its starting value$"):
            rule.update({"initial_loss": initial, "rising": 0}, epoch(loss, history=h))


def test_divergence_without_descent_does_not_count_three_rises():
    rule, state = Divergence(False), {"initial_loss": 1.0, "rising": 0}
    for k, loss in enumerate([2.0, 3.0, 4.0, 5.0]):
        state, reason = rule.update(state, epoch(loss, history={"loss": [1.0 + k, loss]}))
        assert reason is None and state == {"initial_loss": 1.0, "rising": 0}


# ===================================================================== stopping: the others
def test_tolerance_is_checked_at_start_and_stops_at_tol_inclusive():
    rule = Tolerance(0.5)
    assert rule.at_start is True and rule.name == "tolerance" and rule.init(epoch()) == {}
    state = {"x": 1}
    assert rule.update(state, epoch(grad_norm=0.5)) == ({"x": 1}, "gradient norm below tol")
    assert rule.update(state, epoch(grad_norm=0.4)) == ({"x": 1}, "gradient norm below tol")
    assert rule.update(state, epoch(grad_norm=0.5000001)) == ({"x": 1}, None)


def test_plateau_counts_epochs_without_relative_improvement():
    rule = Plateau(0.1, 3)
    assert rule.name == "plateau"
    state = rule.init(epoch(np.float32(10.0)))
    assert state == {"best": 10.0, "count": 0} and type(state["best"]) is float
    # best 10, tol 0.1: an improvement needs J < 9; 9 exactly is not one
    state, reason = rule.update(state, epoch(9.0))
    assert state == {"best": 9.0, "count": 1} and reason is None
    state, reason = rule.update(state, epoch(8.2))  # needs < 8.1
    assert state == {"best": 8.2, "count": 2} and reason is None
    state, reason = rule.update(state, epoch(7.0))  # < 7.38: improvement, the count restarts
    assert state == {"best": 7.0, "count": 0} and reason is None
    for k in (1, 2):
        state, reason = rule.update(state, epoch(7.5))
        assert state == {"best": 7.0, "count": k} and reason is None
    state, reason = rule.update(state, epoch(7.5))
    assert state == {"best": 7.0, "count": 3} and reason == "training loss did not improve for 3 epochs"


def test_plateau_relative_improvement_uses_the_absolute_value_of_a_negative_best():
    rule = Plateau(0.1, 2)
    # best −10: an improvement needs J < −11
    assert rule.update({"best": -10.0, "count": 1}, epoch(-10.5)) == ({"best": -10.5, "count": 2}, rule_reason(2))
    assert rule.update({"best": -10.0, "count": 1}, epoch(-11.5)) == ({"best": -11.5, "count": 0}, None)
    assert type(rule.update({"best": -10.0, "count": 0}, epoch(np.float32(-12.0)))[0]["best"]) is float


def rule_reason(n):
    return f"training loss did not improve for {n} epochs"


def test_plateau_with_zero_tol_needs_a_strict_decrease():
    rule = Plateau(0.0, 1)
    assert rule.update({"best": 1.0, "count": 0}, epoch(1.0)) == ({"best": 1.0, "count": 1}, rule_reason(1))
    assert rule.update({"best": 1.0, "count": 0}, epoch(0.999)) == ({"best": 0.999, "count": 0}, None)


def test_early_stopping_keeps_a_copy_of_the_best_parameters():
    rule = EarlyStopping(0.1, 2)
    assert rule.name == "early_stopping"
    theta = np.array([[1.0], [2.0]])
    state = rule.init(epoch(theta=theta, val_loss=np.float32(4.0), iteration=0))
    assert set(state) == {"best", "best_iteration", "best_theta", "count"}
    assert (
        state["best"] == 4.0 and type(state["best"]) is float and state["best_iteration"] == 0 and state["count"] == 0
    )
    theta[0, 0] = 99.0  # the loop may reuse the array: the state must not change with it
    np.testing.assert_array_equal(state["best_theta"], [[1.0], [2.0]])

    # 3.8 is better (best_theta follows) but not by tol·|best| = 0.4: the count goes on
    t1 = np.array([[3.0], [4.0]])
    new, reason = rule.update(state, epoch(theta=t1, val_loss=3.8, iteration=5))
    assert reason is None and new["count"] == 1 and new["best"] == 3.8 and new["best_iteration"] == 5
    t1[:] = 0.0
    np.testing.assert_array_equal(new["best_theta"], [[3.0], [4.0]])
    assert state["count"] == 0 and state["best"] == 4.0  # the old state is not modified

    # worse: best kept, count reaches patience
    new2, reason = rule.update(new, epoch(theta=np.ones((2, 1)), val_loss=5.0, iteration=6))
    assert reason == "validation loss did not improve for 2 epochs" and new2["count"] == 2
    assert new2["best"] == 3.8 and new2["best_iteration"] == 5
    np.testing.assert_array_equal(new2["best_theta"], [[3.0], [4.0]])

    # a real improvement (< 3.8 − 0.38 = 3.42) resets the count
    new3, reason = rule.update(new2, epoch(theta=np.ones((2, 1)), val_loss=3.4, iteration=7))
    assert reason is None and new3["count"] == 0 and new3["best"] == 3.4 and new3["best_iteration"] == 7
    # equal to best − tol·|best| is not an improvement; equal to best does not move best_iteration
    state = {"best": 2.0, "best_iteration": 1, "best_theta": np.zeros((2, 1)), "count": 0}
    new4, _ = rule.update(state, epoch(theta=np.ones((2, 1)), val_loss=1.8, iteration=3))
    assert new4["count"] == 1 and new4["best"] == 1.8 and new4["best_iteration"] == 3
    new5, _ = rule.update(state, epoch(theta=np.ones((2, 1)), val_loss=2.0, iteration=3))
    assert new5["count"] == 1 and new5["best"] == 2.0 and new5["best_iteration"] == 1


def test_early_stopping_uses_the_absolute_value_of_a_negative_best_and_restarts_after_a_non_finite_one():
    rule = EarlyStopping(0.1, 3)
    base = {"best": -10.0, "best_iteration": 0, "best_theta": np.zeros((2, 1)), "count": 1}
    assert rule.update(base, epoch(val_loss=-10.5))[0]["count"] == 2  # needs < −11
    assert rule.update(base, epoch(val_loss=-11.5))[0]["count"] == 0
    inf = {**base, "best": math.inf, "count": 2}
    new, reason = rule.update(inf, epoch(val_loss=1e300, iteration=4))
    assert new["count"] == 0 and reason is None and new["best"] == 1e300 and new["best_iteration"] == 4
    nan = {**base, "best": math.nan, "count": 2}
    new, reason = rule.update(nan, epoch(val_loss=5.0, iteration=4))
    assert new["count"] == 0 and reason is None


def test_line_search_stall_stops_only_on_a_stalled_dict_state():
    rule = LineSearchStall()
    assert rule.name == "line_search" and rule.init(epoch()) == {}
    message = "line search cannot decrease the loss further (machine precision)"
    assert rule.update({"a": 1}, epoch(opt_state={"stalled": True})) == ({"a": 1}, message)
    assert rule.update({}, epoch(opt_state={"stalled": False}))[1] is None
    assert rule.update({}, epoch(opt_state={}))[1] is None
    e = epoch()
    e.opt_state = None
    assert rule.update({}, e)[1] is None


def test_rules_lists_the_rules_in_order_with_their_settings():
    plain = rules(0.25)
    assert [type(r) for r in plain] == [Divergence, Tolerance, LineSearchStall]
    assert plain[0].expects_descent is False and plain[1].tol == 0.25
    assert rules(0.25, expects_descent=True)[0].expects_descent is True
    assert rules(0.25, expects_descent=True, minibatch=True)[0].expects_descent is False
    mb = rules(0.25, minibatch=True)
    assert [type(r) for r in mb] == [Divergence, Tolerance, Plateau, LineSearchStall]
    assert (mb[2].tol, mb[2].patience) == (0.25, 10)
    both = rules(0.5, patience=4, minibatch=True, early_stopping=True)
    assert [type(r) for r in both] == [Divergence, Tolerance, Plateau, EarlyStopping, LineSearchStall]
    assert (both[2].tol, both[2].patience, both[3].tol, both[3].patience) == (0.5, 4, 0.5, 4)
    es = rules(0.5, patience=4, early_stopping=True)
    assert [type(r) for r in es] == [Divergence, Tolerance, EarlyStopping, LineSearchStall]


# ===================================================================== averaging
class Scripted:
    """An inner optimizer whose iterates are given: step k returns ``iterates[k]``; its state counts the steps."""

    name, expects_descent, full_batch_only, supports_l1 = "scripted", True, False, False
    per_coordinate, affine_invariant, schedule = True, True, "a schedule"

    def __init__(self, iterates):
        self.iterates = [np.asarray(t, dtype=float) for t in iterates]
        self.seen, self.given, self.init_theta = [], [], None

    def init(self, theta):
        self.init_theta = theta
        return {"k": 0}

    def step(self, objective, theta, value, grad, state, evaluate=True):
        self.seen.append((dict(state), evaluate))
        self.given.append((objective, theta))
        return self.iterates[state["k"]], value + 1.0, grad * 2.0, {"k": state["k"] + 1}

    def current_lr(self, state):
        return ("lr", tuple(sorted(state)))

    def max_stable_lr(self, L):
        return 2.0 / L


def _polyak(iterates, start, eta):
    """θ̄ after each step, from the weights written out: θ̄_t = Σ_s c_s θ_s / Σ_s c_s over the averaged iterates,
    with c_s = Π_{r>s} (1 − w_r) · w_s and w_t = (η + 1)/(t + η): the recursion unrolled."""
    out, averaged = [], []
    for k, theta in enumerate(iterates, start=1):
        if k > start:
            averaged.append(theta)
        if not averaged:
            out.append(None)
            continue
        T = len(averaged)
        w = [(eta + 1.0) / (t + eta) for t in range(1, T + 1)]
        c = [w[s] * np.prod([1.0 - w[r] for r in range(s + 1, T)]) for s in range(T)]
        out.append(sum(cs * a for cs, a in zip(c, averaged)))
    return out


@pytest.mark.parametrize("start, eta", [(0, 3.0), (2, 3.0), (1, 0.0), (3, 1.5)])
def test_averaged_is_the_polynomial_decay_average_of_the_iterates_after_start(start, eta):
    from gdlearn.optim.averaging import Averaged

    iterates = [np.array([[float(k)], [float(k * k)]]) for k in range(1, 8)]
    opt = Averaged(Scripted(iterates), start=start, eta=eta)
    theta0 = np.array([[-1.0], [-2.0]])
    state = opt.init(theta0)
    assert state["k"] == 0 and state["average"]["count"] == 0 and state["average"]["steps"] == 0
    np.testing.assert_array_equal(state["average"]["theta"], theta0)
    assert opt.estimate(theta0, state) is theta0
    assert opt.inner.init_theta is theta0
    theta, value, grad, problem = theta0, 0.0, np.ones((2, 1)), object()
    for k, expected in enumerate(_polyak(iterates, start, eta), start=1):
        theta, value, grad, state = opt.step(problem, theta, value, grad, state, evaluate=False)
        assert opt.inner.given[-1][0] is problem and opt.inner.given[-1][1] is (theta0 if k == 1 else iterates[k - 2])
        np.testing.assert_array_equal(theta, iterates[k - 1])  # the iterates are the inner optimizer's
        assert value == float(k) and state["k"] == k
        assert state["average"]["steps"] == k and state["average"]["count"] == max(0, k - start)
        if expected is None:
            assert opt.estimate(theta, state) is theta
        else:
            np.testing.assert_allclose(opt.estimate(theta, state), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(grad, 2.0**7 * np.ones((2, 1)))
    # the inner optimizer never sees the average block, and gets `evaluate` as given
    assert all(set(s) == {"k"} and ev is False for s, ev in opt.inner.seen)


def test_averaged_with_the_default_eta_weights_three_and_passes_evaluate_through():
    from gdlearn.optim.averaging import Averaged

    iterates = [np.array([[1.0]]), np.array([[5.0]]), np.array([[9.0]])]
    opt = Averaged(Scripted(iterates), start=0)
    assert opt.eta == 3.0
    state, theta = opt.init(np.zeros((1, 1))), np.zeros((1, 1))
    averages = []
    for _ in iterates:
        theta, _, _, state = opt.step(None, theta, 0.0, np.zeros((1, 1)), state)
        averages.append(float(opt.estimate(theta, state)[0, 0]))
    # w₁ = 1, w₂ = 4/5, w₃ = 4/6: 1; 0.2·1 + 0.8·5 = 4.2; (1/3)·4.2 + (2/3)·9 = 7.4
    np.testing.assert_allclose(averages, [1.0, 4.2, 7.4], rtol=1e-14)
    assert all(ev is True for _, ev in opt.inner.seen)


def test_averaged_copies_its_inner_optimizers_flags_and_delegates():
    from gdlearn.optim.averaging import Averaged

    inner = Scripted([])
    opt = Averaged(inner, start="4", eta="2")
    assert opt.start == 4 and opt.eta == 2.0 and type(opt.eta) is float
    assert opt.name == "scripted" and opt.schedule == "a schedule"
    flags = ("expects_descent", "full_batch_only", "supports_l1", "per_coordinate", "affine_invariant")
    assert [getattr(opt, f) for f in flags] == [True, False, False, True, True]
    assert opt.max_stable_lr(4.0) == 0.5
    state = {"k": 3, "z": 1, "average": {"theta": np.zeros(1), "count": 0, "steps": 0}}
    assert opt.current_lr(state) == ("lr", ("k", "z"))

    class Unscheduled:  # a line-search method: no schedule attribute at all
        name, expects_descent, full_batch_only, supports_l1 = "bare", False, True, True
        per_coordinate, affine_invariant = False, False

    assert Averaged(Unscheduled(), start=0).schedule is None


def test_averaged_init_does_not_alias_theta():
    from gdlearn.optim.averaging import Averaged

    theta = np.array([[1.0], [2.0]])
    state = Averaged(Scripted([]), start=0).init(theta)
    theta[0, 0] = 7.0
    np.testing.assert_array_equal(state["average"]["theta"], [[1.0], [2.0]])
    ints = Averaged(Scripted([]), start=0).init(np.array([[1], [2]]))
    assert ints["average"]["theta"].dtype == np.float64


# ===================================================================== the solver loop
class Rows:
    """J(θ) = mean_i ½(θ − aᵢ)² (+ l1·|θ|) on the rows a = 0, 1, 2, 3, 4: θ is 1×1, ∇ = θ − mean(a)."""

    def __init__(self, l1=0.0):
        self.a = np.arange(5.0)
        self.n_samples, self.has_l1, self.l1 = 5, l1 > 0, l1
        self.batches = []

    def value(self, theta):
        return float(np.mean(0.5 * (theta[0, 0] - self.a) ** 2))

    def value_and_grad(self, theta):
        return self.value(theta), theta - np.mean(self.a)

    def batch_value_and_grad(self, theta, idx):
        self.batches.append(list(idx))
        rows = self.a[idx]
        return float(np.mean(0.5 * (theta[0, 0] - rows) ** 2)), theta - np.mean(rows)

    def residual(self, theta, grad):
        return grad + 0.0 * theta  # the gradient mapping at θ; a smooth J's is ∇J

    def nonsmooth_value(self, theta):
        return self.l1 * float(np.abs(theta).sum())


class Descent:
    """θ ← θ − α g, recording what it is given; ``shift`` moves the point the model is (an averaging optimizer)."""

    expects_descent = False

    def __init__(self, lr=0.5, shift=0.0, own_residual=None, stalled=False):
        self.lr, self.shift, self.own_residual, self.stalled = lr, shift, own_residual, stalled
        self.calls, self.objectives, self.init_theta = [], [], None

    def init(self, theta):
        self.init_theta = theta
        state = {"steps": 0, "shift": self.shift, "stalled": self.stalled}
        return state if self.own_residual is None else {**state, "residual_norm": self.own_residual}

    def step(self, objective, theta, value, grad, state, evaluate=True):
        self.calls.append((float(value), float(grad[0, 0]), evaluate))
        self.objectives.append(objective)
        new = theta - self.lr * grad
        value, grad = objective.value_and_grad(new) if evaluate else (None, None)
        return new, value, grad, {**state, "steps": state["steps"] + 1}

    def estimate(self, theta, state):
        return theta + state["shift"]

    def current_lr(self, state):
        return self.lr * (state["steps"] + 1)


def _solve(objective=None, optimizer=None, theta0=0.0, **kw):
    from gdlearn.solver import minimize

    kw.setdefault("max_iter", 3)
    kw.setdefault("rules", [])
    objective = Rows() if objective is None else objective
    optimizer = Descent() if optimizer is None else optimizer
    return minimize(objective, optimizer, np.array([[theta0]]), **kw)


def test_full_batch_iterates_and_history_are_those_written_out():
    # θ: 0 → 1 → 1.5 → 1.75 (halving the distance to 2); J = ½((θ − 2)² + var a), var a = 2
    opt = Descent()
    result = _solve(optimizer=opt, theta0=0)
    assert result.n_iter == 3 and result.stop_reason == "max_iter" and result.converged is False
    assert result.history == {"loss": [3.0, 1.5, 1.125, 1.03125], "grad_norm": [2.0, 1.0, 0.5, 0.25]}
    np.testing.assert_array_equal(result.theta, [[1.75]])
    assert result.theta.dtype == np.float64 and result.path is None and result.best_iteration is None
    assert result.state.iteration == 3 and result.state.stopped is None and result.state.rules == {}
    assert opt.calls == [(3.0, -2.0, True), (1.5, -1.0, True), (1.125, -0.5, True)]


def test_integer_theta0_is_taken_as_float():
    from gdlearn.solver import minimize

    result = minimize(Rows(), Descent(), np.array([[0]]), max_iter=1, rules=[])
    np.testing.assert_array_equal(result.theta, [[1.0]])
    opt = Descent()
    result = minimize(Rows(), opt, np.array([[3]]), max_iter=0, rules=[])
    assert result.theta.dtype == np.float64 and result.state.theta.dtype == np.float64
    assert opt.init_theta.tolist() == [[3]]  # the optimizer's state is made for θ₀


class Plain:
    """θ ← θ − ½g with a state that is not a dict: the loop measures the residual itself."""

    expects_descent = False

    def init(self, theta):
        return [0]

    def step(self, objective, theta, value, grad, state, evaluate=True):
        new = theta - 0.5 * grad
        return (new, *objective.value_and_grad(new), [state[0] + 1])

    def estimate(self, theta, state):
        return theta

    def current_lr(self, state):
        return None


def test_an_optimizer_state_that_is_not_a_dict():
    result = _solve(optimizer=Plain(), max_iter=2, rules=[LineSearchStall()])
    assert result.history["grad_norm"] == [2.0, 1.0, 0.5] and result.stop_reason == "max_iter"


def test_the_rules_see_the_optimizer_state_and_the_history():
    result = _solve(optimizer=Descent(stalled=True), max_iter=5, rules=[LineSearchStall()])
    assert (
        result.n_iter == 1 and result.stop_reason == "line search cannot decrease the loss further (machine precision)"
    )
    # θ: 0 → 10 → −30 → 130 with α = 5: J = ½((θ − 2)² + 2) rises three times above J₀ = 3
    with pytest.raises(DivergenceError) as exc:
        _solve(optimizer=Descent(lr=5.0), max_iter=10, rules=[Divergence(True)])
    assert exc.value.iteration == 3 and exc.value.history["loss"] == [3.0, 33.0, 513.0, 8193.0]
    assert exc.value.learning_rate == 20.0  # Descent's current_lr: α·(steps + 1)
    assert getattr(exc.value, "path", None) is None  # no path recorded
    with pytest.raises(DivergenceError) as exc:  # the recorded path, to the step that flew off, goes with the error
        _solve(optimizer=Descent(lr=5.0), max_iter=10, rules=[Divergence(True)], record_path=lambda th: th * 2.0)
    assert type(exc.value.path) is list and [float(p[0, 0]) for p in exc.value.path] == [0.0, 20.0, -60.0, 260.0]


def test_the_l1_term_is_added_only_when_the_problem_has_one():
    obj = Rows(l1=0.25)
    obj.has_l1 = False
    assert _solve(obj, max_iter=1).history["loss"] == [3.0, 1.5]


def test_only_the_early_stopping_rule_restores_best_parameters():
    result = _solve(max_iter=1, rules=[Say("early_stopping", {})])  # a rule of that name, not EarlyStopping
    assert result.best_iteration is None
    np.testing.assert_array_equal(result.theta, [[1.0]])


def test_a_short_last_batch_of_two_rows_weighs_two_thirds():
    obj, opt = Rows(), Descent()
    _solve(obj, opt, batch_size=3, shuffle=False, max_iter=1)
    assert obj.batches == [[0, 1, 2], [3, 4]]
    # {0, 1, 2} at θ = 0: J = 5/6, g = −1 → θ = ½; {3, 4} at ½: J = ½((5/2)² + (7/2)²)/2 = 37/8, g = −3; × 2/3
    assert opt.calls == [(5 / 6, -1.0, False), (37 / 8 * 2 / 3, -3.0 * (2 / 3), False)]


def test_a_batch_of_all_rows_is_full_batch():
    obj, opt = Rows(), Descent()
    result = _solve(obj, opt, batch_size=5, max_iter=2)
    assert obj.batches == [] and [c[2] for c in opt.calls] == [True, True]
    np.testing.assert_array_equal(result.theta, [[1.5]])


def test_minibatches_in_order_and_the_short_last_batch_counts_its_share():
    obj, opt = Rows(), Descent()
    result = _solve(obj, opt, batch_size=2, shuffle=False, max_iter=1)
    assert obj.batches == [[0, 1], [2, 3], [4]]
    # θ = 0: batch {0, 1}: J = ¼, g = −½ → θ = ¼; batch {2, 3}: J = ½((7/4)² + (11/4)²)/2, g = −9/4 → θ = 11/8;
    # batch {4}: J = ½(21/8)², g = −21/8, both halved (1 row of 2) → θ = 11/8 + 21/32 = 65/32
    expected = [(0.25, -0.5, False), ((49 / 16 + 121 / 16) / 4, -2.25, False), ((441 / 64) / 4, -21 / 16, False)]
    assert opt.calls == expected and all(o is obj for o in opt.objectives)
    np.testing.assert_array_equal(result.theta, [[65 / 32]])
    assert result.history["loss"] == [3.0, 0.5 * ((65 / 32 - 2) ** 2 + 2)]
    assert result.history["grad_norm"] == [2.0, 1 / 32]


@pytest.mark.parametrize("seed", [0, 3])
def test_shuffled_minibatches_follow_the_seed_and_the_epoch(seed):
    obj = Rows()
    _solve(obj, batch_size=2, max_iter=2, **({} if seed == 0 else {"seed": seed}))  # the default seed is 0
    seen = [list(map(int, b)) for b in obj.batches]
    expected = []
    for ep in (0, 1):  # the documented order: a permutation drawn from (seed, epoch)
        order = np.random.default_rng([seed, ep]).permutation(5).tolist()
        expected += [order[0:2], order[2:4], order[4:5]]
    assert seen == expected


def test_the_model_point_is_the_optimizers_estimate():
    # estimate = θ + 10 (an averaging optimizer): J and ∇J are recorded there, and it is the result
    obj, opt = Rows(), Descent(shift=10.0)
    result = _solve(obj, opt, batch_size=4, shuffle=False, max_iter=1)
    # the steps use the batches at the iterate: {0..3} at θ = 0: g = −3/2 → θ = 3/4; {4}: g = (3/4 − 4)/4 → 37/32
    assert opt.calls == [(1.75, -1.5, False), (0.5 * (13 / 4) ** 2 / 4, -13 / 16, False)]
    model = 37 / 32 + 10
    np.testing.assert_array_equal(result.theta, [[model]])
    assert result.history["loss"] == [0.5 * (64 + 2), 0.5 * ((model - 2) ** 2 + 2)]
    assert result.history["grad_norm"] == [8.0, model - 2]


def test_the_l1_term_is_added_to_the_recorded_loss():
    result = _solve(Rows(l1=0.25), max_iter=1)
    assert result.history["loss"] == [3.0, 1.5 + 0.25]
    assert _solve(Rows(l1=0.0), max_iter=1).history["loss"] == [3.0, 1.5]


@pytest.mark.parametrize("own, expected", [(0.0, 0.0), (0.75, 0.75), (-1.0, 2.0), (-0.5, 2.0)])
def test_an_optimizer_may_measure_its_own_residual(own, expected):
    result = _solve(optimizer=Descent(own_residual=own), max_iter=0)
    assert result.history["grad_norm"] == [expected]


class Say:
    """A stopping rule that gives ``reasons[iteration]`` and counts its updates in its state."""

    def __init__(self, name, reasons, at_start=None):
        self.name, self.reasons = name, reasons
        if at_start is not None:
            self.at_start = at_start

    def init(self, epoch):
        return {"n": 0, "init_at": epoch.iteration}

    def update(self, state, epoch):
        return {**state, "n": state["n"] + 1}, self.reasons.get(epoch.iteration)


def test_every_rule_is_updated_and_the_first_reason_in_order_stops():
    first, second = Say("first", {2: "one"}), Say("second", {1: "two", 2: "three"})
    result = _solve(rules=[first, second], max_iter=10)
    assert result.stop_reason == "two" and result.converged is True and result.n_iter == 1
    result = _solve(rules=[first, Say("second", {2: "three"})], max_iter=10)
    assert result.stop_reason == "one" and result.n_iter == 2 and result.state.stopped == "one"
    assert result.state.rules == {"first": {"n": 2, "init_at": 0}, "second": {"n": 2, "init_at": 0}}


def test_rules_checked_at_start_can_end_the_fit_before_any_iteration():
    from gdlearn.solver import minimize

    result = _solve(rules=[Say("late", {0: "not at start"}), Say("early", {0: "done at start"}, at_start=True)])
    assert result.n_iter == 0 and result.stop_reason == "done at start" and result.converged is True
    assert result.state.stopped == "done at start" and result.history["loss"] == [3.0]
    assert result.state.rules == {"late": {"n": 0, "init_at": 0}, "early": {"n": 0, "init_at": 0}}
    # a rule flagged at_start=False, or two at start: the first reason is kept
    other = _solve(rules=[Say("no", {0: "x"}, at_start=False)], max_iter=1)
    assert other.n_iter == 1 and other.stop_reason == "max_iter"
    two = [Say("a", {0: "first"}, at_start=True), Say("b", {0: "second"}, at_start=True)]
    assert _solve(rules=two).stop_reason == "first"
    # a finished run resumed does nothing more, and says why it finished
    again = minimize(Rows(), Descent(), np.zeros((1, 1)), max_iter=5, rules=[], state=result.state)
    assert again.n_iter == 0 and again.stop_reason == "done at start" and again.converged is True


def test_resuming_continues_from_a_copy_of_the_state():
    from gdlearn.solver import minimize

    first = _solve(max_iter=1, rules=[Say("r", {})])
    saved_theta = first.state.theta.copy()
    second = minimize(Rows(), Descent(), np.full((1, 1), 100.0), max_iter=2, rules=[Say("r", {})], state=first.state)
    assert second.n_iter == 3 and second.history["loss"] == [3.0, 1.5, 1.125, 1.03125]
    np.testing.assert_array_equal(second.theta, [[1.75]])
    assert second.state.rules == {"r": {"n": 3, "init_at": 0}}  # not re-initialised
    np.testing.assert_array_equal(first.state.theta, saved_theta)
    assert first.state.iteration == 1 and len(first.history["loss"]) == 2  # the state handed in is not modified


def test_the_callback_sees_each_iteration_and_stopping_by_it_is_not_a_finished_run():
    seen = []

    def callback(info):
        seen.append((info.iteration, info.max_iter, info.loss, info.grad_norm, info.learning_rate, info.val_loss))
        return info.iteration == 2

    result = _solve(rules=[Say("r", {2: "rule"})], callback=callback, max_iter=5)
    assert seen == [(1, 5, 1.5, 1.0, 1.0, None), (2, 5, 1.125, 0.5, 1.5, None)]
    assert result.stop_reason == "stopped by callback" and result.converged is False and result.n_iter == 2
    assert result.state.stopped is None  # a resume goes on
    assert _solve(callback=lambda info: None, max_iter=2).n_iter == 2
    assert _solve(callback=lambda info: False, max_iter=2).stop_reason == "max_iter"


def test_the_checkpoint_is_handed_every_completed_iteration_and_told_when_it_is_final():
    class Recorder:
        def __init__(self):
            self.calls = []

        def __call__(self, state, final):
            self.calls.append((state.iteration, final, len(state.history["loss"])))

    rec = Recorder()
    _solve(max_iter=3, checkpoint=rec)
    assert rec.calls == [(1, False, 2), (2, False, 3), (3, False, 4)]
    rec = Recorder()
    _solve(max_iter=5, checkpoint=rec, rules=[Say("r", {2: "stop"})])
    assert rec.calls == [(1, False, 2), (2, True, 3)]
    rec = Recorder()
    _solve(max_iter=5, checkpoint=rec, callback=lambda info: info.iteration == 1)
    assert rec.calls == [(1, True, 2)]


def test_an_interrupt_says_which_iteration_the_checkpoint_holds():
    from gdlearn.exceptions import FitInterrupted

    def interrupt(info):
        if info.iteration == 2:
            raise KeyboardInterrupt

    with pytest.raises(FitInterrupted) as exc:
        _solve(max_iter=5, callback=interrupt)
    assert str(exc.value) == "Fit interrupted after iteration 2." and exc.value.iteration == 2
    assert exc.value.checkpoint is None and isinstance(exc.value.__cause__, KeyboardInterrupt)

    class Saved:
        def __init__(self, answer):
            self.answer = answer

        def __call__(self, state, final):
            pass

        def interrupted(self):
            return self.answer

    with pytest.raises(FitInterrupted) as exc:
        _solve(max_iter=5, callback=interrupt, checkpoint=Saved(("run.ckpt", 1)))
    assert str(exc.value) == "Fit interrupted after iteration 1." and exc.value.iteration == 1
    assert exc.value.checkpoint == "run.ckpt"
    with pytest.raises(FitInterrupted) as exc:
        _solve(max_iter=5, callback=interrupt, checkpoint=Saved((None, None)))
    assert exc.value.iteration == 2 and exc.value.checkpoint is None


def test_validation_path_and_early_stopping_are_recorded_at_the_model_point():
    val_obj = Rows()
    val_obj.a = np.full(5, 1.0)  # validation loss ½(θ − 1)²: best at θ₁ = 1
    scores = []

    def score(theta):
        scores.append(float(theta[0, 0]))
        return -float(theta[0, 0]), 2.0 * float(theta[0, 0])

    result = _solve(
        max_iter=5,
        rules=[EarlyStopping(0.0, 2)],
        validation=(val_obj, score),
        record_path=lambda th: th * 10.0,
    )
    # θ: 0, 1, 1.5, 1.75; validation ½(θ − 1)²: 0.5, 0, 0.125, 0.28125 → two epochs without improvement at 3
    assert result.n_iter == 3 and result.stop_reason == "validation loss did not improve for 2 epochs"
    assert result.history["val_loss"] == [0.5, 0.0, 0.125, 0.28125]
    assert result.history["val_score"] == [-0.0, -1.0, -1.5, -1.75]
    assert result.history["score"] == [0.0, 2.0, 3.0, 3.5]
    assert [float(p[0, 0]) for p in result.path] == [0.0, 10.0, 15.0, 17.5]
    assert result.best_iteration == 1
    np.testing.assert_array_equal(result.theta, [[1.0]])
    assert result.state.rules["early_stopping"]["best_theta"] is not result.theta  # a copy
    assert scores == [0.0, 1.0, 1.5, 1.75]


def test_the_callback_sees_the_validation_loss():
    val_obj = Rows()
    seen = []
    _solve(max_iter=1, validation=(val_obj, lambda th: (0.0, 0.0)), callback=lambda info: seen.append(info.val_loss))
    assert seen == [1.5]


# ===================================================================== the file format
def _ref_digest(header_text, arrays):
    """The checksum as docs/reliability.md describes it, written out with hashlib."""
    import hashlib

    h = hashlib.sha256(b"gdlearn-file\x00" + header_text.encode("ascii"))
    for name in sorted(arrays):
        a = np.asarray(arrays[name])
        a = a.astype(a.dtype.newbyteorder("<"))  # C order; not ascontiguousarray, which makes a 0-d array 1-d
        h.update(b"\x00" + name.encode() + b"\x00" + a.dtype.str.encode() + str(a.shape).encode() + b"\x00")
        h.update(a.tobytes())
    return h.hexdigest()


def _container(metadata, arrays=None):
    """A safetensors file written by hand: 8 bytes of header size, the JSON header, the arrays' bytes."""
    import json

    arrays = {} if arrays is None else arrays
    header, offset, body = {}, 0, b""
    for name, a in sorted(arrays.items()):
        raw = np.ascontiguousarray(a, dtype="<f8").tobytes()
        header[name] = {"dtype": "F64", "shape": list(np.shape(a)), "data_offsets": [offset, offset + len(raw)]}
        offset, body = offset + len(raw), body + raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + body


def _sealed(header, arrays=None):
    """A gdlearn file by hand: the canonical header text with its checksum."""
    import json

    def canonical(obj):
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    arrays = {} if arrays is None else arrays
    sealed = {**header, "sha256": _ref_digest(canonical(header), arrays)}
    return _container({"gdlearn": canonical(sealed)}, arrays)


def _read(path, **kw):
    from gdlearn import _fileformat

    kw.setdefault("formats", {"fmt": 2})
    kw.setdefault("max_size", 10_000)
    return _fileformat.read(path, _fileformat.FileError, **kw)


def test_file_error_names_the_file_and_the_problem():
    from gdlearn._fileformat import FileError

    err = FileError("a.bin", "it is broken")
    assert str(err) == "Cannot use file 'a.bin': it is broken" and err.path == "a.bin" and err.problem == "it is broken"
    assert isinstance(err, ValueError)


def test_digest_is_the_documented_sha256():
    from gdlearn._fileformat import digest

    arrays = {"b": np.arange(3, dtype=">i4"), "a": np.array(2.5), "e": np.zeros((0, 2))}
    assert digest('{"x":1}', arrays) == _ref_digest('{"x":1}', arrays)
    assert digest("", {}) == __import__("hashlib").sha256(b"gdlearn-file\x00").hexdigest()


def test_write_puts_one_canonical_sealed_header_and_little_endian_arrays(tmp_path):
    import json

    from gdlearn import _fileformat, _version

    path = tmp_path / "f.bin"
    arrays = {"w": np.array([1.5, -2.0], dtype=">f8"), "n": np.array(3, dtype=np.int64)}
    _fileformat.write(path, "fmt", 2, {"z": [1, "é"], "a": {"k": None}}, arrays)
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8 : 8 + size])["__metadata__"]
    assert set(meta) == {"gdlearn"}
    body = (
        '{"a":{"k":null},"format":"fmt","format_version":2,"gdlearn_version":"' + _version.__version__ + '",'
        '"z":[1,"\\u00e9"]}'
    )
    little = {"w": np.array([1.5, -2.0]), "n": np.array(3, dtype=np.int64)}
    expected = json.loads(body)
    expected["sha256"] = _ref_digest(body, little)
    assert meta["gdlearn"] == json.dumps(expected, sort_keys=True, separators=(",", ":"))
    header, back = _read(path)
    assert header == {**json.loads(body)} and set(back) == {"w", "n"}
    assert back["w"].dtype == np.dtype("<f8") and back["w"].tolist() == [1.5, -2.0] and back["n"].shape == ()
    with pytest.raises(ValueError):
        _fileformat.write(tmp_path / "nan.bin", "fmt", 1, {"x": math.nan}, {})
    assert not (tmp_path / "nan.bin").exists()


def test_a_file_written_by_hand_is_read(tmp_path):
    path = tmp_path / "hand.bin"
    header = {"format": "fmt", "format_version": 2, "gdlearn_version": "9", "x": [1, 2]}
    path.write_bytes(_sealed(header, {"a": np.array([1.0, 2.0])}))
    got, arrays = _read(path, schema={"x": list})
    assert got == header and arrays["a"].tolist() == [1.0, 2.0]
    # the size limit: a file of exactly max_size bytes is read, one byte less is the limit passed
    n = len(path.read_bytes())
    assert _read(path, max_size=n)[0] == header
    with pytest.raises(ValueError, match=f"the file is larger than the limit of {n - 1:,} bytes$"):
        _read(path, max_size=n - 1)


def _refused(tmp_path, data, **kw):
    from gdlearn._fileformat import FileError

    path = tmp_path / "bad.bin"
    path.write_bytes(data)
    with pytest.raises(FileError) as exc:
        _read(path, **kw)
    assert exc.value.path == str(path)
    return exc.value.problem


def test_what_is_not_a_container_is_named(tmp_path):
    import json

    from gdlearn import _version

    assert _refused(tmp_path, b"") == "the file is empty (truncated by a crash?)"
    assert _refused(tmp_path, b"\x80\x04K\x01.").startswith("it looks like a Python pickle")
    assert (
        _refused(tmp_path, b"abc") == "it is truncated or not a gdlearn file (3 bytes, header of 6,513,249 announced)"
    )
    assert _refused(tmp_path, (4).to_bytes(8, "little") + b"{}") == (
        "it is truncated or not a gdlearn file (10 bytes, header of 4 announced)"
    )
    old = json.dumps({"gdlearn_version": "0.1.3", "format": "gdlearn-model", "format_version": 1}).encode()
    assert _refused(tmp_path, b"  " + old, legacy="Do this.") == (
        f"it was written by gdlearn 0.1.3 (gdlearn-model format 1, JSON), which this gdlearn "
        f"({_version.__version__}) no longer reads. Do this."
    )
    for broken in (b'{"a": 1}', b"{not json", b'{"gdlearn_version": 1}'):
        assert _refused(tmp_path, broken) == "it is JSON, not a gdlearn file (or an older gdlearn's file, truncated)"


def test_a_container_without_a_valid_gdlearn_header_is_refused(tmp_path):
    no_meta = "it is not a gdlearn file (its header has no gdlearn metadata)"
    assert _refused(tmp_path, _container(None)) == no_meta
    assert _refused(tmp_path, _container({"other": "x"})) == no_meta
    assert _refused(tmp_path, _container({"gdlearn": "{}", "other": "x"})) == no_meta
    assert _refused(tmp_path, _container({"gdlearn": "[1]"})) == "its gdlearn header is not a JSON object"
    assert _refused(tmp_path, _container({"gdlearn": "{not json"})).startswith("it is corrupted or truncated (")
    assert _refused(tmp_path, (2).to_bytes(8, "little") + b"[]").startswith("it is corrupted or truncated (")
    bad_offsets = bytearray(_container({"gdlearn": "{}"}, {"a": np.ones(2)}))
    assert _refused(tmp_path, bytes(bad_offsets[:-3])).startswith("its arrays are corrupted (")
    mismatch = "checksum mismatch: the file was modified or corrupted after it was written"
    header = {"format": "fmt", "format_version": 1, "gdlearn_version": "9"}
    good = _sealed(header, {"a": np.ones(2)})
    assert _refused(tmp_path, good[:-1] + b"\x40") == mismatch  # one byte of an array
    # the same header, not canonical: spaces, or the keys out of order, with the right checksum
    import json

    text = json.dumps({**header, "sha256": _ref_digest(json.dumps(header, sort_keys=True, separators=(",", ":")), {})})
    assert _refused(tmp_path, _container({"gdlearn": text})) == mismatch
    assert _refused(tmp_path, _container({"gdlearn": '{"format":"fmt"}'})) == mismatch  # no checksum at all


def test_the_format_and_its_version_are_checked(tmp_path):
    def sealed(fmt, version):
        return _sealed({"format": fmt, "format_version": version, "gdlearn_version": "7.1"})

    others = {"model": "it is a model"}
    assert _refused(tmp_path, sealed("model", 1), others=others) == "it is a model"
    assert _refused(tmp_path, sealed("x", 1), formats={"a": 1, "b": 2}) == "it is a 'x' file, not 'a' or 'b'"
    assert _refused(tmp_path, sealed(3, 1)) == "it is a '3' file, not 'fmt'"
    assert _refused(tmp_path, sealed(None, 1), others={"None": "none"}) == "none"
    for version in (0, -1, True, 1.0, "1", None):
        assert (
            _refused(tmp_path, sealed("fmt", version))
            == f"format_version must be a positive integer, found {version!r}"
        )
    assert _refused(tmp_path, sealed("fmt", 3)) == (
        f"it has format version 3, written by a newer gdlearn ('7.1'); this gdlearn "
        f"({__import__('gdlearn')._version.__version__}) reads versions up to 2. Upgrade gdlearn to load it"
    )
    (tmp_path / "ok.bin").write_bytes(sealed("fmt", 2))
    assert _read(tmp_path / "ok.bin")[0]["format_version"] == 2
    (tmp_path / "one.bin").write_bytes(sealed("fmt", 1))
    assert _read(tmp_path / "one.bin")[0]["format_version"] == 1
    # the schema covers the three fields every file has
    assert _read(tmp_path / "one.bin", schema={})[0]["gdlearn_version"] == "7.1"
    bad = _sealed({"format": "fmt", "format_version": 1, "gdlearn_version": 7})
    assert _refused(tmp_path, bad, schema={}) == "gdlearn_version has the wrong type: 7"


def test_check_fields_names_the_first_mismatch_with_its_dotted_place():
    from gdlearn._fileformat import check_fields

    def problem(value, schema):
        found = []

        def fail(p):
            found.append(p)
            raise ValueError(p)

        try:
            check_fields(value, schema, fail)
        except ValueError:
            return found[0]
        return None

    schema = {"a": int, "b": {"c": (str, None), "d": bool}, "e": (int, float)}
    assert problem({"a": 1, "b": {"c": None, "d": True}, "e": 2.5}, schema) is None
    assert problem({"a": 1, "b": {"c": "x", "d": False}, "e": 2}, schema) is None
    assert problem({"a": True, "b": {"c": None, "d": True}, "e": 1}, schema) == "a has the wrong type: True"
    assert problem({"a": 1, "b": {"c": 3, "d": True}, "e": 1}, schema) == "b.c has the wrong type: 3"
    assert problem({"a": 1, "b": {"c": None, "d": 1}, "e": 1}, schema) == "b.d has the wrong type: 1"
    assert problem({"a": 1, "b": {"c": None, "d": True}, "e": None}, schema) == "e has the wrong type: None"
    assert problem({"a": 1, "b": {"c": None}, "e": 1}, schema) == (
        "b must have the fields ['c', 'd'], found {'c': None}"
    )
    assert problem([1], schema) == "the header must have the fields ['a', 'b', 'e'], found [1]"
    assert problem({"a": 1, "b": [], "e": 1}, schema) == "b must have the fields ['c', 'd'], found []"
    extra = {"a": 1, "b": {"c": None, "d": True}, "e": 1, "f": 0}
    assert problem(extra, schema).startswith("the header must have the fields ['a', 'b', 'e'], found {")
    assert len(problem({"a": "x" * 500}, {"b": int})) == len("the header must have the fields ['b'], found ") + 200
    assert problem("y" * 500, int) == " has the wrong type: '" + "y" * 79
    assert problem(True, bool) is None and problem(1, (int, None)) is None and problem(True, (int, None)) is not None


def test_encode_param_gives_json_values():
    from gdlearn._fileformat import encode_param
    from gdlearn.optim.schedules import InverseDecay, StepDecay

    assert encode_param("k", None) is None and encode_param("k", True) is True and encode_param("k", "s") == "s"
    for value, expected, kind in (
        (np.bool_(False), False, bool),
        (np.int64(7), 7, int),
        (np.float32(0.5), 0.5, float),
        (3, 3, int),
        (2.5, 2.5, float),
    ):
        got = encode_param("k", value)
        assert got == expected and type(got) is kind
    assert encode_param("lr", InverseDecay(lr=0.5, rate=np.float32(0.25))) == {
        "schedule": "InverseDecay",
        "lr": 0.5,
        "rate": 0.25,
        "power": 1.0,
    }
    assert encode_param("lr", StepDecay())["step_size"] == 100 and encode_param("lr", StepDecay())["lr"] == "auto"
    import pathlib

    assert encode_param("checkpoint", pathlib.PurePosixPath("a/b.ckpt")) == "a/b.ckpt"
    rs = np.random.RandomState(5)
    rs.standard_normal()  # a cached Gaussian: has_gauss = 1
    key, pos, has_gauss, cached = encode_param("random_state", rs)["random_state"]
    _, k2, p2, g2, c2 = rs.get_state(legacy=True)
    assert key == k2.tolist() and (pos, has_gauss, cached) == (p2, g2, c2) and has_gauss == 1
    assert type(key[0]) is int and type(pos) is int and type(cached) is float
    for bad in (math.inf, -math.inf, math.nan, object(), [1], {"a": 1}, np.float64(math.nan)):
        with pytest.raises(ValueError, match="^parameter k=.* cannot be represented in a model file$"):
            encode_param("k", bad)

    class Mine(InverseDecay):  # a subclass is not one of the schedules a file may name
        pass

    with pytest.raises(ValueError, match=r"\(Mine\) cannot be represented"):
        encode_param("k", Mine())


def test_decode_param_builds_only_schedules_and_random_states():
    from gdlearn._fileformat import decode_param
    from gdlearn.optim.schedules import ExponentialDecay

    assert decode_param({"schedule": "ExponentialDecay", "lr": 0.5, "rate": 0.1}) == ExponentialDecay(lr=0.5, rate=0.1)
    for plain in (None, 1, 2.5, "s", True):
        assert decode_param(plain) is plain
    rs = np.random.RandomState(3)
    rs.standard_normal()
    _, key, pos, has_gauss, cached = rs.get_state(legacy=True)
    back = decode_param({"random_state": [key.tolist(), int(pos), int(has_gauss), float(cached)]})
    assert isinstance(back, np.random.RandomState) and back.standard_normal() == rs.standard_normal()
    assert decode_param({"random_state": [key.tolist(), 624, 0, 0.0]}).get_state()[2] == 624
    assert decode_param({"random_state": [key.tolist(), 0, 1, 0.5]}).get_state()[2] == 0
    message = "the RandomState must have 624 key words, a position in [0, 624] and has_gauss 0 or 1"
    for bad in (
        [key.tolist()[:-1], 0, 0, 0.0],
        [key.tolist(), 625, 0, 0.0],
        [key.tolist(), -1, 0, 0.0],
        [key.tolist(), 1.0, 0, 0.0],
        [key.tolist(), 0, 2, 0.0],
    ):
        with pytest.raises(ValueError) as exc:
            decode_param({"random_state": bad})
        assert str(exc.value) == message
    for bad in ({"schedule": "Evil"}, {"random_state": [], "x": 1}, [1, 2], {}):
        with pytest.raises(ValueError, match="^a parameter has an unsupported value "):
            decode_param(bad)


def test_flatten_names_every_leaf_and_types_numbers():
    from gdlearn._fileformat import flatten

    flat = flatten({"a": {"b": 1, "c": {"d": 2.5}}, "e": True, "f": np.arange(2), "g": np.bool_(False)}, "s")
    assert list(flat) == ["s/a/b", "s/a/c/d", "s/e", "s/f", "s/g"]
    assert [flat[k].dtype for k in flat] == [np.int64, np.float64, np.bool_, np.arange(2).dtype, np.bool_]
    assert all(flat[k].shape == () for k in ("s/a/b", "s/a/c/d", "s/e", "s/g"))
    assert flat["s/a/b"] == 1 and flat["s/a/c/d"] == 2.5 and flat["s/e"] and not flat["s/g"]
    assert list(flatten({"a": {"b": np.int32(4)}}, "")) == ["a/b"]
    assert flatten({"a": np.int32(4)}, "")["a"].dtype == np.int64


def test_unflatten_checks_names_dtypes_and_shapes_against_the_template():
    from gdlearn._fileformat import unflatten

    def fail(problem):
        raise ValueError(problem)

    template = {"t": np.zeros((2, 1)), "n": 0, "x": 0.0, "b": False, "rows": np.zeros((0, 3)), "sub": {"k": 1}}
    good = {
        "p/t": np.array([[1.0], [2.0]]),
        "p/n": np.array(4),
        "p/x": np.array(0.5),
        "p/b": np.array(True),
        "p/rows": np.ones((2, 3)),
        "p/sub/k": np.array(7),
        "q/other": np.zeros(1),  # outside the prefix: ignored
    }
    tree = unflatten(template, good, "p", fail)
    assert tree["n"] == 4 and type(tree["n"]) is int and tree["x"] == 0.5 and type(tree["x"]) is float
    assert tree["b"] is True and tree["sub"] == {"k": 7} and type(tree["sub"]["k"]) is int
    assert tree["rows"].shape == (2, 3) and tree["t"].tolist() == [[1.0], [2.0]]
    assert tree["t"] is not good["p/t"]  # a copy
    assert unflatten({"rows": np.zeros((0, 3))}, {"p/rows": np.zeros((0, 3))}, "p", fail)["rows"].shape == (0, 3)
    # the empty prefix: every array counts
    assert unflatten({"a": 0.0}, {"a": np.array(1.5)}, "", fail) == {"a": 1.5}
    with pytest.raises(ValueError, match=r"^the arrays \['a', 'z'\] are not those expected, \['a'\]$"):
        unflatten({"a": 0.0}, {"a": np.array(1.5), "z": np.array(1.0)}, "", fail)

    def refused(name, value):
        with pytest.raises(ValueError) as exc:
            unflatten(template, {**good, name: value}, "p", fail)
        return str(exc.value)

    assert refused("p/t", np.zeros((2, 1), dtype=np.float32)) == (
        "p/t must be float64 of shape (2, 1), found float32 of shape (2, 1)"
    )
    assert refused("p/t", np.zeros((1, 2))) == "p/t must be float64 of shape (2, 1), found float64 of shape (1, 2)"
    assert refused("p/t", np.zeros(2)).startswith("p/t must be float64 of shape (2, 1), found")
    assert refused("p/n", np.array(4.0)) == "p/n must be int64 of shape (), found float64 of shape ()"
    assert refused("p/n", np.array([4])) == "p/n must be int64 of shape (), found int64 of shape (1,)"
    assert refused("p/rows", np.ones((2, 4))).startswith("p/rows must be float64 of shape (0, 3), found")
    assert refused("p/rows", np.ones((3,))).startswith("p/rows must be float64 of shape (0, 3), found")
    assert refused("p/rows", np.ones((1, 3, 1))).startswith("p/rows must be float64 of shape (0, 3), found")
    missing = {k: v for k, v in good.items() if k != "p/x"}
    with pytest.raises(ValueError, match="are not those expected"):
        unflatten(template, missing, "p", fail)
    with pytest.raises(ValueError, match="are not those expected"):
        unflatten(template, {**good, "p/extra": np.zeros(1)}, "p", fail)


def _dead_pid():
    import os

    for pid in range(4_000_000, 4_000_200):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except OSError:
            continue
    pytest.fail("no free process id found above 4,000,000")  # never skip: a skipped test would hide a failure


def test_atomic_write_replaces_keeps_permissions_follows_links_and_clears_dead_writers_temporaries(tmp_path):
    import os
    import stat

    from gdlearn._fileformat import atomic_write

    target = tmp_path / "f.bin"
    old_umask = os.umask(0o022)
    try:
        atomic_write(target, b"one")
        assert target.read_bytes() == b"one" and stat.S_IMODE(target.stat().st_mode) == 0o644
        os.chmod(target, 0o600)
        atomic_write(str(target), b"two")
        assert target.read_bytes() == b"two" and stat.S_IMODE(target.stat().st_mode) == 0o600
    finally:
        os.umask(old_umask)
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    atomic_write(link, b"three")
    assert link.is_symlink() and target.read_bytes() == b"three"

    dead = _dead_pid()  # (a running writer's temporary: see the next tests, with a child process of our own)
    names = {
        f".f.bin.{dead}.abc.tmp": False,  # a killed writer's: removed
        f".f.bin.{os.getpid()}.abc.tmp": True,  # our own
        f".f.bin.{dead}.abc.txt": True,  # not a temporary
        f".g.bin.{dead}.abc.tmp": True,  # another file's
        ".f.bin.x12.abc.tmp": True,
        ".f.bin.99999999999999999999999.abc.tmp": True,  # no such pid can exist
    }
    for name in names:
        (tmp_path / name).write_bytes(b"")
    atomic_write(target, b"four")
    assert {name: (tmp_path / name).exists() for name in names} == names
    assert sorted(p.name for p in tmp_path.iterdir() if p.name not in names) == ["f.bin", "link.bin"]


def test_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    from gdlearn._fileformat import atomic_write

    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["f.bin"]
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "missing" / "f.bin", b"x")


# ===================================================================== checkpoints
def test_the_data_fingerprint_samples_1024_evenly_spaced_rows_and_all_targets_and_weights():
    import scipy.sparse as sp

    from gdlearn.checkpoint import data_fingerprint
    from gdlearn.data.source import ArraySource

    rng = np.random.default_rng(0)
    n = 3000
    X, Y = rng.normal(size=(n, 3)), rng.normal(size=(n, 1))
    base = data_fingerprint(ArraySource(X, Y))
    sampled = {round(k * (n - 1) / 1023) for k in range(1024)}  # 0, 3, 6, 9, ..., 2999
    assert 1 not in sampled and {0, 3, n - 1} <= sampled

    def changed(row, source=lambda X2: ArraySource(X2, Y)):
        X2 = X.copy()
        X2[row, 1] += 1.0
        return data_fingerprint(source(X2)) != base

    assert not changed(1) and not changed(2) and changed(0) and changed(3) and changed(n - 1)
    Y2 = Y.copy()
    Y2[1, 0] += 1.0  # every target counts
    assert data_fingerprint(ArraySource(X, Y2)) != base
    assert data_fingerprint(ArraySource(X, Y, np.ones(n))) != base  # weights, even all ones
    w = np.ones(n)
    w2 = w.copy()
    w2[1] = 2.0
    assert data_fingerprint(ArraySource(X, Y, w)) != data_fingerprint(ArraySource(X, Y, w2))
    assert data_fingerprint(ArraySource(X.astype(np.float32), Y)) != base
    # small data: every row is sampled
    small = X[:1024]
    s = data_fingerprint(ArraySource(small, Y[:1024]))
    for row in (1, 511, 1022):
        other = small.copy()
        other[row, 0] = 9.0
        assert data_fingerprint(ArraySource(other, Y[:1024])) != s
    # sparse X: all row pointers, the sampled rows' indices and values
    S = sp.random(n, 4, density=0.5, format="csr", random_state=1)
    s0 = data_fingerprint(ArraySource(S, Y))
    assert s0 != data_fingerprint(ArraySource(S.toarray(), Y))
    S1 = S.copy()
    S1.data[S1.indptr[1] : S1.indptr[2]] += 1.0  # row 1's values: not sampled
    assert data_fingerprint(ArraySource(S1, Y)) == s0
    S3 = S.copy()
    S3.data[S3.indptr[3] : S3.indptr[4]] += 1.0
    assert data_fingerprint(ArraySource(S3, Y)) != s0
    dense1 = S.toarray()
    dense1[1] = 0.0  # row 1 emptied: the row pointers change
    assert data_fingerprint(ArraySource(sp.csr_matrix(dense1), Y)) != s0
    left, right = sp.csr_matrix([[1.0, 0.0], [0.0, 2.0]]), sp.csr_matrix([[0.0, 1.0], [0.0, 2.0]])
    assert data_fingerprint(ArraySource(left, Y[:2])) != data_fingerprint(ArraySource(right, Y[:2]))  # indices


def test_identity_fields_are_compared_by_dotted_name():
    from gdlearn.checkpoint import _dotted

    assert _dotted({"a": {"b": 1, "c": {"d": None}, "e": {}}, "f": [1]}) == {
        "a.b": 1,
        "a.c.d": None,
        "a.e": {},
        "f": [1],
    }
    assert _dotted({}) == {}


def _checkpointer(
    path, *, lr=0.1, auto_lr=False, every=3, seconds=None, max_iter=7, model=None, record_path=False, lipschitz=2.0
):
    from gdlearn import LinearRegression
    from gdlearn.checkpoint import Checkpointer
    from gdlearn.data.source import ArraySource
    from gdlearn.optim.factory import make_spec
    from gdlearn.training import Session

    spec = make_spec("gd", lr if not auto_lr else "auto", auto_lr=lambda: lr, hyper={})
    session = Session(solver="gd", optimizer=spec.build(), seed=3, spec=spec, auto_lr=auto_lr, lipschitz=lipschitz)
    data = ArraySource(np.arange(12.0).reshape(4, 3), np.arange(4.0).reshape(4, 1))
    model = (
        LinearRegression(solver="gd", learning_rate=lr, max_iter=max_iter, checkpoint=path) if model is None else model
    )
    return Checkpointer(
        path,
        model,
        session,
        data,
        series=("loss", "grad_norm"),
        rules=rules(0.0),
        record_path=record_path,
        every=every,
        seconds=seconds,
        max_iter=max_iter,
    )


def _loop_state(ckpt, iteration, stopped=None):
    from gdlearn.solver import SolverState
    from gdlearn.stopping import Epoch

    theta = np.full((4, 1), float(iteration))
    state = SolverState(theta, ckpt.session.optimizer.init(theta), iteration=iteration, stopped=stopped)
    blank = Epoch(0, theta, 1.0, 1.0, None, {}, None, {})
    state.rules = {r.name: r.init(blank) for r in ckpt.rules}
    state.history = {"loss": [float(k) for k in range(iteration + 1)], "grad_norm": [1.0] * (iteration + 1)}
    return state


def test_the_checkpointer_writes_every_n_iterations_at_max_iter_and_when_final(tmp_path):
    from gdlearn.checkpoint import read_checkpoint

    path = tmp_path / "run.ckpt"
    ckpt = _checkpointer(path, every=3, max_iter=7)
    written = [it for it in range(1, 9) if ckpt(_loop_state(ckpt, it)) is not None]
    assert written == [3, 6, 7, 8] and ckpt.saved_iteration == 8
    assert ckpt(_loop_state(ckpt, 4), True) == str(path) and read_checkpoint(path)[0]["state"]["iteration"] == 4
    assert ckpt(_loop_state(ckpt, 5), False) is None and read_checkpoint(path)[0]["state"]["iteration"] == 4


def test_the_checkpointer_writes_when_its_seconds_have_passed(tmp_path, monkeypatch):
    import gdlearn.checkpoint as module

    now = [100.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: now[0])
    ckpt = _checkpointer(tmp_path / "run.ckpt", every=1000, seconds=5.0, max_iter=1000)
    now[0] = 104.9
    assert ckpt(_loop_state(ckpt, 1)) is None
    now[0] = 105.0  # 5 s exactly since the checkpointer was made
    assert ckpt(_loop_state(ckpt, 2)) is not None
    now[0] = 109.0
    assert ckpt(_loop_state(ckpt, 3)) is None  # 4 s since the last write
    now[0] = 110.0
    assert ckpt(_loop_state(ckpt, 4)) is not None
    assert _checkpointer(tmp_path / "b.ckpt", every=1000, seconds=None, max_iter=1000)(_loop_state(ckpt, 1)) is None


def test_the_checkpoint_holds_the_iteration_it_was_handed_and_its_identity(tmp_path):
    from gdlearn.checkpoint import read_checkpoint

    path = tmp_path / "run.ckpt"
    ckpt = _checkpointer(path, every=100, max_iter=100)
    assert ckpt.interrupted() == (None, None)  # nothing handed yet
    state = _loop_state(ckpt, 2, stopped=None)
    assert ckpt(state) is None
    state.history["loss"].append(99.0)  # the loop goes on after handing it over
    state.iteration = 3
    assert ckpt.interrupted() == (str(path), 2)
    header, arrays = read_checkpoint(path)
    assert header["state"] == {"iteration": 2, "stopped": None}
    assert arrays["state/history/loss"].tolist() == [0.0, 1.0, 2.0]
    assert arrays["session/step/lipschitz"] == 2.0 and arrays["session/step/lr"] == 0.1
    assert header["kind"] == "LinearRegression" and header["seed"] == 3 and header["labels"] is None
    assert header["session"] == {"solver": "gd", "preconditioning": None}
    assert {k: v for k, v in header["data"].items() if k != "fingerprint"} == {
        "n_samples": 4,
        "n_features": 3,
        "n_outputs": 1,
    }
    assert len(header["data"]["fingerprint"]) == 64
    resumable = {"max_iter", "verbose", "checkpoint", "checkpoint_every", "checkpoint_seconds"}
    assert not resumable & set(header["params"]) and {"l2", "solver", "tol"} <= set(header["params"])
    mtime = path.stat().st_mtime_ns
    assert ckpt.interrupted() == (str(path), 2) and path.stat().st_mtime_ns == mtime  # already saved: not rewritten
    # a random_state given as a RandomState is identified by its kind, not its moving state
    from gdlearn import LinearRegression

    model = LinearRegression(random_state=np.random.RandomState(0))
    assert _checkpointer(tmp_path / "r.ckpt", model=model).identity["params"]["random_state"] == "RandomState"


def test_restore_names_every_differing_identity_field_and_adopts_or_refuses_the_saved_step(tmp_path):
    from gdlearn import LinearRegression
    from gdlearn.checkpoint import CheckpointError

    path = tmp_path / "run.ckpt"
    ckpt = _checkpointer(path, every=1, lr=0.1)
    ckpt(_loop_state(ckpt, 2, stopped="why"))
    back = _checkpointer(path, lr=0.1, max_iter=50).restore()  # max_iter may change
    assert back.iteration == 2 and back.stopped == "why" and back.history["loss"] == [0.0, 1.0, 2.0]
    np.testing.assert_array_equal(back.theta, np.full((4, 1), 2.0))
    other = LinearRegression(solver="gd", learning_rate=0.1, max_iter=7, checkpoint=path, l2=0.5, tol=0.25)
    with pytest.raises(CheckpointError) as exc:
        _checkpointer(path, lr=0.1, model=other).restore()
    assert str(exc.value) == (
        f"Cannot resume from checkpoint {str(path)!r}: it was written by another fit "
        "(params.l2: 0.5 here, 0.0 in the checkpoint; params.tol: 0.25 here, 0.0001 in the checkpoint). Resume with "
        "the same estimator, parameters (only max_iter, verbose and checkpoint* may change), X, y, sample_weight and "
        "validation settings, or fit without resume=True to start over"
    )
    # the same fit with another fixed step is refused; an automatic one adopts the saved step
    with pytest.raises(CheckpointError, match=r"its learning rate 0\.1 differs from this fit's learning rate 0\.2$"):
        _checkpointer(path, lr=0.2, model=LinearRegression(solver="gd", learning_rate=0.1, max_iter=7)).restore()
    model = LinearRegression(solver="gd", learning_rate=0.1, max_iter=7, checkpoint=path)
    adopting = _checkpointer(path, lr=0.2, auto_lr=True, model=model)
    adopting.restore()
    assert adopting.session.spec.lr == 0.1 and adopting.session.optimizer.init(np.zeros((4, 1)))["learning_rate"][
        "lr"
    ] == pytest.approx(0.1)


# ===================================================================== the file format: edges
def test_arrays_that_are_not_c_contiguous_are_written_in_c_order(tmp_path):
    from gdlearn import _fileformat

    t = np.arange(6.0).reshape(2, 3).T  # Fortran order, as coef = θ[:-1].T is
    s = np.arange(10.0)[::3]
    _fileformat.write(tmp_path / "f.bin", "fmt", 1, {}, {"t": t, "s": s})
    _, arrays = _read(tmp_path / "f.bin")
    assert arrays["t"].tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]] and arrays["s"].tolist() == [0.0, 3.0, 6.0, 9.0]
    assert _fileformat.digest("", {"t": t}) == _ref_digest("", {"t": np.ascontiguousarray(t)})


def test_atomic_write_uses_a_named_temporary_beside_the_target(tmp_path, monkeypatch):
    import os
    import re

    from gdlearn._fileformat import atomic_write

    replaced, real_replace = [], os.replace

    def replace(src, dst):
        replaced.append((src, dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.chdir(tmp_path.parent)
    (tmp_path / "d").mkdir()
    atomic_write(tmp_path / "d" / "f.bin", b"x")
    [(src, dst)] = replaced
    assert dst == str((tmp_path / "d" / "f.bin").resolve())
    assert os.path.dirname(src) == os.path.dirname(dst)
    assert re.fullmatch(rf"\.f\.bin\.{os.getpid()}\.[0-9a-f]{{12}}\.tmp", os.path.basename(src))


def test_stale_temporaries_are_probed_without_a_signal_and_all_are_examined(tmp_path, monkeypatch):
    import os
    import subprocess
    import sys

    from gdlearn._fileformat import atomic_write

    code = (
        "import signal, time; signal.signal(signal.SIGHUP, signal.SIG_DFL); print('ready', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"  # any signal but 0 would now end it (even under nohup)
        live, dead = f".f.bin.{child.pid}.a.tmp", f".f.bin.{_dead_pid()}.a.tmp"
        huge = ".f.bin.99999999999999999999999.a.tmp"
        for name in (live, dead, huge):
            (tmp_path / name).write_bytes(b"")
        real_listdir = os.listdir
        monkeypatch.setattr(os, "listdir", lambda d: sorted(real_listdir(d), key=lambda n: (n != huge, n != live)))
        atomic_write(tmp_path / "f.bin", b"x")
        assert child.poll() is None  # probed with signal 0: still running
        assert (tmp_path / live).exists() and (tmp_path / huge).exists() and not (tmp_path / dead).exists()
    finally:
        child.kill()
        child.wait()


def test_reading_a_pipe_is_bounded(tmp_path):
    import os
    import threading

    from gdlearn._fileformat import FileError

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    total, sent = 8 * 2**20, [0]

    def feed():
        try:
            with open(fifo, "wb") as f:
                while sent[0] < total:
                    f.write(b"\x00" * 65536)
                    sent[0] += 65536
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    with pytest.raises(FileError) as exc:
        _read(fifo, max_size=1000)
    writer.join(20)
    assert exc.value.problem == "the file is larger than the limit of 1,000 bytes"
    assert sent[0] < total  # the reader stopped after max_size + 1 bytes


def test_eight_bytes_announcing_an_empty_header_are_a_corrupted_container(tmp_path):
    assert _refused(tmp_path, bytes(8)).startswith("it is corrupted or truncated (")
    assert _refused(tmp_path, bytes(7)) == "it is truncated or not a gdlearn file (7 bytes, header of 0 announced)"


def test_a_legacy_file_without_advice_ends_the_sentence(tmp_path):
    import json

    old = json.dumps({"gdlearn_version": "0.1", "format": "m", "format_version": 1}).encode()
    assert _refused(tmp_path, old).endswith("no longer reads. ")


def test_encode_param_keeps_true_and_names_the_parameter_of_a_bad_schedule_field():
    from gdlearn._fileformat import encode_param
    from gdlearn.optim.schedules import Constant

    assert encode_param("k", np.bool_(True)) is True
    with pytest.raises(ValueError) as exc:
        encode_param("learning_rate", Constant(lr=math.inf))
    assert str(exc.value) == "parameter learning_rate=inf (float) cannot be represented in a model file"


def test_unflatten_refuses_another_first_axis_where_the_template_does_not_grow():
    from gdlearn._fileformat import unflatten

    def fail(problem):
        raise ValueError(problem)

    with pytest.raises(ValueError, match=r"^t must be float64 of shape \(2, 1\), found float64 of shape \(3, 1\)$"):
        unflatten({"t": np.zeros((2, 1))}, {"t": np.zeros((3, 1))}, "", fail)


def test_the_data_fingerprint_of_a_tiny_data_set_is_the_documented_sha256():
    from gdlearn.checkpoint import data_fingerprint
    from gdlearn.data.source import ArraySource

    X, Y, w = np.array([[1.0], [2.0]]), np.array([[3.0], [4.0]]), np.array([1.0, 0.5])
    shape = np.zeros((0, 2, 1))  # an empty array of X's dtype and shape; the sampled rows are both rows
    assert data_fingerprint(ArraySource(X, Y)) == _ref_digest("gdlearn-data", {"Y": Y, "rows": X, "x": shape})
    expected = _ref_digest("gdlearn-data", {"Y": Y, "rows": X, "x": shape, "weight": w})
    assert data_fingerprint(ArraySource(X, Y, w)) == expected


def test_a_checkpointer_for_a_missing_directory_says_which(tmp_path):
    import errno

    with pytest.raises(FileNotFoundError) as exc:
        _checkpointer(tmp_path / "no" / "run.ckpt")
    err = exc.value
    assert err.errno == errno.ENOENT and err.strerror == "the directory of the checkpoint file does not exist"
    assert err.filename == str(tmp_path / "no")


def test_a_classifiers_labels_are_part_of_its_identity_and_parameters_are_named(tmp_path):
    from gdlearn import LogisticRegression

    model = LogisticRegression(solver="gd", max_iter=7)
    model.classes_ = np.array([0, 1], dtype=np.int64)
    assert _checkpointer(tmp_path / "a.ckpt", model=model).identity["labels"] == "('<i8', [0, 1])"
    assert _checkpointer(tmp_path / "b.ckpt", model=LogisticRegression()).identity["labels"] is None  # not fitted yet
    from gdlearn import LinearRegression

    regression = LinearRegression(max_iter=7)
    regression.classes_ = np.array([0, 1])  # not a classifier: no labels
    assert _checkpointer(tmp_path / "c.ckpt", model=regression).identity["labels"] is None
    with pytest.raises(ValueError, match="^parameter tol=inf "):
        _checkpointer(tmp_path / "d.ckpt", model=LinearRegression(tol=math.inf))


def test_a_recorded_path_is_checkpointed_and_restored(tmp_path):
    from gdlearn.checkpoint import read_checkpoint

    path = tmp_path / "run.ckpt"
    ckpt = _checkpointer(path, every=1, record_path=True)
    state = _loop_state(ckpt, 2)
    state.path = [np.full((4, 1), float(k)) for k in range(3)]
    ckpt(state)
    state.path.append(np.zeros((4, 1)))  # handed over at 3 entries
    arrays = read_checkpoint(path)[1]
    assert arrays["state/path"].shape == (3, 4, 1) and arrays["state/path"][:, 0, 0].tolist() == [0.0, 1.0, 2.0]
    back = _checkpointer(path, record_path=True).restore()
    assert [float(p[0, 0]) for p in back.path] == [0.0, 1.0, 2.0]


def test_read_checkpoint_says_what_a_file_is_when_it_is_no_checkpoint(tmp_path):
    import errno
    import json

    from gdlearn import _fileformat
    from gdlearn.checkpoint import CheckpointError, read_checkpoint

    missing = tmp_path / "missing.ckpt"
    with pytest.raises(FileNotFoundError) as exc:
        read_checkpoint(missing)
    assert exc.value.errno == errno.ENOENT and exc.value.filename == str(missing)
    assert exc.value.strerror == (
        "resume=True, but the checkpoint file does not exist. Fit without resume=True to start a new run; "
        "it writes the checkpoint as it goes"
    )

    def problem(path):
        with pytest.raises(CheckpointError) as exc:
            read_checkpoint(path)
        assert str(exc.value).startswith(f"Cannot resume from checkpoint {str(path)!r}: ")
        return exc.value.problem

    _fileformat.write(model := tmp_path / "model.gdlearn", "gdlearn-model", 2, {}, {})
    assert problem(model) == "it is a saved model, not a checkpoint; load it with gdlearn.load"
    old = tmp_path / "old.ckpt"
    old.write_text(json.dumps({"gdlearn_version": "0.1.0", "format": "gdlearn-checkpoint", "format_version": 1}))
    assert problem(old).endswith("no longer reads. Start the fit again without resume=True.")
    _fileformat.write(bare := tmp_path / "bare.ckpt", "gdlearn-checkpoint", 3, {"kind": "LinearRegression"}, {})
    assert problem(bare).startswith("the header must have the fields ['data', 'format', ")
    _fileformat.write(newer := tmp_path / "newer.ckpt", "gdlearn-checkpoint", 4, {}, {})
    assert "reads versions up to 3" in problem(newer)


def test_restore_checks_the_iteration_the_counters_and_the_path(tmp_path):
    from gdlearn.checkpoint import CheckpointError

    path = tmp_path / "run.ckpt"
    ckpt = _checkpointer(path, every=1)
    ckpt(_loop_state(ckpt, 0))  # iteration 0 is a state like any other
    assert _checkpointer(path).restore().iteration == 0
    state = _loop_state(ckpt, 2)
    state.rules["divergence"]["rising"] = 3  # three rises in two iterations: forged
    ckpt(state)
    with pytest.raises(CheckpointError) as exc:
        _checkpointer(path).restore()
    assert exc.value.problem == "state/iteration (2) and the rules' counters must satisfy 0 <= counter <= iteration"
    state.rules["divergence"]["rising"] = 2
    ckpt(state)
    assert _checkpointer(path).restore().rules["divergence"] == {"initial_loss": 1.0, "rising": 2}
    with pytest.raises(CheckpointError) as exc:
        _checkpointer(path, record_path=True).restore()
    assert exc.value.problem == "state/path must be present exactly when record_path=True"


def test_restore_adopts_the_saved_lipschitz_constant_and_checks_the_steps(tmp_path):
    from gdlearn.checkpoint import CheckpointError

    path = tmp_path / "run.ckpt"
    ckpt = _checkpointer(path, every=1, lipschitz=2.0)
    ckpt(_loop_state(ckpt, 1))
    here = _checkpointer(path, lipschitz=5.0)  # this machine computed another L
    here.restore()
    assert here.session.lipschitz == 2.0 and here.saved_iteration == 1
    with pytest.raises(CheckpointError, match="are not those expected"):  # L saved, none here: another fit
        _checkpointer(path, lipschitz=None).restore()
    for bad in (0.0, -1.0, math.inf):
        forged = _checkpointer(path, every=1, lipschitz=bad)
        forged(_loop_state(forged, 1))
        with pytest.raises(CheckpointError) as exc:
            _checkpointer(path, lipschitz=2.0).restore()
        assert exc.value.problem.startswith("session/step must hold positive finite numbers, found {'lipschitz': ")


def test_restore_refuses_a_short_path_and_a_non_finite_theta(tmp_path):
    from gdlearn.checkpoint import CheckpointError

    path = tmp_path / "run.ckpt"
    ckpt = _checkpointer(path, every=1, record_path=True)
    state = _loop_state(ckpt, 2)
    state.path = [np.zeros((4, 1)), np.ones((4, 1))]  # two entries for three iterates
    ckpt(state)
    with pytest.raises(CheckpointError) as exc:
        _checkpointer(path, record_path=True).restore()
    assert exc.value.problem == (
        "the history and path must have iteration + 1 = 3 entries, found {'grad_norm': 3, 'loss': 3, 'path': 2}"
    )
    plain = _checkpointer(path, every=1)
    state = _loop_state(plain, 1)
    state.theta = np.array([[1.0], [np.nan], [0.0], [0.0]])
    plain(state)
    with pytest.raises(CheckpointError) as exc:
        _checkpointer(path).restore()
    assert exc.value.problem == "state/theta contains NaN or infinity"


# ===================================================================== training: ranges, stochastic steps (fifth run)
def test_representable_refuses_coefficients_or_gradients_beyond_1e305_with_its_message():
    """Kills: the live (unfrozen) columns selection (``None``, ``frozen``), the signs of log τ ∓ log σ, ``>=`` at
    exactly 10³⁰⁵, ``abs`` of the gradient's exponent, and every word and number of the message."""
    from gdlearn.preconditioning import Coordinates
    from gdlearn.training import _check_representable

    def coords(tau, scale, frozen=None):
        scale = np.asarray(scale, float)
        return Coordinates(np.zeros(len(scale)), 1 / scale, scale, target_scale=tau, scale=scale, frozen=frozen)

    tail = ". Rescale X or y (e.g. by powers of ten) and convert the coefficients back."
    with pytest.raises(ValueError) as exc:
        _check_representable(coords(1e150, [1e-160, 1.0]))
    assert str(exc.value) == (
        "This problem's coefficients (about the spread of y over the spread of a feature) cannot be represented in "
        "double precision: y spreads over 1e+150 and the features over 1e-160 to 1" + tail
    )
    for tau, scale in [(1e150, [1e160, 1.0]), (1e-150, [1e-160, 1.0])]:
        with pytest.raises(ValueError) as exc:
            _check_representable(coords(tau, scale))
        assert str(exc.value).startswith(
            "This problem's gradients (about the spread of y times the spread of a feature) cannot be represented in "
            f"double precision: y spreads over {tau:.3g} and the features over {min(scale):.3g} to {max(scale):.3g}"
        )
    _check_representable(coords(1e150, [1e-155, 1.0]))  # exactly 10³⁰⁵ either way: still representable
    _check_representable(coords(1e150, [1e155, 1.0]))
    _check_representable(coords(1.0, [1.0, 1e-306], frozen=[False, True]))  # a frozen column does not count


def test_user_range_refuses_x_or_x_times_y_beyond_1e150_with_its_message():
    """Kills: ``>=`` at exactly 1e150, the |y| floor of 1 (``2.0``), the empty maxima (``initial`` 1.0 or none),
    the reported number (|x| or |x|·|y|, not |x|/|y|) and the message's words."""
    from gdlearn.training import _check_user_range

    tail = (
        "; without preconditioning (precondition=False, or a fixed learning_rate with precondition='auto') squares "
        "of quantities beyond 1e150 overflow double precision. Set precondition=True, or rescale X or y (e.g. by a "
        "power of ten) and convert the coefficients back."
    )
    with pytest.raises(ValueError) as exc:
        _check_user_range(np.array([1.0, 2e150]), np.array([3.0]))
    assert str(exc.value) == "X reaches 2e+150" + tail
    with pytest.raises(ValueError) as exc:
        _check_user_range(np.array([1e100]), np.array([0.5, 4e50]))
    assert str(exc.value) == "|x|·|y| (the gradient's size) reaches 4e+150" + tail
    _check_user_range(np.array([1e150]), np.array([0.5]))  # |y| below 1 counts as 1: exactly 1e150 is allowed
    _check_user_range(np.array([1e75]), np.array([1e75]))
    _check_user_range(np.zeros(0), np.array([2e150]))  # no features: nothing to square
    _check_user_range(np.array([1e149]), np.zeros(0))


@pytest.mark.parametrize(
    "name, hyper, damping", [("gd", {}, 1.0), ("momentum", {}, 0.1), ("nesterov", {"momentum": 0.5}, 0.5)]
)
def test_the_stochastic_step_is_one_minus_beta_over_the_minibatch_smoothness(name, hyper, damping):
    """Kills: the damping (1 − β) of momentum and Nesterov only (names, the default β = 0.9, ``1 + β``), the rows
    read from the session, and 1/L_B with its fallback 1.0 when L_B ≤ 0. L_B = n(B − 1)/(B(n − 1))·L +
    (n − B)/(B(n − 1))·L_max (Gower et al.), written out."""
    from types import SimpleNamespace

    from gdlearn.training import Config, _stochastic_step

    n, B, L, L_max = 10, 4, 2.0, 8.0
    L_B = n * (B - 1) / (B * (n - 1)) * L + (n - B) / (B * (n - 1)) * L_max
    session = SimpleNamespace(lipschitz=L, extra={"rows": n, "row_lipschitz": L_max})
    got = _stochastic_step(session, Config(batch_size=B, hyper=hyper), name)
    assert got == pytest.approx(damping / L_B, rel=1e-15)
    assert _stochastic_step(session, Config(batch_size=None, hyper=hyper), name) == pytest.approx(
        damping / L, rel=1e-15
    )
    flat = SimpleNamespace(lipschitz=0.0, extra={"rows": n, "row_lipschitz": 0.0})
    assert _stochastic_step(flat, Config(batch_size=B, hyper=hyper), name) == 1.0
    tiny = SimpleNamespace(lipschitz=0.5, extra={"rows": n, "row_lipschitz": 0.5})  # L_B = ½: not the fallback
    assert _stochastic_step(tiny, Config(batch_size=B, hyper=hyper), name) == pytest.approx(2 * damping, rel=1e-15)


def test_adapt_step_shrinks_the_automatic_step_for_larger_rows_only():
    """Kills: the guards of ``adapt_step`` (a user's step, no mini-batch bound, no schedule), ``>=`` for ``>``,
    ``<=`` for ``<``, and every argument and assignment: a chunk with a larger row makes L_max its squared norm
    (squared loss, no intercept, user coordinates) and the spec and optimizer take momentum's new (1 − β)/L_B."""
    from gdlearn.data.source import ArraySource
    from gdlearn.losses import HalfSquaredError
    from gdlearn.objective import Objective
    from gdlearn.optim import OptimizerSpec
    from gdlearn.optim.schedules import Constant
    from gdlearn.training import Config, Session, adapt_step

    n, B, L = 10, 4, 2.0
    cfg = Config(batch_size=B)
    objective = Objective(HalfSquaredError(), fit_intercept=False, penalty_norm=float(n))

    def session(row, lr=1.0, auto=True):
        spec = OptimizerSpec("momentum", Constant(lr))
        s = Session(solver="momentum", optimizer=None, seed=0, spec=spec, auto_lr=auto)
        s.lipschitz, s.extra = L, {"rows": n, "row_lipschitz": row}
        s.optimizer = s.spec.build()
        return s

    def L_B(L_max):
        return n * (B - 1) / (B * (n - 1)) * L + (n - B) / (B * (n - 1)) * L_max

    chunk = ArraySource(np.array([[3.0, 4.0], [1.0, 0.0]]), np.zeros((2, 1)))  # largest ‖x‖² = 25
    s = session(row=5.0)
    adapt_step(s, objective, chunk, cfg)
    assert s.extra["row_lipschitz"] == 25.0 and s.spec.lr == pytest.approx(0.1 / L_B(25.0), rel=1e-15)  # (1 − β)/L_B
    assert s.optimizer.initial_lr == s.spec.lr
    s = session(row=25.0)  # not larger: nothing changes
    adapt_step(s, objective, chunk, cfg)
    assert s.extra["row_lipschitz"] == 25.0 and s.spec.lr == 1.0
    s = session(row=5.0, lr=1e-3)  # the new step is not smaller: the bound is kept, the step too
    adapt_step(s, objective, chunk, cfg)
    assert s.extra["row_lipschitz"] == 25.0 and s.spec.lr == 1e-3
    s = session(row=5.0, lr=(1.0 - 0.9) / L_B(25.0))  # exactly equal: kept
    spec = s.spec
    adapt_step(s, objective, chunk, cfg)
    assert s.spec is spec
    for s in (session(row=5.0, auto=False), Session(solver="gd", optimizer=None, seed=0, auto_lr=True)):
        before = (dict(s.extra), s.spec)
        adapt_step(s, objective, chunk, cfg)
        assert (s.extra, s.spec) == before
    s = session(row=5.0)
    s.spec = OptimizerSpec("lbfgs")  # no schedule: no step to adapt
    adapt_step(s, objective, chunk, cfg)
    assert s.extra["row_lipschitz"] == 5.0


def test_a_snapshot_shares_no_mutable_part_with_the_state_it_copies():
    """The loop goes on from a snapshot; the state it came from (a model's, kept if the fit fails) stays as it was."""
    import warnings

    from gdlearn import LogisticRegression

    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(120, 3)), rng.integers(0, 2, 120)
    model = LogisticRegression(solver="adam", batch_size=16, early_stopping=True, max_iter=6, record_path=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        state = model.fit(X, y)._session.state
    copy = state.snapshot()
    assert np.array_equal(copy.theta, state.theta) and copy.iteration == state.iteration
    assert copy.history == state.history and copy.rules.keys() == state.rules.keys()
    assert all(a is b for a, b in zip(copy.path, state.path))  # entries never changed in place: shared
    before = {name: list(values) for name, values in state.history.items()}, len(state.path)
    copy.theta += 1.0
    for values in copy.history.values():
        values.append(0.5)
    copy.path.append(copy.theta)
    copy.rules["early_stopping"]["best_theta"] += 1.0
    copy.rules["plateau"]["count"] = -1
    for slot in copy.opt_state["adam"].values():
        if isinstance(slot, np.ndarray):
            slot += 1.0
    fresh = model._session.state
    assert fresh is state and ({k: list(v) for k, v in state.history.items()}, len(state.path)) == before
    assert not np.array_equal(copy.theta, state.theta) and state.rules["plateau"]["count"] != -1
    assert not np.array_equal(copy.rules["early_stopping"]["best_theta"], state.rules["early_stopping"]["best_theta"])
    for name, slot in copy.opt_state["adam"].items():
        if isinstance(slot, np.ndarray):
            assert not np.array_equal(slot, state.opt_state["adam"][name]), name
