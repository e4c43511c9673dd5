"""Tests that can fail: the optimizers (``gdlearn.optim``) step by step, on objectives written out by hand.

Written against mutation testing (issue "Tests that can fail"): every expected iterate, step size and state here
is an update equation or a line search written out in the test, on a quadratic (plus an L1 term) whose value and
gradient the test computes itself; never an optimizer's output checked against itself.
"""

import math

import numpy as np
import pytest

from gdlearn.optim import FISTA, LBFGS, Newton, OptimizerSpec, first_order, transforms
from gdlearn.optim.averaging import Averaged
from gdlearn.optim.backtracking import Backtracking
from gdlearn.optim.factory import _user_fixed_step, check_compatible, make_spec, resolve_solver
from gdlearn.optim.linesearch import armijo
from gdlearn.optim.newton import HessianSolve
from gdlearn.optim.schedules import Constant, ExponentialDecay, InverseDecay, StepDecay
from gdlearn.optim.transforms import ScaleByLearningRate


class Toy:
    """J(θ) = ½ θᵀAθ − bᵀθ + C, plus λ‖θ‖₁ as the non-smooth part: the objective protocol the optimizers use.

    Counts its evaluations; ``prox`` is the soft-threshold at λ·step (step a number or one per coordinate).
    """

    def __init__(self, A, b=None, C=0.0, l1=0.0):
        self.A = np.atleast_2d(np.asarray(A, float))
        n = self.A.shape[0]
        self.b = np.zeros((n, 1)) if b is None else np.asarray(b, float).reshape(n, 1)
        self.C, self.l1, self.calls = float(C), float(l1), 0

    @property
    def has_l1(self):
        return self.l1 > 0

    def value_and_grad(self, theta):
        self.calls += 1
        return (0.5 * theta.T @ self.A @ theta - self.b.T @ theta).item() + self.C, self.A @ theta - self.b

    def value_grad_hessian(self, theta):
        return (*self.value_and_grad(theta), self.A)

    def prox(self, theta, step):
        thr = self.l1 * np.asarray(step, float)
        return np.sign(theta) * np.maximum(np.abs(theta) - thr, 0.0)

    def nonsmooth_value(self, theta):
        return self.l1 * float(np.abs(theta).sum())


def col(*values):
    return np.array(values, float).reshape(-1, 1)


# ===================================================================== backtracking
def armijo_trials(J, grad, theta, lr, *, shrink=0.5, slack=0.0, prox=lambda v, a: v, tries=60):
    """Beck & Teboulle's sufficient decrease, written out: the trial steps tried and the one accepted (or None)."""
    tried = []
    for _ in range(tries):
        tried.append(lr)
        new = prox(theta - lr * grad(theta), lr)
        d = new - theta
        if (
            J(new)
            <= J(theta) + float(grad(theta).ravel() @ d.ravel()) + float(d.ravel() @ d.ravel()) / (2 * lr) + slack
        ):
            return tried, new
        lr *= shrink
    return tried, None


def test_backtracking_doubles_the_last_step_then_halves_it_until_sufficient_decrease():
    """Kills: the defaults (α₀ = 1, shrink ½, grow 2), α₀/grow at init, the signs and the ½α of the condition,
    ``d = new − θ``, ``lr = shrink`` for ``lr *= shrink``, and every value and key of the state."""
    A = np.diag([4.0, 1.0])
    toy = Toy(A)

    def J(t):
        return 0.5 * (t.T @ A @ t).item()

    def grad(t):
        return A @ t

    theta, value, g = col(1.0, 1.0), *toy.value_and_grad(col(1.0, 1.0))
    opt = Backtracking()
    state = opt.init(theta)
    assert state == {"lr": 0.5, "count": 0, "stalled": 0}
    lr, trials = 0.5, []
    for k in range(1, 4):
        tried, want = armijo_trials(J, grad, theta, 2 * lr)
        trials.append(tried)
        theta, value, g, state = opt.step(toy, theta, value, g, state)
        np.testing.assert_array_equal(theta, want)
        assert value == J(want) and np.array_equal(g, grad(want))
        lr = tried[-1]
        assert state == {"lr": lr, "count": k, "stalled": 0} and opt.current_lr(state) == lr
    # gᵀAg/‖g‖² decides: 65/17 at (1, 1) (α = ¼ after 1 and ½), then 1 along the second axis (α = ½, then 1)
    assert trials == [[1.0, 0.5, 0.25], [0.5], [1.0]]


