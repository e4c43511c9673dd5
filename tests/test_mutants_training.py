"""Tests that can fail: ``gdlearn.training``, the assembly of one fit (sixth mutation run, issue "Tests that can fail").

Every expected value is written out here: a formula (NumPy, least squares, the mini-batch bound of Gower et al.),
a message's text, or a choice stated by the docstrings; never gdlearn's own output compared with itself.
"""

import pickle
from types import SimpleNamespace

import numpy as np
import pytest

from gdlearn import LinearRegression, LogisticRegression
from gdlearn.data.source import ArraySource
from gdlearn.exceptions import ConvergenceWarning, DivergenceError
from gdlearn.losses import BinaryLogLoss, HalfSquaredError
from gdlearn.objective import Objective
from gdlearn.optim.schedules import Constant
from gdlearn.training import (
    DENSE_MAX_FEATURES,
    Config,
    Session,
    _advice,
    _explain_divergence,
    _fmt,
    _row_lipschitz,
    _user_units,
    path_array,
    preconditioning_kind,
    resume_seed,
    run,
    session_lipschitz,
    start_session,
)

# the fits here stop at max_iter on purpose (a few steps written out by hand)
pytestmark = pytest.mark.filterwarnings("ignore:.* stopped after max_iter=")


def _data(n=40, p=3, seed=0, scale=None, weights=None, k=1, binary=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * (np.ones(p) if scale is None else np.asarray(scale, float))
    w = rng.normal(size=(p, k))
    Y = X @ w + 0.3 * rng.normal(size=(n, k)) + 2.0
    if binary:
        Y = (Y > np.median(Y)).astype(float)
    return X, Y, weights


def _source(X, Y, sw=None):
    return ArraySource(X, Y, sw)


def _objective(loss=None, *, m, fit_intercept=True, l2=0.0, l1=0.0):
    return Objective(loss or HalfSquaredError(), fit_intercept=fit_intercept, l2=l2, l1=l1, penalty_norm=float(m))


# ===================================================================== Config
def test_config_from_params_picks_its_fields_and_the_hyperparameters_by_name():
    from gdlearn.optim.factory import HYPERPARAMETERS

    names = [
        "solver", "learning_rate", "max_iter", "tol", "fit_intercept", "l2", "l1", "batch_size", "shuffle",
        "average", "precondition", "n_iter_no_change", "early_stopping", "checkpoint", "checkpoint_every",
        "checkpoint_seconds",
    ]  # fmt: skip
    params = {name: f"value of {name}" for name in names} | {h: f"hyper {h}" for h in HYPERPARAMETERS}
    params["unrelated"] = 1
    cfg = Config.from_params(params)
    for name in names:
        assert getattr(cfg, name) == f"value of {name}"
    assert cfg.hyper == {h: f"hyper {h}" for h in HYPERPARAMETERS} and len(cfg.hyper) == len(HYPERPARAMETERS) > 0


def test_config_minibatch_is_a_batch_size_below_the_number_of_rows():
    assert not Config(batch_size=None).minibatch(10)
    assert not Config(batch_size=10).minibatch(10)
    assert Config(batch_size=9).minibatch(10)
    assert not Config(batch_size=11).minibatch(10)


# ===================================================================== Session
def test_session_pickles_without_the_data_caches_and_keeps_everything_else():
    s = Session(solver="gd", optimizer="opt", seed=7, lipschitz=2.5, stats="stats", gram="gram", gram_of="data")
    s.extra["rows"] = 3
    state = s.__getstate__()
    assert state["stats"] is None and state["gram"] is None and state["gram_of"] is None
    assert {k: v for k, v in state.items() if k not in ("stats", "gram", "gram_of")} == {
        k: v for k, v in vars(s).items() if k not in ("stats", "gram", "gram_of")
    }
    assert s.stats == "stats" and s.gram == "gram" and s.gram_of == "data"  # the live session keeps them
    back = pickle.loads(pickle.dumps(s))
    assert (back.solver, back.optimizer, back.seed, back.lipschitz, back.extra) == ("gd", "opt", 7, 2.5, {"rows": 3})
    assert (back.stats, back.gram, back.gram_of) == (None, None, None)


def test_session_problem_reads_the_gram_matrix_only_for_the_data_it_was_formed_from():
    X, Y, _ = _data()
    data, other = _source(X, Y), _source(X, Y)
    objective = _objective(m=len(X))
    s = Session(solver="gd", optimizer=None, seed=0, gram="the gram source", gram_of=data)
    assert s.problem(objective, data).data == "the gram source"
    assert s.problem(objective, other).data is other
    s.gram = None
    assert s.problem(objective, data).data is data
    assert s.problem(objective, data).coords is None


def test_session_maps_theta_through_its_coordinates_and_its_value_scale_is_tau_squared():
    from gdlearn.preconditioning import Coordinates

    theta = np.array([[1.0], [2.0], [3.0]])
    s = Session(solver="gd", optimizer=None, seed=0)
    assert s.to_original(theta) is theta and s.from_original(theta) is theta and s.value_scale == 1.0
    mean, M, tau = np.array([0.5, -1.0]), np.array([2.0, 4.0]), 3.0
    s.coords = Coordinates(mean, M, 1 / M, target_scale=tau)
    W = tau * M[:, None] * theta[:-1]
    expected = np.vstack([W, tau * theta[-1] - mean @ W])  # W = τMW_s, b = τb_s − μᵀW
    np.testing.assert_allclose(s.to_original(theta), expected, rtol=1e-15)
    np.testing.assert_allclose(s.from_original(expected), theta, rtol=1e-15)
    assert s.value_scale == 9.0


# ===================================================================== small helpers
def test_user_units_multiplies_the_loss_series_back_by_c_and_copies_the_rest():
    assert _user_units(None, 4.0) is None
    history = {"loss": [1.0, 2.0], "grad_norm": (3.0,)}
    assert _user_units(history, 1.0) is history
    out = _user_units({"loss": [1.0, 2.0], "val_loss": [0.5], "grad_norm": (3.0, 4.0), "val_score": [0.9]}, 4.0)
    assert out == {"loss": [4.0, 8.0], "val_loss": [2.0], "grad_norm": [3.0, 4.0], "val_score": [0.9]}
    assert type(out["grad_norm"]) is list


def test_path_array_stacks_each_theta_transposed_and_drops_the_axis_of_one_output():
    one = [np.array([[1.0], [2.0], [3.0]]), np.array([[4.0], [5.0], [6.0]])]
    np.testing.assert_array_equal(path_array(one), [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    two = [np.arange(6.0).reshape(3, 2)]
    out = path_array(two)
    assert out.shape == (1, 2, 3)
    np.testing.assert_array_equal(out[0], [[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]])


def test_fmt_is_six_significant_digits_or_not_applicable():
    assert _fmt(None) == "n/a"
    assert _fmt(1 / 3) == "0.333333" and _fmt(1234567.0) == "1.23457e+06"


# ===================================================================== divergence: the advice and the message
def test_advice_names_a_stable_step_or_a_tenth_and_only_settings_not_in_use():
    auto, fixed = SimpleNamespace(auto_lr=True), SimpleNamespace(auto_lr=False)
    lead_auto = "The automatic step (learning_rate='auto', in use) was too large here; set "
    safe = "learning_rate < 0.5 (1/L = 0.25 is a safe choice)"
    cfg = Config(solver="auto", batch_size=None)
    # at or above the stable limit (or no step known): name the limit and 1/L
    assert _advice(auto, cfg, 0.5, 0.5, 4.0, False) == lead_auto + safe + "."
    assert _advice(auto, cfg, None, 0.5, 4.0, False) == lead_auto + safe + "."
    assert _advice(auto, cfg, 0.75, 0.5, 4.0, False) == lead_auto + safe + "."
    # below the limit, or no limit: a tenth of the step
    assert _advice(auto, cfg, 0.25, 0.5, 4.0, False) == lead_auto + "a smaller learning_rate (a tenth: 0.025)."
    assert _advice(auto, cfg, 3.0, None, 4.0, False) == lead_auto + "a smaller learning_rate (a tenth: 0.3)."
    assert _advice(auto, cfg, None, None, 4.0, False) == lead_auto + "."
    # a fixed step: "Use", and learning_rate='auto' offered; a chosen solver: solver='auto' offered (full batch only)
    cfg = Config(solver="gd", batch_size=None)
    assert _advice(fixed, cfg, 0.5, 0.5, 4.0, False) == (
        "Use " + safe + " or learning_rate='auto' or solver='auto' (L-BFGS or Newton, which cannot diverge)."
    )
    cfg = Config(solver="sgd", batch_size=16)
    assert _advice(fixed, cfg, 0.25, 0.5, 4.0, True) == (
        "Use a smaller learning_rate (a tenth: 0.025) or a larger batch_size than 16 (less noisy steps) or "
        "learning_rate='auto'."
    )
    assert _advice(auto, Config(solver="auto", batch_size=8), 2.0, 1.0, 1.0, True) == (
        lead_auto + "learning_rate < 1 (1/L = 1 is a safe choice) or a larger batch_size than 8 (less noisy steps)."
    )


def _diverged(reason="the loss rose", *, iteration=5, loss=3.0, lr=0.1, path=None):
    history = {"loss": [1.0, loss], "grad_norm": [2.0, 6.0]}
    return DivergenceError(reason, iteration=iteration, loss=loss, learning_rate=lr, history=history, path=path)


def test_explain_divergence_states_the_iteration_loss_step_and_stable_limit_in_user_units():
    from gdlearn.optim import first_order
    from gdlearn.preconditioning import Coordinates

    L, tau = 8.0, 2.0
    s = Session(solver="gd", optimizer=first_order.gd(Constant(0.3)), seed=0, lipschitz=L, auto_lr=False)
    s.coords = Coordinates(np.zeros(2), np.ones(2), np.ones(2), target_scale=tau)  # J in user units = τ²·J_s
    path = [np.array([[1.0], [2.0], [3.0]]), np.array([[4.0], [5.0], [6.0]])]
    err = _explain_divergence(
        _diverged(lr=0.3, path=path), s, SimpleNamespace(n_samples=10), Config(solver="gd", batch_size=None)
    )
    assert str(err) == (
        "Gradient descent (solver='gd') diverged at iteration 5: the loss rose (loss = 12, learning_rate = 0.3). "
        "For this data the largest stable learning rate is 2/L = 0.25 (in preconditioned coordinates), where "
        "L = 8 is the Lipschitz constant of the gradient. Use learning_rate < 0.25 (1/L = 0.125 is a safe choice) "
        "or learning_rate='auto' or solver='auto' (L-BFGS or Newton, which cannot diverge)."
    )
    assert (err.iteration, err.loss, err.learning_rate, err.max_stable_learning_rate) == (5, 12.0, 0.3, 0.25)
    assert err.history == {"loss": [4.0, 12.0], "grad_norm": [2.0, 6.0]}
    np.testing.assert_array_equal(err.path, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


def test_explain_divergence_of_momentum_on_minibatches_from_a_schedule_in_the_users_coordinates():
    from gdlearn.optim import first_order
    from gdlearn.schedules import ExponentialDecay

    L, beta = 4.0, 0.5
    s = Session(solver="momentum", optimizer=first_order.momentum(Constant(3.0), beta), seed=0, lipschitz=L)
    cfg = Config(solver="momentum", batch_size=4, learning_rate=ExponentialDecay(3.0, rate=0.0))
    err = _explain_divergence(_diverged("no longer finite", iteration=2, lr=3.0), s, SimpleNamespace(n_samples=10), cfg)
    stable = 2 * (1 + beta) / L  # momentum's limit 2(1 + β)/L
    assert str(err) == (
        "Gradient descent (solver='momentum') diverged at iteration 2: no longer finite (loss = 3, "
        f"learning_rate = 3). For this data the largest stable learning rate is the stability limit = {stable:.6g}, "
        "where L = 4 is the Lipschitz constant of the gradient. The automatic step (learning_rate='auto', in use) "
        "was too large here; set learning_rate < 0.75 (1/L = 0.25 is a safe choice) or a larger batch_size than 4 "
        "(less noisy steps). (The learning rate came from a schedule; lower its lr.)"
    )
    assert err.loss == 3.0 and err.history == {"loss": [1.0, 3.0], "grad_norm": [2.0, 6.0]} and err.path is None
    # a batch of all rows is not a mini-batch: no batch_size advice
    cfg = Config(solver="momentum", batch_size=10)
    assert "batch_size" not in str(_explain_divergence(_diverged(), s, SimpleNamespace(n_samples=10), cfg))


def test_explain_divergence_without_a_stable_limit_says_only_what_to_do():
    from gdlearn.optim import first_order

    s = Session(solver="adagrad", optimizer=first_order.adagrad(Constant(1e6)), seed=0, lipschitz=2.0, auto_lr=False)
    err = _explain_divergence(_diverged(lr=1e6), s, SimpleNamespace(n_samples=10), Config(solver="adagrad"))
    assert str(err) == (
        "Gradient descent (solver='adagrad') diverged at iteration 5: the loss rose (loss = 3, learning_rate = 1e+06). "
        "Use a smaller learning_rate (a tenth: 1e+05) or learning_rate='auto' or solver='auto' (L-BFGS or Newton, "
        "which cannot diverge)."
    )
    assert err.max_stable_learning_rate is None
    err = _explain_divergence(_diverged(lr=None), s, SimpleNamespace(n_samples=10), Config(solver="adagrad"))
    assert "learning_rate = n/a)" in str(err)


# ===================================================================== the one-row bound, the ranges, L
def test_row_lipschitz_with_every_scale_below_one_and_a_ridge():
    """c·max sᵢ(‖M(xᵢ − μ)‖² + 1)/s̄ + λ₂/m·max Mⱼ², with every Mⱼ < 1: the ridge's max Mⱼ² is not 1."""
    from gdlearn.preconditioning import Coordinates

    X = np.array([[1.0, 2.0], [3.0, -1.0], [0.0, 4.0]])
    sw = np.array([1.0, 2.0, 0.5])
    mu, M = np.array([1.0, 1.0]), np.array([0.5, 0.25])
    data = _source(X, np.zeros((3, 1)), sw)
    s = Session(solver="sgd", optimizer=None, seed=0, coords=Coordinates(mu, M, 1 / M))
    objective = _objective(BinaryLogLoss(), m=10.0, l2=3.0)  # λ₂/m = 0.3; c = 1/4
    rows = sw * ((((X - mu) * M) ** 2).sum(axis=1) + 1.0)
    expected = 0.25 * rows.max() / sw.mean() + 0.3 * 0.5**2
    assert _row_lipschitz(s, objective, data) == pytest.approx(expected, rel=1e-14)


def test_user_range_names_the_product_when_x_is_exactly_at_the_bound():
    from gdlearn.training import _check_user_range

    with pytest.raises(ValueError, match=r"^\|x\|·\|y\| \(the gradient's size\) reaches 2e\+150; without"):
        _check_user_range(np.array([1e150]), np.array([2.0]))


class CountingSource(ArraySource):
    """Counts the curvature passes over X (one per power iteration step)."""

    passes = 0

    def curvature_sums(self, W, b):
        self.passes += 1
        return super().curvature_sums(W, b)


def _spectrum_data(values):
    """X with XᵀX/m = diag(values) (m = 4 rows, no intercept): L = max(values)."""
    p = len(values)
    X = np.zeros((4, p))
    X[np.arange(p), np.arange(p)] = np.sqrt(4 * np.asarray(values, float))
    return CountingSource(X, np.zeros((4, 1)))


def test_session_lipschitz_by_power_iteration_runs_at_most_200_passes_from_the_sessions_seed():
    objective = _objective(m=4, fit_intercept=False)

    def estimate(seed, rtol, values=(1.0, 0.99, 0.2)):
        data = _spectrum_data(values)
        s = Session(solver="gd", optimizer=None, seed=seed)
        L = session_lipschitz(s, objective.bind(data), rtol=rtol)
        assert s.lipschitz == L
        return L, data.passes

    L, passes = estimate(3, 1e-15)  # eigenvalues 1 and 0.99: still moving after 200 steps
    assert passes == 200 and 0.99 < L <= 1.0
    assert estimate(3, 1e-15) == (L, 200)  # the session's seed makes it repeatable
    assert estimate(4, 1e-15)[0] != L
    # well separated: rtol decides; 1e-10 is 5·10⁻¹⁰ from L (the Rayleigh quotient's error ≈ rtol/(1 − r²))
    L, passes = estimate(3, 1e-10, (1.0, 0.5, 0.2))
    assert L == pytest.approx(1.0, rel=1e-8) and passes < 200
    L4, passes4 = estimate(3, 1e-4, (1.0, 0.5, 0.2))
    assert passes4 < passes and abs(L4 - 1.0) > 1e-8
    # computed once per session
    s = Session(solver="gd", optimizer=None, seed=0, lipschitz=7.0)
    data = _spectrum_data((1.0, 0.5))
    assert session_lipschitz(s, objective.bind(data)) == 7.0 and data.passes == 0


def test_explain_divergence_measures_l_to_1e_minus_10_when_the_session_has_none():
    from gdlearn.optim import first_order

    values = (2.0, 1.8, 0.5)  # L = 2, slow enough that rtol = 1e-4 stops visibly short of it
    data = _spectrum_data(values)
    problem = _objective(m=4, fit_intercept=False).bind(data)
    s = Session(solver="gd", optimizer=first_order.gd(Constant(1.5)), seed=0, auto_lr=False)
    err = _explain_divergence(_diverged(lr=1.5), s, problem, Config(solver="gd"))
    assert s.lipschitz == pytest.approx(2.0, rel=1e-8)
    assert err.max_stable_learning_rate == pytest.approx(1.0, rel=1e-8)
    assert "the largest stable learning rate is 2/L = 1, where L = 2 is" in str(err)


def test_resume_seed_is_the_seed_saved_in_the_checkpoint(tmp_path):
    from gdlearn import LinearRegression

    X, Y, _ = _data(n=20, p=2)
    path = tmp_path / "run.ckpt"
    LinearRegression(solver="gd", max_iter=3, random_state=1234, checkpoint=path).fit(X, Y[:, 0])
    assert resume_seed(Config(checkpoint=path)) == 1234


# ===================================================================== run: units, validation, state, batches
def _J(theta, X, y):
    """½·mean((Xw + b − y)²) of θ = [w; b] in the user's units."""
    return 0.5 * np.mean((X @ theta[:-1, 0] + theta[-1, 0] - y) ** 2)


def test_run_reports_losses_and_scores_in_the_users_units_and_continues_from_its_state():
    X, Y, _ = _data(n=30, p=2, seed=1, scale=[3.0, 0.5])
    Xv, Yv, _ = _data(n=12, p=2, seed=2, scale=[3.0, 0.5])
    data, val_data = _source(X, Y), _source(Xv, Yv)
    objective = _objective(m=30)
    cfg = Config(solver="gd", precondition=True, tol=0.0, max_iter=4)
    session = start_session(data, objective, cfg, seed=0)
    assert session.value_scale == pytest.approx(np.var(Y), rel=1e-12)  # J/τ², τ the spread of y
    seen, scored = [], []

    def callback(info):
        seen.append((info.iteration, info.loss, info.val_loss))

    def score_fn(theta):
        scored.append(theta.copy())
        return -1.0, -2.0

    theta0 = np.zeros((3, 1))
    result = run(
        session, objective, data, cfg, theta0=theta0, max_iter=4, validation=(val_data, score_fn),
        callback=callback, record_path=True,
    )  # fmt: skip
    path = result.path
    assert len(path) == 5 and result.n_iter == 4 and result.best_iteration is None  # no early stopping asked
    np.testing.assert_array_equal(path[0], theta0)
    np.testing.assert_allclose(result.theta, path[-1], rtol=1e-12)
    J = [_J(t, X, Y[:, 0]) for t in path]
    Jv = [_J(t, Xv, Yv[:, 0]) for t in path]
    np.testing.assert_allclose(result.history["loss"], J, rtol=1e-10)
    np.testing.assert_allclose(result.history["val_loss"], Jv, rtol=1e-10)
    assert result.history["val_score"] == [-1.0] * 5 and result.history["score"] == [-2.0] * 5
    assert [k for k, _, _ in seen] == [1, 2, 3, 4]
    np.testing.assert_allclose([loss for _, loss, _ in seen], J[1:], rtol=1e-10)
    np.testing.assert_allclose([v for _, _, v in seen], Jv[1:], rtol=1e-10)
    np.testing.assert_allclose(np.array(scored), np.array(path), rtol=1e-10, atol=1e-14)  # θ in the user's units
    assert J[-1] < J[0]
    # the session keeps the solver's state: a second run continues from the last point, counting on
    assert session.state is result.state and session.state.iteration == 4
    again = run(session, objective, data, cfg, theta0=theta0, max_iter=6, record_path=True)
    assert again.n_iter == 10 and len(again.path) == 11 and len(again.history["loss"]) == 11  # 6 more
    np.testing.assert_allclose(np.array(again.path[:5]), np.array(path), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(again.history["loss"][:5], J, rtol=1e-10)
    # without record_path nothing is recorded
    fresh = start_session(data, objective, cfg, seed=0)
    assert run(fresh, objective, data, cfg, theta0=theta0, max_iter=1).path is None


def test_run_stops_early_only_when_asked_and_given_a_validation_set():
    X, Y, _ = _data(n=30, p=2, seed=1)
    Xv, Yv, _ = _data(n=12, p=2, seed=2)
    data, val = _source(X, Y), (_source(Xv, Yv), lambda theta: (0.0, 0.0))
    objective = _objective(m=30)
    asked = Config(solver="gd", tol=0.0, early_stopping=True, n_iter_no_change=2)
    assert run(start_session(data, objective, asked, 0), objective, data, asked, theta0=np.zeros((3, 1)),
               max_iter=3, validation=val).best_iteration is not None  # fmt: skip
    # asked without a validation set: no early stopping (no val_loss recorded either)
    result = run(start_session(data, objective, asked, 0), objective, data, asked, theta0=np.zeros((3, 1)), max_iter=3)
    assert result.best_iteration is None and "val_loss" not in result.history


def test_run_needs_a_checkpoint_file_to_resume():
    X, Y, _ = _data(n=10, p=2)
    data, objective, cfg = _source(X, Y), _objective(m=10), Config(solver="gd")
    session = start_session(data, objective, cfg, 0)
    with pytest.raises(ValueError, match=r"^resume=True needs the checkpoint parameter: the file to resume from\.$"):
        run(session, objective, data, cfg, theta0=np.zeros((3, 1)), max_iter=3, resume=True)


def test_run_steps_on_minibatches_in_the_seeded_shuffled_order():
    """Plain SGD written out: θ ← θ − α·∇J_B, batches cut from the permutation drawn from (seed, epoch)."""
    X, Y, _ = _data(n=12, p=2, seed=3)
    y = Y[:, 0]
    data, objective = _source(X, Y), _objective(m=12)
    alpha, B, seed = 0.05, 4, 5
    cfg = Config(solver="gd", learning_rate=alpha, batch_size=B, shuffle=True, tol=0.0, average=False)
    session = start_session(data, objective, cfg, seed)
    result = run(session, objective, data, cfg, theta0=np.zeros((3, 1)), max_iter=2)
    w, b = np.zeros(2), 0.0
    for epoch in range(2):
        order = np.random.default_rng([seed, epoch]).permutation(12)
        for s in range(0, 12, B):
            rows = order[s : s + B]
            r = X[rows] @ w + b - y[rows]
            w, b = w - alpha * X[rows].T @ r / B, b - alpha * r.mean()
    np.testing.assert_allclose(result.theta[:, 0], np.r_[w, b], rtol=1e-10)


# ===================================================================== run: checkpoints and resume
def _gd_steps(X, y, alpha, k):
    """k steps of plain gradient descent on ½·mean((Xw + b − y)²) from 0, each [w, b] kept."""
    w, b, path = np.zeros(X.shape[1]), 0.0, [np.zeros(X.shape[1] + 1)]
    for _ in range(k):
        r = X @ w + b - y
        w, b = w - alpha * X.T @ r / len(y), b - alpha * r.mean()
        path.append(np.r_[w, b])
    return np.array(path)


def test_a_checkpointed_fit_resumes_for_what_is_left_of_max_iter(tmp_path):
    from gdlearn import LinearRegression

    X, Y, _ = _data(n=20, p=2, seed=4)
    y, path = Y[:, 0], tmp_path / "run.ckpt"

    def model(max_iter):
        return LinearRegression(
            solver="gd", learning_rate=0.1, precondition=False, tol=0.0, max_iter=max_iter, checkpoint=path,
            record_path=True, random_state=0,
        )  # fmt: skip

    model(3).fit(X, y, intercept_init=0.0)
    steps = _gd_steps(X, y, 0.1, 7)
    resumed = model(7).fit(X, y, intercept_init=0.0, resume=True)
    assert resumed.n_iter_ == 7 and len(resumed.loss_curve_) == 8
    np.testing.assert_allclose(resumed.path_, steps, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(np.r_[resumed.coef_, resumed.intercept_], steps[-1], rtol=1e-10)
    again = model(7).fit(X, y, intercept_init=0.0, resume=True)  # the file holds the finished fit: nothing is left
    assert again.n_iter_ == 7 and len(again.loss_curve_) == 8
    np.testing.assert_allclose(again.path_, steps, rtol=1e-10, atol=1e-14)


def test_a_checkpointed_fit_with_validation_resumes_with_its_validation_series(tmp_path):
    from gdlearn import LinearRegression

    X, Y, _ = _data(n=40, p=2, seed=5)
    path = tmp_path / "run.ckpt"

    def model(max_iter):
        return LinearRegression(
            solver="gd", learning_rate=0.1, precondition=False, tol=0.0, max_iter=max_iter, checkpoint=path,
            early_stopping=True, n_iter_no_change=100, validation_fraction=0.25, random_state=0,
        )  # fmt: skip

    model(2).fit(X, Y[:, 0])
    resumed = model(5).fit(X, Y[:, 0], resume=True)
    assert resumed.n_iter_ == 5
    assert all(len(resumed.history_[k]) == 6 for k in ("loss", "grad_norm", "val_loss", "val_score", "score"))


def test_the_checkpoint_is_written_when_its_seconds_have_passed(tmp_path, monkeypatch):
    from gdlearn import LinearRegression, checkpoint

    clock = iter(range(0, 10_000, 100))  # a clock that moves 100 s at each reading
    monkeypatch.setattr(checkpoint.time, "monotonic", lambda: float(next(clock)))
    written = []
    write = checkpoint.Checkpointer._write

    def spy(self):
        written.append(self._last[0]["iteration"])
        return write(self)

    monkeypatch.setattr(checkpoint.Checkpointer, "_write", spy)
    X, Y, _ = _data(n=20, p=2)
    common = dict(solver="gd", learning_rate=0.1, precondition=False, tol=0.0, max_iter=4, checkpoint=tmp_path / "c")
    LinearRegression(**common, checkpoint_every=1000, checkpoint_seconds=50.0).fit(X, Y[:, 0])
    assert written == [1, 2, 3, 4]
    written.clear()
    LinearRegression(**common, checkpoint_every=1000).fit(X, Y[:, 0])  # no seconds: at max_iter only
    assert written == [4]


# ===================================================================== preconditioning_kind
def test_preconditioning_kind_follows_the_documented_rules():
    """Whitened for dense X with 2 to 512 features, full batch, no L1, a method that neither scales each axis
    (AdaGrad, RMSProp, Adam) nor ignores coordinates (Newton, unless "dense" is asked); else diagonal."""

    def kind(p=5, *, sparse=False, minibatch=False, **cfg):
        solver = cfg.pop("solver", None)
        data = SimpleNamespace(sparse=sparse, n_features=p)
        c = Config(**cfg)
        if solver is None:  # the default: "auto", a method not yet chosen
            return preconditioning_kind(c, data, minibatch=minibatch)
        return preconditioning_kind(c, data, minibatch=minibatch, solver=solver)

    assert DENSE_MAX_FEATURES == 512
    assert kind(512) == "dense" and kind(513) == "diagonal"
    assert kind(2) == "dense" and kind(1) == "diagonal"
    assert kind(sparse=True) == kind(minibatch=True) == kind(l1=0.1) == "diagonal"
    assert kind(solver="auto") == kind(solver="gd") == kind(solver="lbfgs") == "dense"
    for solver in ("adam", "adagrad", "rmsprop"):
        assert kind(solver=solver) == kind(solver=solver, precondition="dense") == "diagonal"
    assert kind(solver="newton") == kind(solver="newton", precondition=True) == "diagonal"
    assert kind(solver="newton", precondition="dense") == "dense"
    assert kind(precondition="diagonal") == "diagonal" and kind(precondition=False) is None
    assert kind(learning_rate=0.1) is None and kind(learning_rate=0.1, precondition=True) == "dense"


# ===================================================================== start_session
def test_start_session_refuses_averaging_a_full_batch_run():
    X, Y, _ = _data(n=10, p=2)
    with pytest.raises(ValueError) as exc:
        start_session(_source(X, Y), _objective(m=10), Config(average=True), 0)
    assert str(exc.value) == (
        "average=True averages the iterates of stochastic runs; set batch_size (mini-batches) or use partial_fit, "
        "or leave average='auto'."
    )


def test_start_session_picks_newton_for_a_log_loss_of_at_most_64_parameters():
    from gdlearn.losses import MultinomialLogLoss

    def solver(p, k=1, loss=None):
        X, Y, _ = _data(n=8, p=p, k=k)
        Y = (Y > np.median(Y, axis=0)).astype(float)
        return start_session(_source(X, Y), _objective(loss or BinaryLogLoss(), m=8), Config(), 0).solver

    assert solver(63) == "newton" and solver(64) == "lbfgs"  # (p + 1)·k parameters
    assert solver(15, 4, MultinomialLogLoss()) == "newton" and solver(16, 4, MultinomialLogLoss()) == "lbfgs"
    X, Y, _ = _data(n=8, p=2)
    assert start_session(_source(X, Y), _objective(m=8), Config(), 0).solver == "lbfgs"  # squared loss: never Newton


def test_start_session_l1_penalty_of_any_size_picks_fista_and_is_checked():
    X, Y, _ = _data(n=10, p=2)
    data, objective = _source(X, Y), _objective(m=10, l1=0.5)
    assert start_session(data, objective, Config(l1=0.5), 0).solver == "fista"
    with pytest.raises(ValueError, match=r"^solver='lbfgs' cannot handle an L1 penalty \(l1 > 0\)"):
        start_session(data, objective, Config(solver="lbfgs", l1=0.5), 0)
    with pytest.raises(ValueError, match=r"^solver='lbfgs' works on the full batch only"):
        start_session(data, _objective(m=10), Config(solver="lbfgs", batch_size=4), 0)
    with pytest.raises(ValueError, match=r"^learning_rate='backtracking' is a line search"):
        start_session(data, _objective(m=10), Config(solver="momentum", learning_rate="backtracking"), 0)


def test_start_session_coordinates_statistics_and_gram_matrix_by_case():
    X, Y, _ = _data(n=12, p=3, seed=6, scale=[1.0, 10.0, 0.1])
    data, Yb = _source(X, Y), (Y > np.median(Y)).astype(float)
    binary = _source(X, Yb)

    def start(d=data, loss=None, **cfg):
        return start_session(d, _objective(loss, m=12, l1=cfg.get("l1", 0.0)), Config(**cfg), 0)

    s = start(solver="adam", learning_rate="auto")  # a per-coordinate method: diagonal
    assert s.coords.kind == "diagonal" and s.gram is not None and s.gram_of is data
    s = start(precondition=False)  # squared loss, full batch: the Gram matrix serves J, though unpreconditioned
    assert s.coords is None and s.stats is not None and s.gram is not None and s.gram_of is data
    s = start(precondition=False, batch_size=4)  # mini-batches: no statistics pass
    assert s.coords is None and s.stats is None and s.gram is None
    s = start(binary, BinaryLogLoss(), precondition=False)
    assert s.coords is None and s.stats is None and s.gram is None
    s = start(binary, BinaryLogLoss(), solver="gd", precondition="diagonal")  # the Gram matrix for an exact L
    assert s.coords.kind == "diagonal" and s.stats.gram is not None and s.gram is None
    assert s.coords.target_scale == 1.0  # τ only for the squared loss
    s = start(binary, BinaryLogLoss(), solver="newton")  # Newton needs no L
    assert s.coords.kind == "diagonal" and s.stats.gram is None
    s = start()
    assert s.coords.target_scale == pytest.approx(np.std(Y), rel=1e-12)


def test_start_session_forms_the_gram_matrix_up_to_512_features():
    rng = np.random.default_rng(7)
    for p, formed in ((512, True), (513, False)):
        X = rng.normal(size=(6, p))
        data = _source(X, rng.normal(size=(6, 1)))
        s = start_session(data, _objective(m=6), Config(precondition=False), 0)
        assert (s.gram is not None) == formed


def test_the_automatic_full_batch_step_is_one_over_l_also_below_one():
    """1/L from the largest eigenvalue of XᵀX/m (raw coordinates, no intercept); L = 0.013 here, so 1/L = 77."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 3)) * 0.1, rng.normal(size=50)
    model = LinearRegression(solver="gd", fit_intercept=False, precondition=False, max_iter=3, tol=0)
    with pytest.warns(ConvergenceWarning):
        model.fit(X, y)
    L = np.linalg.eigvalsh(X.T @ X / 50).max()
    assert L < 1
    assert model.learning_rate_ == pytest.approx(1 / L, rel=1e-10, abs=0)


def test_the_automatic_step_on_all_zero_features_without_intercept_is_one():
    """L = 0 (nothing to learn): the step is 1.0, not a division by zero, and the model stays at zero."""
    rng = np.random.default_rng(1)
    X, y = np.zeros((20, 2)), rng.normal(size=20)
    for model in (
        LinearRegression(solver="gd", fit_intercept=False, max_iter=3),
        LogisticRegression(solver="gd", fit_intercept=False, max_iter=3),
    ):
        model.fit(X, y if isinstance(model, LinearRegression) else (y > 0).astype(int))
        assert model.learning_rate_ == 1.0 and model.lipschitz_ == 0.0
        np.testing.assert_array_equal(model.coef_, np.zeros_like(model.coef_))


def test_averaging_starts_after_the_first_whole_epoch_when_the_last_batch_is_short():
    """100 rows in batches of 32: 4 steps per epoch, ⌈100/32⌉ (not 3.125), so averaging starts after step 4."""
    X, Y, _ = _data(n=100, p=2, seed=3, scale=[1.0, 2.0])
    for rows, batch, steps in ((100, 32, 4), (96, 32, 3), (97, 32, 4)):
        cfg = Config(solver="gd", batch_size=batch, average=True)
        session = start_session(_source(X[:rows], Y[:rows]), _objective(m=rows), cfg, seed=0)
        assert session.optimizer.start == steps
    with pytest.warns(ConvergenceWarning):  # one epoch averaged is the plain epoch
        averaged = LinearRegression(solver="gd", batch_size=32, max_iter=1, random_state=0, average=True).fit(
            X, Y[:, 0]
        )
    with pytest.warns(ConvergenceWarning):
        plain = LinearRegression(solver="gd", batch_size=32, max_iter=1, random_state=0, average=False).fit(X, Y[:, 0])
    np.testing.assert_array_equal(averaged.coef_, plain.coef_)
