"""The solver loop's stopping rules, each at its boundary: divergence, callback, plateau, stalled line search."""

import warnings

import numpy as np
import pytest

from gdlearn import ConvergenceWarning, DivergenceError, LinearRegression, LogisticRegression

X = np.array([[1.0, 2.0], [2.0, -1.0], [3.0, 0.5], [-1.0, 1.0], [0.5, 0.5]])
Y = np.array([1.0, 0.0, 2.0, -1.0, 0.3])


def lipschitz(X):
    A = np.c_[X, np.ones(len(X))]
    return np.linalg.eigvalsh(A.T @ A / len(X))[-1]


def test_gd_divergence_is_three_rising_iterations_exactly():
    """Above 2/L the loss rises at every step; gd stops at the third rise (iteration 3), not the second or fourth."""
    L = lipschitz(X)
    with pytest.raises(DivergenceError) as exc:
        LinearRegression(solver="gd", learning_rate=2.2 / L, max_iter=100).fit(X, Y, intercept_init=0.0)
    err = exc.value
    assert err.iteration == 3
    assert "rose above its starting value for 3 iterations" in str(err)
    assert err.max_stable_learning_rate == pytest.approx(2 / L, rel=1e-9)
    curve = err.history["loss"]
    assert len(curve) == 4 and all(b > a for a, b in zip(curve, curve[1:]))