def test_backtracking_accepts_within_a_relative_slack_of_1e_12():
    """Kills: the slack's sign, ``1e-12 / |J|`` and ``1.000000000001·|J|`` for ``1e-12·|J|``, ``<`` for ``<=``.

    On J = ½aθ² + C the first trial α = 1 overshoots the condition by ½a²θ²·α(αa − 1), written out here."""
    C = 1e3
    a = 1.0 + 2.0**-30  # excess ½a(a − 1) ≈ 4.7e-10: below the slack 1e-12·J ≈ 1e-9, above 1e-12/J
    toy = Toy([[a]], C=C)
    theta = col(1.0)
    value, g = toy.value_and_grad(theta)
    excess = 0.5 * a * a * (a - 1.0)
    assert 0 < excess < 1e-12 * value and excess > 1e-12 / value
    new, *_, state = Backtracking().step(toy, theta, value, g, Backtracking().init(theta))
    assert state["lr"] == 1.0 and new[0, 0] == 1.0 - a  # α = 1 accepted
    # a = 4: an excess of 24 at α = 1 and 2 at α = ½, far beyond the slack (1e-9): α = ¼
    toy = Toy([[4.0]], C=C)
    value, g = toy.value_and_grad(theta)
    new, *_, state = Backtracking().step(toy, theta, value, g, Backtracking().init(theta))
    assert state["lr"] == 0.25 and new[0, 0] == 0.0
    # at an optimum with J = 0 the slack is 0 and the condition holds with equality: accepted, not stalled
    toy = Toy(np.eye(2))
    zero = np.zeros((2, 1))
    new, v, _, state = Backtracking().step(toy, zero, 0.0, np.zeros((2, 1)), {"lr": 0.5, "count": 3, "stalled": 0})
    assert state == {"lr": 1.0, "count": 4, "stalled": 0} and v == 0.0 and toy.calls == 1


def test_backtracking_takes_the_proximal_step_at_the_trial_alpha():
    """Kills: ``prox(·, None)`` for ``prox(·, α)``; with L1 the condition compares the smooth part at prox(θ − αg)."""
    lam = 0.3
    toy = Toy(np.diag([2.0, 1.0]), b=[1.0, 0.1], l1=lam)
    theta = col(0.0, 0.0)
    value, g = toy.value_and_grad(theta)

    def J(t):
        return (0.5 * t.T @ toy.A @ t - toy.b.T @ t).item()

    def soft(v, a):
        return np.sign(v) * np.maximum(np.abs(v) - lam * a, 0.0)

    tried, want = armijo_trials(J, lambda t: toy.A @ t - toy.b, theta, 1.0, prox=soft)
    new, *_, state = Backtracking().step(toy, theta, value, g, Backtracking().init(theta))
    np.testing.assert_array_equal(new, want)
    assert state["lr"] == tried[-1] == 0.5 and new[1, 0] == 0.0  # the second coordinate is thresholded to 0
    assert new[0, 0] == pytest.approx(0.5 * (1.0 - lam), rel=1e-15)


def test_backtracking_stalls_after_sixty_trials_and_keeps_its_step():
    """Kills: 61 for ``max_backtracks=60`` (the number of evaluations is counted), the stalled state's values."""

    class Nowhere(Toy):
        def value_and_grad(self, theta):
            self.calls += 1
            return math.inf, np.full_like(theta, math.inf)

    toy = Nowhere(np.eye(1))
    theta, g = col(1.0), col(1.0)
    new, v, g_new, state = Backtracking().step(toy, theta, 0.5, g, {"lr": 0.125, "count": 7, "stalled": 0})
    assert toy.calls == 60 and new is theta and v == 0.5 and g_new is g
    assert state == {"lr": 0.125, "count": 8, "stalled": 1}


# ===================================================================== schedules
def test_schedule_validation_names_each_rate_and_its_bounds():
    """Kills: the renamed keys of ``_rates`` (the field named in the message); StepDecay's bounds step_size ≥ 1
    and 0 < factor ≤ 1 at their edges."""
    with pytest.raises(ValueError) as exc:
        ExponentialDecay(0.1, rate=-1.0).validate()
    assert str(exc.value) == "ExponentialDecay: rate must be a non-negative number, got -1.0."
    with pytest.raises(ValueError) as exc:
        StepDecay(0.1, factor=-0.5).validate()
    assert str(exc.value) == "StepDecay: factor must be a non-negative number, got -0.5."
    with pytest.raises(ValueError) as exc:
        InverseDecay(0.1, power=math.nan).validate()
    assert str(exc.value) == "InverseDecay: power must be a non-negative number, got nan."
    StepDecay(0.1, factor=1.0, step_size=1).validate()  # both edges are allowed
    StepDecay(0.1, factor=0.5, step_size=1).validate()
    with pytest.raises(ValueError, match=r"^StepDecay: factor must be in \(0, 1\]"):
        StepDecay(0.1, factor=0.0).validate()
    with pytest.raises(ValueError, match=r"^StepDecay: step_size must be an integer >= 1, got 0\.$"):
        StepDecay(0.1, step_size=0).validate()
    Constant(0.1).validate()


