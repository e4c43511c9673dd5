"""LinearRegression against independent references: least squares and scikit-learn."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression as SkLinearRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from gdlearn import ConvergenceWarning, DivergenceError, LinearRegression


def lstsq_solution(X, y, sample_weight=None, fit_intercept=True):
    A = np.c_[X, np.ones(len(X))] if fit_intercept else X
    sw = np.ones(len(X)) if sample_weight is None else sample_weight
    r = np.sqrt(sw)
    coef = np.linalg.lstsq(A * r[:, None], y * r, rcond=None)[0]
    return (coef[:-1], coef[-1]) if fit_intercept else (coef, 0.0)


def half_mse(X, y, coef, intercept, sw=None):
    r = X @ coef + intercept - y
    sw = np.ones(len(y)) if sw is None else sw
    return 0.5 * np.sum(sw * r**2) / np.sum(sw)


def test_housing_split_matches_least_squares_and_sklearn(housing):
    X, y = housing
    assert X.shape == (506, 12)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=0)
    model = LinearRegression().fit(X_tr, y_tr)
    assert model.converged_
    w, b = lstsq_solution(X_tr, y_tr)
    J_star = half_mse(X_tr, y_tr, w, b)
    J = half_mse(X_tr, y_tr, model.coef_, model.intercept_)
    assert J >= J_star * (1 - 1e-12)
    assert (J - J_star) / J_star < 1e-6
    sk = SkLinearRegression().fit(X_tr, y_tr)
    assert abs(r2_score(y_te, model.predict(X_te)) - sk.score(X_te, y_te)) < 1e-3
    # the loss curve ends at the reported loss, in the user's units
    assert model.loss_curve_[-1] == pytest.approx(J, rel=1e-12)


def test_raw_housing_coefficients_equal_least_squares(housing):
    """Preconditioning is internal: coefficients are those of the stated problem."""
    X, y = housing
    model = LinearRegression(tol=1e-9, max_iter=5000).fit(X, y)
    w, b = lstsq_solution(X, y)
    np.testing.assert_allclose(model.coef_, w, rtol=1e-6, atol=1e-9)
    assert model.intercept_ == pytest.approx(b, rel=1e-6)


def test_the_readme_claim_default_fit_equals_least_squares_to_1e_11(housing):
    """README, "A short tour": at the default tol, LinearRegression() on raw housing is the least-squares solution."""
    X, y = housing
    model = LinearRegression().fit(X, y)
    w, b = lstsq_solution(X, y)
    np.testing.assert_allclose(model.coef_, w, rtol=1e-11, atol=0)
    assert model.intercept_ == pytest.approx(b, rel=1e-11, abs=0)


@pytest.mark.parametrize("solver", ["gd", "lbfgs", "fista", "momentum"])
def test_raw_housing_every_default_step_reaches_optimum(housing, solver):
    X, y = housing
    model = LinearRegression(solver=solver, max_iter=5000, tol=1e-7).fit(X, y)
    w, b = lstsq_solution(X, y)
    J_star = half_mse(X, y, w, b)
    assert (half_mse(X, y, model.coef_, model.intercept_) - J_star) / J_star < 1e-8


def test_no_intercept_matches_least_squares(housing_std):
    X, y = housing_std
    model = LinearRegression(fit_intercept=False, tol=1e-10).fit(X, y)
    w, _ = lstsq_solution(X, y, fit_intercept=False)
    np.testing.assert_allclose(model.coef_, w, rtol=1e-7)
    assert model.intercept_ == 0.0


def test_sample_weight_equals_repetition(rng):
    X = rng.normal(size=(40, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=40)
    sw = rng.integers(0, 4, size=40).astype(float)
    weighted = LinearRegression(tol=1e-10).fit(X, y, sample_weight=sw)
    repeated = LinearRegression(tol=1e-10).fit(np.repeat(X, sw.astype(int), 0), np.repeat(y, sw.astype(int)))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-8)
    w, b = lstsq_solution(X, y, sw)
    np.testing.assert_allclose(weighted.coef_, w, rtol=1e-7)


def test_multi_output_equals_separate_fits(rng):
    X = rng.normal(size=(60, 4))
    Y = np.c_[X @ [1, 2, 3, 4], X @ [-1, 0, 1, 0] + 5]
    both = LinearRegression(tol=1e-10).fit(X, Y)
    assert both.coef_.shape == (2, 4) and both.intercept_.shape == (2,)
    assert both.predict(X).shape == (60, 2)
    for k in range(2):
        single = LinearRegression(tol=1e-10).fit(X, Y[:, k])
        np.testing.assert_allclose(both.coef_[k], single.coef_, rtol=1e-7, atol=1e-9)


def test_deterministic_bit_identical(housing):
    X, y = housing
    for kwargs in [{}, {"solver": "adam"}, {"batch_size": 32, "max_iter": 5}]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            a = LinearRegression(random_state=3, **kwargs).fit(X, y)
            b = LinearRegression(random_state=3, **kwargs).fit(X, y)
        assert np.array_equal(a.coef_, b.coef_) and a.intercept_ == b.intercept_
        assert a.loss_curve_ == b.loss_curve_


def test_gd_diverges_above_two_over_L_and_converges_below(housing_std):
    """Plain GD with a fixed α on standardised housing: 2/L is the stability edge."""
    X, y = housing_std
    A = np.c_[X, np.ones(len(X))]
    L = np.linalg.eigvalsh(A.T @ A / len(X))[-1]  # independent of gdlearn's power iteration
    with pytest.raises(DivergenceError) as info:
        LinearRegression(solver="gd", learning_rate=1.05 * 2 / L, max_iter=3000).fit(X, y)
    err = info.value
    message = str(err)
    assert "diverged at iteration" in message and "2/L" in message
    assert err.max_stable_learning_rate == pytest.approx(2 / L, rel=1e-6)
    assert f"{2 / L:.6g}" in message
    assert err.iteration < 200
    assert err.history is not None and len(err.history["loss"]) == err.iteration + 1

    model = LinearRegression(solver="gd", learning_rate=0.95 * 2 / L, max_iter=3000).fit(X, y)
    assert model.converged_
    assert np.all(np.isfinite(model.coef_))
    assert np.all(np.diff(model.loss_curve_) <= 1e-12)  # α < 2/L: the loss never rises


def test_huge_learning_rate_fails_fast_and_keeps_previous_fit(housing):
    X, y = housing
    model = LinearRegression().fit(X, y)
    coef = model.coef_.copy()
    with pytest.raises(DivergenceError, match=r"iteration \d"):
        model.set_params(solver="gd", learning_rate=10.0).fit(X, y)
    np.testing.assert_array_equal(model.coef_, coef)  # the failed fit loses nothing


def test_max_iter_warns_with_advice(housing):
    X, y = housing
    with pytest.warns(ConvergenceWarning, match="Increase max_iter"):
        model = LinearRegression(solver="gd", precondition="diagonal", max_iter=3).fit(X, y)
    assert model.n_iter_ == 3 and not model.converged_
    assert len(model.loss_curve_) == 4
    with pytest.warns(ConvergenceWarning) as caught:  # solver="auto" ran gd because α was fixed: advise α, not solver
        LinearRegression(learning_rate=1e-7, max_iter=3).fit(X, y)
    text = str(caught[0].message)
    assert "learning_rate='auto', with which solver='auto' picks L-BFGS or Newton" in text
    assert "use solver='auto'" not in text
    with pytest.warns(ConvergenceWarning, match="or use solver='auto' \\(L-BFGS or Newton\\)"):
        LinearRegression(solver="gd", precondition="diagonal", max_iter=3).fit(X, y)


def test_scale_of_target_does_not_change_iterations(housing):
    """Prices in dollars or in thousands: the same fit (unit-free stopping rule)."""
    X, y = housing
    a = LinearRegression().fit(X, y)
    b = LinearRegression().fit(X, 1000 * y)
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(1000 * a.coef_, b.coef_, rtol=1e-9)