def test_gd_below_the_limit_never_stops_for_divergence():
    L = lipschitz(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LinearRegression(solver="gd", learning_rate=1.9 / L, max_iter=200).fit(X, Y, intercept_init=0.0)
    assert model.n_iter_ == 200 or model.converged_


@pytest.mark.parametrize("solver", ["momentum", "nesterov", "adam"])
def test_other_solvers_stop_when_the_loss_grows_ten_thousandfold(solver):
    """Methods whose loss may rise for a while are stopped at 10⁴ × the start, long before overflow."""
    lr = 50.0 / lipschitz(X) if solver != "adam" else 1e3
    with pytest.raises(DivergenceError) as exc:
        LinearRegression(solver=solver, learning_rate=lr, max_iter=10_000).fit(X, Y)
    err = exc.value
    assert "10,000 times its starting value" in str(err)
    assert err.iteration <= 12  # the loss grows geometrically: a few iterations, not hundreds
    assert err.loss > 1e4 * err.history["loss"][0] and np.isfinite(err.loss)


def test_a_callback_that_returns_true_stops_the_fit():
    seen = []

    def stop_at_three(info):
        seen.append(info.iteration)
        return info.iteration == 3

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # stopping on request is not a convergence failure: no warning
        model = LinearRegression(solver="gd", learning_rate=0.01, max_iter=100).fit(X, Y, callback=stop_at_three)
    assert seen == [1, 2, 3]
    assert model.n_iter_ == 3 and model.stop_reason_ == "stopped by callback" and not model.converged_
    assert len(model.loss_curve_) == 4


def test_minibatch_plateau_stops_after_n_iter_no_change_epochs():
    rng = np.random.default_rng(0)
    Xb = rng.normal(size=(200, 3))
    yb = Xb @ [1.0, -2.0, 0.5] + rng.normal(size=200)
    model = LinearRegression(solver="gd", batch_size=16, tol=1e-2, n_iter_no_change=3, max_iter=500, random_state=0)
    model.set_params(average=False)  # the raw iterates: noisy, so their gradient norm stays above tol
    model.fit(Xb, yb)
    assert model.converged_ and model.stop_reason_ == "training loss did not improve for 3 epochs"
    curve = np.asarray(model.loss_curve_)
    for i in range(len(curve) - 3, len(curve)):  # none of the last three improved on the best before it by > tol
        assert curve[i] >= curve[:i].min() * (1 - 1e-2)
    assert curve[-4] < curve[:-4].min() * (1 - 1e-2)  # and the one before them did: the count is three exactly
    assert model.history_["grad_norm"][-1] > 1e-2  # it was the plateau rule, not the gradient, that stopped it
    assert model.n_iter_ < 500


class UphillProblem:
    """J(θ) = ½‖θ‖² whose reported gradient points uphill: no step along it can decrease J."""

    n_samples, has_l1, fit_intercept = 4, False, True

    def value_and_grad(self, theta):
        return 0.5 * float(np.vdot(theta, theta)), -theta

    def residual(self, theta, grad):
        return grad

    def prox(self, theta, step):
        return theta

    def nonsmooth_value(self, theta):
        return 0.0


def test_line_search_that_cannot_decrease_stops_cleanly():
    """When no step decreases J (a gradient from rounding noise, at worst), the loop stops and says why."""
    from gdlearn.optim import LBFGS
    from gdlearn.solver import minimize
    from gdlearn.stopping import rules

    result = minimize(UphillProblem(), LBFGS(), np.ones((3, 1)), max_iter=20, rules=rules(0.0))
    assert result.stop_reason == "line search cannot decrease the loss further (machine precision)"
    assert result.converged and result.n_iter == 1
    np.testing.assert_array_equal(result.theta, np.ones((3, 1)))  # it did not move uphill


def test_precondition_true_keeps_a_fixed_step_in_preconditioned_coordinates():
    """precondition=True: α acts in standardised coordinates even though the user fixed it."""
    rng = np.random.default_rng(1)
    Xs = rng.normal(size=(100, 3)) * [1e-2, 1.0, 1e2]
    ys = Xs @ [100.0, 1.0, 0.01] + rng.normal(size=100)
    with pytest.raises(DivergenceError):  # α on the data as given: 0.5 ≫ 2/L here
        LinearRegression(solver="gd", learning_rate=0.5, max_iter=300).fit(Xs, ys)
    model = LinearRegression(solver="gd", learning_rate=0.5, precondition=True, max_iter=300).fit(Xs, ys)
    assert model._session.coords is not None and model.converged_
    A = np.c_[Xs, np.ones(100)]
    np.testing.assert_allclose(model.coef_, np.linalg.lstsq(A, ys, rcond=None)[0][:3], rtol=1e-4)


def test_newton_stops_on_its_decrement():
    rng = np.random.default_rng(2)
    Xc = rng.normal(size=(300, 3))
    yc = (Xc[:, 0] + rng.normal(size=300) > 0).astype(int)
    model = LogisticRegression(l2=1.0, tol=1e-6).fit(Xc, yc)
    assert model.solver_ == "newton" and model.converged_
    assert model.history_["grad_norm"][-1] <= 1e-6 < model.history_["grad_norm"][-2]


def test_newton_direction_solves_the_system_or_uses_the_pseudo_inverse():
    """A positive definite Hessian is solved by Cholesky; a singular one by its pseudo-inverse, with a gradient
    step of length 1/λ_max along the null space (so the direction always descends)."""
    from gdlearn.optim.newton import HessianSolve

    rng = np.random.default_rng(3)
    Q = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    g = rng.normal(size=4)
    H = (Q * [4.0, 2.0, 1.0, 0.5]) @ Q.T
    solve = HessianSolve(H)
    assert solve.chol is not None
    np.testing.assert_allclose(solve.direction(g), -np.linalg.solve(H, g), rtol=1e-12)
    for lam in ([4.0, 2.0, 1.0, 0.0], [4.0, 2.0, 1.0, 1e-12], [4.0, 2.0, 1e-13, 0.0]):
        S = (Q * lam) @ Q.T
        solve = HessianSolve(S)
        assert solve.chol is None  # (nearly) singular: the eigendecomposition
        coef = Q.T @ g
        lam = np.asarray(lam)
        keep = lam > 1e-10 * lam.max()
        want = -(Q @ np.where(keep, coef / np.where(keep, lam, 1.0), coef / lam.max()))
        np.testing.assert_allclose(solve.direction(g), want, rtol=1e-8, atol=1e-10)
        assert solve.direction(g) @ g < 0


@pytest.mark.parametrize("weighted", [False, True])
def test_minibatch_auto_step_is_one_over_the_expected_smoothness(weighted):
    """learning_rate="auto" with batch_size: α = 1/L_B, L_B from L and the largest one-sample constant L_max,
    both computed here from X in standardised coordinates (Gower et al. 2019)."""
    rng = np.random.default_rng(4)
    n, B, lam = 90, 8, 3.0
    Xw = rng.normal(size=(n, 3)) * [0.5, 2.0, 10.0] + [1.0, -3.0, 20.0]
    yw = Xw @ [1.0, 0.5, -0.1] + rng.normal(size=n)
    s = rng.uniform(0.2, 3.0, size=n) if weighted else np.ones(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LinearRegression(solver="gd", batch_size=B, l2=lam, max_iter=1).fit(Xw, yw, sample_weight=s)
    m = s.sum()
    mu = s @ Xw / m
    sigma = np.sqrt(s @ (Xw - mu) ** 2 / m + lam / m)
    Z = (Xw - mu) / sigma  # standardised columns (ridge included in σ)
    H = np.eye(4)
    H[:3, :3] = (Z * s[:, None]).T @ Z / m + lam / m * np.diag(1 / sigma**2)
    L = np.linalg.eigvalsh(H)[-1]
    L_max = (np.max(s * np.einsum("ij,ij->i", Z, Z)) + s.max()) / (m / n) + lam / m * np.max(1 / sigma**2)
    L_B = n * (B - 1) / (B * (n - 1)) * L + (n - B) / (B * (n - 1)) * L_max
    assert model._session.coords is not None and not model._session.coords.dense
    assert model.learning_rate_ == pytest.approx(1 / L_B, rel=1e-9)


@pytest.mark.parametrize(
    "solver,limit",
    [
        ("gd", lambda L, b: 2 / L),
        ("momentum", lambda L, b: 2 * (1 + b) / L),
        ("nesterov", lambda L, b: 2 * (1 + b) / ((1 + 2 * b) * L)),
    ],
)
def test_stability_limits_are_the_ones_named_in_divergence_errors(solver, limit):
    """The limit each method states is where a quadratic's iteration turns unstable (checked on the recursion)."""
    from gdlearn.optim import first_order
    from gdlearn.optim.schedules import Constant

    beta, L = 0.7, 3.0
    make = getattr(first_order, solver)
    opt = make(Constant(0.1)) if solver == "gd" else make(Constant(0.1), beta)
    assert opt.max_stable_lr(L) == pytest.approx(limit(L, beta), rel=1e-12)
    assert opt.max_stable_lr(0.0) is None

    def grows(alpha, steps=4000):  # the method's own update on J = Lθ²/2
        o = make(Constant(alpha)) if solver == "gd" else make(Constant(alpha), beta)
        theta, state = np.ones((1, 1)), o.init(np.ones((1, 1)))
        for _ in range(steps):
            u, state = o.transform.update(L * theta, state)
            theta = theta + u
        return abs(theta[0, 0]) > 1.0

    edge = limit(L, beta)
    assert grows(1.01 * edge) and not grows(0.99 * edge)


def test_divergence_messages_say_what_happened_and_what_to_do():
    from gdlearn.schedules import ExponentialDecay

    L = lipschitz(X)
    with pytest.raises(DivergenceError) as exc:
        LinearRegression(solver="gd", learning_rate=2.2 / L, max_iter=100).fit(X, Y, intercept_init=0.0)
    msg = str(exc.value)
    assert f"largest stable learning rate is 2/L = {2 / L:.6g}, where L = {L:.6g}" in msg
    assert f"(1/L = {1 / L:.6g} is a safe choice)" in msg and "preconditioned" not in msg
    assert f"learning_rate = {2.2 / L:.6g}" in msg and exc.value.learning_rate == pytest.approx(2.2 / L)
    # in preconditioned coordinates (precondition=True), α is compared with that system's L; the loss is in user units
    with pytest.raises(DivergenceError) as exc:
        LinearRegression(solver="momentum", learning_rate=ExponentialDecay(40.0, rate=0.0), precondition=True).fit(X, Y)
    err = exc.value
    assert "the stability limit" in str(err) and "(in preconditioned coordinates)" in str(err)
    assert "(The learning rate came from a schedule; lower its lr.)" in str(err)
    assert err.history["loss"][0] == pytest.approx(0.5 * np.mean((np.full(len(Y), Y.mean()) - Y) ** 2), rel=1e-12)
    assert err.loss == err.history["loss"][-1] and err.loss > 1e4 * err.history["loss"][0]
    with pytest.raises(DivergenceError) as exc:
        LinearRegression(solver="adagrad", learning_rate=1e6, max_iter=50).fit(X, Y)
    assert "Use a smaller learning_rate (a tenth: 1e+05)" in str(exc.value)
    assert exc.value.max_stable_learning_rate is None


# ------------------------------------------------ the rules on their own, epoch by epoch
def _epochs(losses, val=None, stalled=0):
    """Feed a sequence of J (and validation losses) to the rules as the loop would; yield (rules' states, reasons)."""
    from gdlearn.stopping import Epoch

    history = {"loss": []}
    for k, F in enumerate(losses):
        history["loss"].append(F)
        theta = np.full((2, 1), float(k))
        v = None if val is None else val[k]
        yield Epoch(k, theta, F, 1.0, v, {"stalled": stalled}, 0.1, history)


def _run(rule, losses, val=None, stalled=0):
    epochs = _epochs(losses, val, stalled)
    state = rule.init(next(epochs))
    reasons = []
    for epoch in epochs:
        state, reason = rule.update(state, epoch)
        reasons.append(reason)
    return state, reasons


def test_plateau_counts_epochs_without_a_relative_improvement_above_tol():
    from gdlearn.stopping import Plateau

    #        J0    better by 20%  by 5% (< tol 10%)  by 0%  by 9.9%  -> the third in a row stops
    losses = [10.0, 8.0, 7.6, 7.6, 6.85]
    state, reasons = _run(Plateau(0.1, 3), losses)
    assert reasons == [None, None, None, "training loss did not improve for 3 epochs"]
    assert state == {"best": 6.85, "count": 3}
    state, reasons = _run(Plateau(0.1, 3), [10.0, 8.0, 7.6, 7.6, 6.83])  # 10.1% below 7.6: counts again from 0
    assert reasons == [None] * 4 and state["count"] == 0


def test_early_stopping_keeps_the_best_parameters_and_counts_from_the_prior_best():
    from gdlearn.stopping import EarlyStopping

    val = [5.0, 4.0, 3.99, 3.5, 3.49, 3.48]  # 3.99 and 3.49, 3.48 improve by less than tol=1% of the best
    state, reasons = _run(EarlyStopping(0.01, 2), [1.0] * 6, val)
    assert reasons == [None, None, None, None, "validation loss did not improve for 2 epochs"]
    assert state["best"] == 3.48 and state["best_iteration"] == 5 and state["best_theta"][0, 0] == 5.0
    state, _ = _run(EarlyStopping(0.01, 2), [1.0] * 3, [5.0, 6.0, 7.0])
    assert state["best_iteration"] == 0 and state["best_theta"][0, 0] == 0.0 and state["count"] == 2


def test_divergence_rule_rising_counter_and_ten_thousandfold_bound():
    from gdlearn.stopping import Divergence

    state, _ = _run(Divergence(expects_descent=True), [1.0, 2.0, 3.0, 2.5, 3.0])  # rises, falls: counter resets
    assert state == {"initial_loss": 1.0, "rising": 1}
    state, _ = _run(Divergence(expects_descent=True), [1.0, 0.5, 0.9, 0.95])  # rising but below J0: not counted
    assert state["rising"] == 0
    with pytest.raises(DivergenceError, match="3 iterations in a row") as err:
        _run(Divergence(expects_descent=True), [1.0, 1.5, 2.0, 2.5])
    assert err.value.iteration == 3 and err.value.loss == 2.5 and err.value.history["loss"] == [1.0, 1.5, 2.0, 2.5]
    _run(Divergence(expects_descent=False), [1.0, 1.5, 2.0, 2.5, 1e4])  # 10⁴ × J0 exactly is still allowed
    with pytest.raises(DivergenceError, match="10,000 times"):
        _run(Divergence(expects_descent=False), [1.0, 1e4 * 1.0000001])
    with pytest.raises(DivergenceError, match="no longer finite"):
        _run(Divergence(expects_descent=False), [1.0, np.nan])


def test_tolerance_and_line_search_rules():
    from gdlearn.stopping import LineSearchStall, Tolerance, rules

    assert Tolerance(1.0).update({}, next(_epochs([1.0])))[1] == "gradient norm below tol"  # grad_norm 1.0 <= tol
    assert Tolerance(0.999).update({}, next(_epochs([1.0])))[1] is None
    assert _run(LineSearchStall(), [1.0, 1.0], stalled=1)[1] == [
        "line search cannot decrease the loss further (machine precision)"
    ]
    assert _run(LineSearchStall(), [1.0, 1.0], stalled=0)[1] == [None]
    names = [r.name for r in rules(1e-4, minibatch=True, early_stopping=True, expects_descent=True)]
    assert names == ["divergence", "tolerance", "plateau", "early_stopping", "line_search"]
    assert not rules(1e-4, minibatch=True, expects_descent=True)[0].expects_descent  # noisy: no rising rule
    assert [r.name for r in rules(1e-4)] == ["divergence", "tolerance", "line_search"]


def test_a_diverging_run_keeps_its_path_in_the_error_and_leaves_the_model_as_it_was():
    """The tutorial's picture of a step too large: the error carries [W, b] after each step, up to the stop."""
    L = lipschitz(X)
    model = LinearRegression(solver="gd", learning_rate=2.5 / L, max_iter=100, record_path=True)
    with pytest.raises(DivergenceError) as exc:
        model.fit(X, Y, intercept_init=0.0)
    path, err = exc.value.path, exc.value
    assert len(path) == err.iteration + 1 == len(err.history["loss"]) and not hasattr(model, "coef_")
    np.testing.assert_array_equal(path[0], np.zeros(X.shape[1] + 1))
    w, b = np.zeros(X.shape[1]), 0.0  # the steps written out: θ ← θ − α ∇J, in the data's units (no preconditioning)
    for k in range(1, len(path)):
        r = X @ w + b - Y
        w, b = w - 2.5 / L * X.T @ r / len(Y), b - 2.5 / L * r.mean()
        np.testing.assert_allclose(path[k], np.r_[w, b], rtol=1e-9, atol=1e-12)
    J = [0.5 * np.mean((X @ p[:-1] + p[-1] - Y) ** 2) for p in path]  # the loss along the recorded path
    np.testing.assert_allclose(J, err.history["loss"], rtol=1e-9)
    assert J[-1] > J[-2] > J[-3] > J[-4] and J[-1] > J[0]  # climbing out of the valley: what stopped it
    with pytest.raises(DivergenceError) as exc:
        LinearRegression(solver="gd", learning_rate=2.5 / L, max_iter=100).fit(X, Y)
    assert exc.value.path is None  # nothing recorded without record_path