def test_schedule_edges_lr_zero_overflow_and_power():
    """Kills: ``lr >= 0`` for ``lr > 0``, the class name in the message, ``resolve`` replacing a numeric lr,
    ``* power`` for ``** power``, and the overflow fallback 1.0 for 0.0."""
    with pytest.raises(ValueError) as exc:
        Constant(0.0).validate()
    assert str(exc.value) == "Constant: lr must be a positive number or 'auto', got 0.0."
    assert Constant(0.3).resolve(0.7) == Constant(0.3) and Constant("auto").resolve(0.7) == Constant(0.7)
    assert InverseDecay(1.0, rate=1.0, power=2.0)(1) == 0.25  # 1/(1 + 1)², not 2/(1 + 1)
    assert InverseDecay(1.0, rate=1e300, power=2.0)(10) == 0.0  # (1e301)² overflows: α is 0 to within float64


# ===================================================================== the gradient-descent family at its defaults
def hand_rule(rule, alpha, grads, *, beta=0.9, b1=0.9, b2=0.999, eps=1e-8, rho=0.9, ada_eps=1e-10):
    """The update u of each step for the gradients ``grads``, as the module docstring writes the rules."""
    v = s = m = 0.0
    out = []
    for t, g in enumerate(grads, start=1):
        if rule == "gd":
            u = -alpha * g
        elif rule == "momentum":
            v = beta * v + g
            u = -alpha * v
        elif rule == "nesterov":
            v = beta * v + g
            u = -alpha * (g + beta * v)
        elif rule == "adagrad":
            s = s + g * g
            u = -alpha * g / (np.sqrt(s) + ada_eps)
        elif rule == "rmsprop":
            s = rho * s + (1 - rho) * g * g
            u = -alpha * g / (np.sqrt(s) + eps)
        else:
            m = b1 * m + (1 - b1) * g
            s = b2 * s + (1 - b2) * g * g
            u = -alpha * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
        out.append(u)
    return out


