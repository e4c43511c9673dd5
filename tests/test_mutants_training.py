"""Tests that can fail: ``gdlearn.training``, the assembly of one fit (sixth mutation run, issue "Tests that can fail").

Every expected value is written out here: a formula (NumPy, least squares, the mini-batch bound of Gower et al.),
a message's text, or a choice stated by the docstrings; never gdlearn's own output compared with itself.
"""

import pickle
from types import SimpleNamespace

import numpy as np
import pytest

from gdlearn.data.source import ArraySource
from gdlearn.exceptions import DivergenceError
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
    lead_auto = "the automatic step (learning_rate='auto', in use) was too large here; set "
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
        "where L = 4 is the Lipschitz constant of the gradient. the automatic step (learning_rate='auto', in use) "
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