RULES = ["gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]


@pytest.mark.parametrize("rule", RULES)
def test_each_rule_at_its_default_hyperparameters_and_its_name(rule):
    """Kills: the default β = 0.9, ε = 1e-10 (AdaGrad) and 1e-8, γ = 0.9, β₁ = 0.9, β₂ = 0.999 of the factory
    functions, and their names (``None``, ``XX…XX``, upper case) as ``repr`` shows them."""

    opt = getattr(first_order, rule)(Constant(0.05))
    assert opt.name == rule and repr(opt) == f"<optimizer {rule}>"
    grads = [col(1e-6, -2.0), col(3e-7, 0.5), col(-1e-6, 0.25), col(2e-6, -1.0)]  # tiny entries: ε shows
    state = opt.init(np.zeros((2, 1)))
    theta = np.zeros((2, 1))
    for g, u in zip(grads, hand_rule(rule, 0.05, grads)):
        new, *_, state = opt.step(Toy(np.eye(2)), theta, 0.0, g, state, evaluate=False)
        np.testing.assert_allclose(new - theta, u, rtol=1e-12, atol=0)
        theta = new


@pytest.mark.parametrize(
    "block, rule, keys",
    [
        ("Trace", "momentum", {"v"}),
        ("ScaleByAdagrad", "adagrad", {"sum_sq"}),
        ("ScaleByRms", "rmsprop", {"nu"}),
        ("ScaleByAdam", "adam", {"mu", "nu", "count"}),
    ],
)
def test_each_block_at_its_own_defaults_starts_from_zeros_like_theta(block, rule, keys):
    """Kills: the blocks' own defaults (β, ε, γ, β₁, β₂ of ``Trace()``, ``ScaleByAdam()``, ...) and
    ``zeros_like(None)`` for ``zeros_like(θ)`` in ``init``."""

    b = getattr(transforms, block)()
    theta = np.ones((3, 2))
    state = b.init(theta)
    assert set(state) == keys
    for k in keys - {"count"}:
        assert state[k].shape == (3, 2) and state[k].dtype == np.float64 and not state[k].any()
    grads = [np.full((3, 2), 1e-6), np.full((3, 2), -2.0), np.full((3, 2), 0.5)]
    for g, u in zip(grads, hand_rule(rule, 1.0, grads)):
        d, state = b.update(g, state)
        np.testing.assert_allclose(-d, u, rtol=1e-12, atol=0)


# ===================================================================== Armijo's line search (L-BFGS, Newton)
def test_armijo_halves_from_one_with_its_default_constant():
    """Kills: c₁ = 1.0001 for 1e-4 (α = 1 fails any c₁ > ½ on an exact quadratic step), ``c1 / lr``,
    ``value − c1·lr·slope``.

    J = ½·4θ² from θ = 1 along d = −∇J = −4 (slope −16): J(1 + αd) = 2(1 − 4α)², written out per α."""

    def J(t):
        return (2.0 * float(t.item()) ** 2,)

    one = col(1.0)
    assert armijo(J, one, col(-0.25), 2.0, -4.0)[0] == 1.0  # the exact minimiser: 0 ≤ 2 − 1e-4·4
    lr, new, out = armijo(J, one, col(-4.0), 2.0, -16.0, c1=0.4)
    # α = 1: 18 > 2 − 6.4; α = ½: 2 > 2 − 3.2; α = ¼: 0 ≤ 2 − 1.6
    assert lr == 0.25 and new[0, 0] == 0.0 and out == (0.0,)


def test_armijo_slack_is_1e_12_of_the_loss_and_the_test_is_inclusive():
    """Kills: the slack's sign, ``1e-12 / |J|`` for ``1e-12·|J|``, ``<`` for ``<=`` (J = 0: no slack, a tie)."""

    one, d = col(1.0), col(-1.0)
    bound = 1e3 + 1e-4 * -1.0
    assert armijo(lambda t: (bound + 0.5e-9,), one, d, 1e3, -1.0)[0] == 1.0  # within 1e-12·1e3 above the bound
    assert armijo(lambda t: (bound + 2e-9,), one, d, 1e3, -1.0)[0] == 0.5  # beyond it; at α = ½ the bound is higher
    assert armijo(lambda t: (-1e-4,), one, d, 0.0, -1.0)[0] == 1.0  # exactly on the bound, with J = 0


@pytest.mark.parametrize(
    "make, tries",
    [(LBFGS, 40), (Newton, 40), (lambda: LBFGS(max_backtracks=3), 3), (lambda: Newton(max_backtracks=3), 3)],
    ids=["lbfgs", "newton", "lbfgs-3", "newton-3"],
)
def test_line_searches_try_forty_halvings_then_stall(make, tries):
    """Kills: 41 for the default ``max_backtracks`` of armijo, L-BFGS and Newton, and L-BFGS's and Newton's
    ``max_backtracks`` not handed to the line search."""

    trials = []

    def nowhere(t):
        trials.append(t)
        return (math.inf, None, None)

    assert armijo(nowhere, col(1.0), col(-1.0), 1.0, -1.0) is None and len(trials) == 40

    class Flat(Toy):
        def value_and_grad(self, theta):
            self.calls += 1
            return math.inf, np.full_like(theta, math.inf)

        def value_grad_hessian(self, theta):
            return (*self.value_and_grad(theta), self.A)

    opt = make()
    toy = Flat(np.eye(2))
    theta, g = col(1.0, -2.0), col(1.0, -2.0)
    state = opt.init(theta)
    new, v, _, state = opt.step(toy, theta, 2.5, g, state)
    hessian_pass = 1 if isinstance(opt, Newton) else 0  # Newton first evaluates the Hessian at θ
    assert toy.calls == tries + hessian_pass and new is theta and v == 2.5 and state["stalled"] == 1


# ===================================================================== Newton's method
def test_newton_state_and_one_hessian_pass_per_step():
    """Kills: the initial state's values and keys, the count and keys of a step's state, and every mutant of the
    Hessian cache (``key = None``, ``_cache[1]``, ``==``, ``_cache = None``): each costs one more Hessian pass.

    On J = ½θᵀAθ − bᵀθ Newton's first step lands on A⁻¹b; the next step starts from the Hessian that the line
    search already evaluated there."""

    A, b = np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([1.0, -1.0])
    toy = Toy(A, b)
    theta = col(1.0, -2.0)
    opt = Newton()
    state = opt.init(theta)
    assert state == {"count": 0, "lr": 1.0, "stalled": 0, "residual_norm": -1.0}
    value, g = toy.value_and_grad(theta)
    toy.calls = 0
    for k in (1, 2, 3):
        theta, value, g, state = opt.step(toy, theta, value, g, state)
        assert toy.calls == k + 1  # one pass for the first Hessian, then one per accepted trial point
        assert set(state) == {"count", "lr", "stalled", "residual_norm"}
        assert state["count"] == k and state["stalled"] == 0 and state["lr"] == 1.0
    np.testing.assert_allclose(theta, np.linalg.solve(A, b).reshape(-1, 1), rtol=1e-14)


def test_newton_at_an_exact_optimum_steps_along_the_zero_gradient():
    """Kills: ``d = None``, ``slope = None`` and ``-float(None)`` in the fallback taken when the slope is not
    negative (a zero gradient makes the Newton slope 0)."""

    toy = Toy(np.eye(2))
    zero = np.zeros((2, 1))
    new, v, g, state = Newton().step(toy, zero, 0.0, np.zeros((2, 1)), Newton().init(zero))
    assert np.array_equal(new, zero) and v == 0.0 and state["lr"] == 1.0 and state["residual_norm"] == 0.0


def test_newton_passes_its_armijo_constant():
    """Kills: Newton's ``c1`` not handed to the line search.

    A Hessian half the true one makes d = −2g overshoot from θ = 1 to −1 (J = ½θ², slope −2): Armijo's test
    J(1 − 2α) ≤ ½ − 2c₁α, written out here, accepts α = ½ with c₁ = 1e-4 and α = ¼ with c₁ = 0.6."""

    class HalfHessian(Toy):
        def value_grad_hessian(self, theta):
            return (*self.value_and_grad(theta), 0.5 * self.A)

    toy = HalfHessian(np.eye(1))
    theta = col(1.0)
    value, g = toy.value_and_grad(theta)
    for c1, want in [(1e-4, 0.5), (0.6, 0.25)]:
        lr = 1.0
        while 0.5 * (1.0 - 2.0 * lr) ** 2 > 0.5 - 2.0 * c1 * lr + 0.5e-12:
            lr *= 0.5
        assert lr == want
        opt = Newton(c1=c1)
        new, *_, state = opt.step(toy, theta, value, g, opt.init(theta))
        assert state["lr"] == lr and new[0, 0] == pytest.approx(1.0 - 2.0 * lr, abs=1e-15)


@pytest.mark.parametrize(
    "H, uses_cholesky",
    [
        (np.diag([1.0, 2e-10]), True),  # pivot² 2e-10 above 1e-10 of the largest curvature
        (np.diag([1.0, 0.5e-10]), False),
        (np.diag([4.0, 2e-10]), False),  # the cut is relative: 1e-10·4
        (np.diag([np.inf, 1.0]), False),  # a factor that is not finite
    ],
)
def test_hessian_solve_uses_cholesky_only_above_the_relative_pivot_cut(H, uses_cholesky):
    """Kills: pivots cubed, ``1e-10 / max`` for ``1e-10·max``; a factor that is not finite is not used."""

    with np.errstate(invalid="ignore"):
        assert (HessianSolve(H).chol is not None) is uses_cholesky


def test_hessian_solve_drops_directions_below_1e_10_of_the_largest_eigenvalue():
    """Kills: ``1e-10 / top`` for ``1e-10·top`` in the eigendecomposition's cut: a dropped direction takes a
    gradient step of length 1/λ_max (here 1/4), a kept one the Newton step 1/λ (here 1e10)."""

    for small in (1e-10, 0.0):
        solve = HessianSolve(np.diag([4.0, small]))
        assert solve.chol is None
        np.testing.assert_allclose(solve.direction(np.array([1.0, 1.0])), [-0.25, -0.25], rtol=1e-15)


# ===================================================================== L-BFGS
def test_lbfgs_first_step_is_the_gradient_scaled_to_length_one_at_most():
    """Kills: ``max(2.0, ‖g‖)`` for ``max(1.0, ‖g‖)``, the initial state (lr 1.0, keys, stalled 0), and the count.

    The first direction is written out: −g/‖g‖ for ‖g‖ = 5 and 1.5, −g itself for ‖g‖ = 0.5; α = 1 is accepted."""

    for theta, norm in [(col(3.0, 4.0), 5.0), (col(0.9, 1.2), 1.5), (col(0.3, 0.4), 1.0)]:
        toy = Toy(np.eye(2))
        opt = LBFGS()
        state = opt.init(theta)
        assert set(state) == {"S", "Y", "count", "lr", "stalled"} and state["S"].shape == state["Y"].shape == (0, 2)
        assert (state["count"], state["lr"], state["stalled"]) == (0, 1.0, 0)
        value, g = toy.value_and_grad(theta)
        new, *_, state = opt.step(toy, theta, value, g, state)
        np.testing.assert_allclose(new, theta - theta / norm, rtol=1e-15)
        assert (state["count"], state["lr"], state["stalled"]) == (1, 1.0, 0)


def test_lbfgs_keeps_the_last_ten_pairs():
    """Kills: ``memory = 11``. Ten pairs (s, As) are given; after one step the oldest is gone and the new pair
    (θ⁺ − θ, ∇J⁺ − ∇J) is last."""

    rng = np.random.default_rng(0)
    A = np.diag([1.0, 2.0, 3.0])
    S = rng.normal(size=(10, 3))
    toy = Toy(A, b=[1.0, 0.0, -1.0])
    theta = col(0.5, -0.5, 2.0)
    value, g = toy.value_and_grad(theta)
    state = {**LBFGS().init(theta), "S": S, "Y": S @ A}
    new, _, g_new, state = LBFGS().step(toy, theta, value, g, state)
    assert state["S"].shape == (10, 3) and np.array_equal(state["S"][:9], S[1:])
    np.testing.assert_array_equal(state["S"][9], (new - theta).ravel())
    np.testing.assert_array_equal(state["Y"][9], (g_new - g).ravel())


def test_lbfgs_forgets_its_pairs_when_they_point_uphill_or_the_gradient_is_zero():
    """Kills: ``slope < 1`` for ``slope < 0`` (a slope of +0.05 from a pair with sᵀy < 0), ``slope <= 0`` (at
    g = 0 the slope is 0 and the pairs are forgotten), ``Y[:1]`` for ``Y[:0]``, and the step's state counts."""

    toy = Toy(np.eye(2))
    bad = {"S": np.array([[1.0, 0.0]]), "Y": np.array([[-1.0, 0.0]]), "count": 4, "lr": 0.5, "stalled": 0}
    theta = col(0.1, 0.2)  # with this pair the direction is +g: slope ‖g‖² = 0.05
    value, g = toy.value_and_grad(theta)
    new, v, _, state = LBFGS().step(toy, theta, value, g, dict(bad))
    # forgotten: −g/max(1, ‖g‖) = −g, and α = 1 lands on the optimum 0; the pair (−θ, −θ) is kept
    np.testing.assert_array_equal(new, np.zeros((2, 1)))
    assert v == 0.0 and state["count"] == 5 and state["lr"] == 1.0 and state["stalled"] == 0
    np.testing.assert_array_equal(state["S"], -theta.T)
    np.testing.assert_array_equal(state["Y"], -theta.T)
    good = {**bad, "Y": np.array([[1.0, 0.0]])}
    zero = np.zeros((2, 1))
    new, v, _, state = LBFGS().step(toy, zero, 0.0, np.zeros((2, 1)), good)
    assert state["S"].shape == state["Y"].shape == (0, 2) and np.array_equal(new, zero)


def test_lbfgs_stores_a_pair_only_above_the_curvature_cut():
    """Kills: ``or`` for ``and`` in sᵀy > 1e-10·yᵀy and sᵀy > 0: on J = ½aθ² with a = 1e11, sᵀy/yᵀy = 1/a."""

    for a, stored in [(1e11, 0), (1e9, 1)]:
        toy = Toy([[a]])
        theta = col(1e-12)
        value, g = toy.value_and_grad(theta)
        *_, state = LBFGS().step(toy, theta, value, g, LBFGS().init(theta))
        assert state["S"].shape[0] == stored and state["stalled"] == 0


def test_lbfgs_passes_its_armijo_constant():
    """Kills: L-BFGS's ``c1`` not handed to the line search: from θ = 1 on J = 2θ² the first direction is −1
    (slope −4); Armijo's test 2(1 − α)² ≤ 2 − 4c₁α, written out, accepts α = 1 at c₁ = 1e-4, α = ½ at 0.6."""

    toy = Toy([[4.0]])
    theta = col(1.0)
    value, g = toy.value_and_grad(theta)
    for c1, want in [(1e-4, 1.0), (0.6, 0.5)]:
        lr = 1.0
        while 2.0 * (1.0 - lr) ** 2 > 2.0 - 4.0 * c1 * lr + 2e-12:
            lr *= 0.5
        assert lr == want
        opt = LBFGS(c1=c1)
        *_, state = opt.step(toy, theta, value, g, opt.init(theta))
        assert state["lr"] == want


# ===================================================================== the factory: which solver, which spec
def test_resolve_solver_follows_the_table_of_the_module_docstring():
    """Kills: ``newton=True`` by default, ``_user_fixed_step(None)``, the returned names (``XXgdXX``, ``FISTA``),
    ``or True`` for Newton, and ``"XXautoXX"`` in ``_user_fixed_step`` (a schedule with lr="auto" is not fixed)."""

    def auto(lr="auto", *, minibatch=False, has_l1=False, **kw):
        return resolve_solver("auto", lr, minibatch=minibatch, has_l1=has_l1, **kw)

    assert auto() == "lbfgs" and auto(newton=True) == "newton" and auto(newton=False) == "lbfgs"
    assert auto(0.1) == "gd" and auto(0.1, has_l1=True) == "gd" and auto("backtracking") == "gd"
    assert auto(minibatch=True) == "gd" and auto(InverseDecay("auto")) == "gd"
    assert auto(has_l1=True) == "fista" and auto(has_l1=True, newton=True) == "fista"
    assert resolve_solver("adam", 0.1, minibatch=True, has_l1=True) == "adam"
    assert [_user_fixed_step(x) for x in (0.1, 1, InverseDecay(0.1), InverseDecay("auto"), "auto", True)] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]


def test_check_compatible_says_what_to_use_instead():
    """Kills: the wording of the mini-batch and backtracking refusals (their lists and the ``with batch_size set``
    clause) and ``and`` for ``or`` (backtracking with another solver on the full batch is refused too)."""

    with pytest.raises(ValueError) as exc:
        check_compatible("lbfgs", "auto", minibatch=True, has_l1=False)
    assert str(exc.value) == (
        "solver='lbfgs' works on the full batch only; with batch_size set use one of 'gd', 'momentum', "
        "'nesterov', 'adagrad', 'rmsprop', 'adam', or set batch_size=None."
    )
    lead = "learning_rate='backtracking' is a line search for full-batch solver='gd' (or 'auto'); "
    with pytest.raises(ValueError) as exc:
        check_compatible("momentum", "backtracking", minibatch=False, has_l1=False)
    assert str(exc.value) == lead + "got solver='momentum'."
    with pytest.raises(ValueError) as exc:
        check_compatible("gd", "backtracking", minibatch=True, has_l1=False)
    assert str(exc.value) == lead + "got solver='gd' with batch_size set."
    check_compatible("gd", "backtracking", minibatch=False, has_l1=True)


def test_an_unknown_solver_is_named_with_the_choices():
    """Kills: the separator and ``repr(None)`` in the list of solvers of the refusal."""

    with pytest.raises(ValueError) as exc:
        OptimizerSpec("sgd", Constant(1.0)).build()
    assert str(exc.value) == (
        "Unknown solver 'sgd'; choose one of 'auto', 'gd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam', "
        "'fista', 'lbfgs', 'newton'."
    )


def test_make_spec_resolves_the_step_and_the_average_per_solver():
    """Kills: the line-search solvers' names and ``**hyper`` in their spec, RMSProp's own default schedule and its
    rate kept with a user schedule of lr="auto" (``None``, ``resolve(None)``), ``average`` dropped or given to
    FISTA, and ``build`` ignoring ``average``."""

    def never():
        raise AssertionError("1/L is not needed here")

    for name in ("lbfgs", "newton"):
        spec = make_spec(name, "auto", auto_lr=never, hyper={"momentum": 0.5})
        assert spec.learning_rate is None and spec.momentum == 0.5 and spec.average is None
    spec = make_spec("gd", "backtracking", auto_lr=never, hyper={"momentum": 0.5})
    assert spec.learning_rate == "backtracking" and spec.momentum == 0.5
    assert make_spec("rmsprop", "auto", auto_lr=never, hyper={}).learning_rate == ExponentialDecay(0.01, rate=5e-4)
    got = make_spec("rmsprop", InverseDecay("auto", rate=0.1), auto_lr=never, hyper={}).learning_rate
    assert got == InverseDecay(0.01, rate=0.1)
    assert make_spec("adagrad", "auto", auto_lr=never, hyper={}).learning_rate == Constant(0.5)
    assert make_spec("gd", "auto", auto_lr=lambda: 0.25, hyper={}).learning_rate == Constant(0.25)
    spec = make_spec("momentum", 0.1, auto_lr=never, hyper={}, average=7)
    assert spec.average == 7
    opt = spec.build()
    assert isinstance(opt, Averaged) and opt.start == 7
    assert make_spec("fista", 0.1, auto_lr=never, hyper={}, average=7).average is None
    assert not isinstance(make_spec("gd", 0.1, auto_lr=never, hyper={}).build(), Averaged)


# ===================================================================== FISTA
def test_fista_iterates_restarts_and_state_follow_its_equations():
    """Kills: FISTA's state keys and values (y, t, y_is_x, count, lr at init and after each kind of step), the
    schedule read at ``count`` (``schedule(None)``, ``schedule(1)`` at init), ``F_new = v − λ‖x‖₁``, the restart's
    condition (``and y_is_x``) and its step (``prox(·, None)``, ``θ + αg``).

    x⁺ = prox(y − α∇f(y)); restart (momentum reset, a plain step from x) when F(x⁺) > F(x) after a momentum step;
    else t⁺ = (1 + √(1 + 4t²))/2, y⁺ = x⁺ + (t − 1)/t⁺·(x⁺ − x); α_t = 0.15·e^(−0.01t), written out here."""

    A, b, lam = np.diag([4.0, 1.0]), np.array([1.0, 2.0]), 0.05
    toy = Toy(A, b=b, l1=lam)
    schedule = ExponentialDecay(0.15, rate=0.01)

    def F(x):
        return 0.5 * x @ A @ x - b @ x + lam * np.abs(x).sum()

    def step(x, g, a):
        v = x - a * g
        return np.sign(v) * np.maximum(np.abs(v) - lam * a, 0.0)

    x = np.array([2.0, -3.0])
    y, t, y_is_x = x.copy(), 1.0, True
    opt = FISTA(schedule)
    theta = x.reshape(-1, 1)
    state = opt.init(theta)
    assert set(state) == {"y", "t", "y_is_x", "count", "lr"} and np.array_equal(state["y"], theta)
    assert state["y"] is not theta and (state["t"], state["y_is_x"], state["count"], state["lr"]) == (1.0, 1, 0, 0.15)
    value, g = toy.value_and_grad(theta)
    restarts = 0
    for k in range(40):
        a = schedule(k)
        x_new = step(y, A @ y - b, a)
        if F(x_new) > F(x) and not y_is_x:
            x_new = step(x, A @ x - b, a)
            y, t, y_is_x = x_new.copy(), 1.0, True
            restarts += 1
        else:
            t_new = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
            y, t, y_is_x = x_new + (t - 1) / t_new * (x_new - x), t_new, False
        x = x_new
        theta, value, g, state = opt.step(toy, theta, value, g, state)
        np.testing.assert_allclose(theta.ravel(), x, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(state["y"].ravel(), y, rtol=1e-12, atol=1e-14)
        assert (state["t"], state["y_is_x"], state["count"], state["lr"]) == (t, int(y_is_x), k + 1, a)
    assert restarts == 3  # at steps 9, 20 and 31


def test_fista_does_not_restart_on_a_tie():
    """Kills: ``>=`` for ``>`` in the restart test: at the optimum (θ = y = 0 of ½‖θ‖² + λ‖θ‖₁) F does not change
    and the momentum goes on (t⁺ = (1 + √37)/2 from t = 3)."""

    toy = Toy(np.eye(2), l1=0.1)
    zero = np.zeros((2, 1))
    state = {"y": zero.copy(), "t": 3.0, "y_is_x": 0, "count": 5, "lr": 0.5}
    new, *_, state = FISTA(Constant(0.5)).step(toy, zero, 0.0, np.zeros((2, 1)), state)
    assert np.array_equal(new, zero) and state["t"] == 0.5 * (1 + math.sqrt(37.0)) and state["y_is_x"] == 0


def test_the_learning_rate_block_starts_at_alpha_0_and_records_the_alpha_it_used():
    """Kills: ``schedule(1)`` for ``schedule(0)`` in the state before any step (what ``current_lr`` reports then)."""

    schedule = ExponentialDecay(1.0, rate=0.5)
    assert ScaleByLearningRate(schedule).init(np.zeros((2, 1))) == {"count": 0, "lr": 1.0}
    opt = first_order.gd(schedule)
    theta = np.zeros((2, 1))
    state = opt.init(theta)
    assert opt.current_lr(state) == 1.0 == opt.initial_lr
    for k in range(1, 4):
        theta, *_, state = opt.step(Toy(np.eye(2)), theta, 0.0, col(1.0, 1.0), state, evaluate=False)
        assert state["learning_rate"] == {"count": k, "lr": math.exp(-0.5 * (k - 1))}
    np.testing.assert_allclose(theta, -col(1.0, 1.0) * sum(math.exp(-0.5 * t) for t in range(3)), rtol=1e-15)
