"""Numerical extremes: no NaN, no leaked overflow warnings, documented behaviour.

pytest is configured to turn every RuntimeWarning (overflow, divide by zero,
invalid value) into an error, so a leak fails these tests.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone

from gdlearn import ConvergenceWarning, LinearRegression, LogisticRegression, PerfectSeparationWarning


def problem(seed=0, n=60, p=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X @ np.arange(1.0, p + 1) + 0.3 * rng.normal(size=n)
    return X, y


def lstsq(X, y):
    A = np.c_[X, np.ones(len(X))]
    s = np.linalg.lstsq(A, y, rcond=None)[0]
    return s[:-1], s[-1]


SCALES = [(x, y) for x in (1e-300, 1e-150, 1e150) for y in (1e-120, 1.0, 1e120) if y / x < 1e300 and x * y > 1e-300]


@pytest.mark.parametrize("x_scale,y_scale", SCALES)
def test_extreme_scales_give_the_scaled_solution(x_scale, y_scale):
    """Features near the float limits and extreme targets: the least-squares answer, rescaled."""
    X, y = problem()
    w, b = lstsq(X, y)
    model = LinearRegression(tol=1e-8).fit(X * x_scale, y * y_scale)
    np.testing.assert_allclose(model.coef_ * x_scale / y_scale, w, rtol=1e-6)
    assert model.intercept_ / y_scale == pytest.approx(b, rel=1e-6, abs=1e-9)
    assert np.all(np.isfinite(model.loss_curve_))


def test_unrepresentable_coefficients_are_refused():
    X, y = problem()
    with pytest.raises(ValueError, match="coefficients.*cannot be represented in double precision.*Rescale"):
        LinearRegression().fit(X * 1e-300, y * 1e120)
    with pytest.raises(ValueError, match="gradients.*cannot be represented in double precision.*Rescale"):
        LinearRegression().fit(X * 1e-300, y * 1e-120)


def test_extreme_features_in_logistic_regression():
    X, y = problem()
    labels = (y + 3 * np.random.default_rng(1).normal(size=len(y)) > 0).astype(int)  # not separable
    ref = LogisticRegression(tol=1e-8).fit(X, labels)
    for scale in (1e-300, 1e150):
        model = LogisticRegression(tol=1e-8).fit(X * scale, labels)
        np.testing.assert_allclose(model.predict_proba(X * scale), ref.predict_proba(X), rtol=1e-6)
        np.testing.assert_allclose(model.coef_ * scale, ref.coef_, rtol=1e-6)
    # a penalty on near-constant tiny features: no overflow, the penalty wins.  The optimum is, to first order in
    # the features' size, b = logit(ȳ) and W = (1e-256·X)ᵀ(y − ȳ)/λ₂ ≈ 1e-255 (stationarity at p = ȳ): the fit
    # must be that tiny (it stops at W = 0, whose gradient is below any tolerance), never a large W
    tiny = LogisticRegression(l2=1.0).fit(X * 1e-256, labels)
    optimum = 1e-256 * X.T @ (labels - labels.mean())
    assert np.all(np.isfinite(tiny.coef_)) and np.all(np.abs(tiny.coef_) <= 10 * np.abs(optimum).max())
    assert tiny.intercept_[0] == pytest.approx(np.log(labels.mean() / (1 - labels.mean())), rel=1e-9)
    np.testing.assert_allclose(tiny.predict_proba(X * 1e-256)[:, 1], labels.mean(), rtol=1e-9)


def test_constant_and_duplicated_features():
    X, y = problem()
    Xc = np.c_[X, np.full(len(X), 7.0), X[:, 0]]  # a constant column and a duplicate
    model = LinearRegression(tol=1e-9).fit(Xc, y)
    w, b = lstsq(X, y)
    assert model.coef_[3] == 0.0  # the constant column carries no information
    # the duplicated pair shares the weight (minimum-norm split); predictions equal least squares
    assert model.coef_[0] == pytest.approx(model.coef_[4], rel=1e-8)
    np.testing.assert_allclose(model.predict(Xc), X @ w + b, rtol=1e-7)


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_perfect_separation_stops_cleanly_and_says_so(solver):
    X, _ = problem()
    labels = (X[:, 0] > 0).astype(int)
    with pytest.warns(PerfectSeparationWarning, match="perfectly separable.*l2 > 0"):
        clf = LogisticRegression(solver=solver, max_iter=300).fit(X, labels)
    assert np.all(np.isfinite(clf.coef_)) and clf.score(X, labels) == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # with a penalty the optimum is finite: no warning at all
        penalised = LogisticRegression(l2=1.0).fit(X, labels)
    assert penalised.converged_


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int64, np.int8, bool])
def test_input_dtypes(dtype):
    X, y = problem()
    Xd = (X > 0) if dtype is bool else (X * 10).astype(dtype)
    model = LinearRegression().fit(Xd, y)
    assert model.coef_.dtype == np.float64
    ref = LinearRegression().fit(np.asarray(Xd, dtype=np.float64), y)
    np.testing.assert_array_equal(model.coef_, ref.coef_)


def test_million_to_one_class_imbalance():
    rng = np.random.default_rng(0)
    n = 1_000_000
    X = rng.normal(size=(n, 2))
    y = np.zeros(n, dtype=int)
    y[0] = 1
    X[0] = [4.0, 4.0]
    clf = LogisticRegression(l2=1.0).fit(X, y)
    proba = clf.predict_proba(X[:1000])
    assert np.all(np.isfinite(proba)) and np.all(np.isfinite(clf.coef_))
    assert clf.intercept_[0] < -10  # log-odds of a one-in-a-million class
    assert clf.converged_


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    X=arrays(np.float64, st.tuples(st.integers(2, 25), st.integers(1, 4)), elements=st.floats(-1e6, 1e6)),
    seed=st.integers(0, 2**16),
    classify=st.booleans(),
)
@example(X=np.array([[5e-324, 0.0], [0.0, 0.0]]), seed=0, classify=False)  # found: whitening overflowed
def test_invariants_on_generated_data(X, seed, classify):
    """Finite loss, converged fits never end above their starting loss, finite predictions."""
    rng = np.random.default_rng(seed)
    if classify:
        y = rng.integers(0, 2, size=len(X))
        if len(np.unique(y)) < 2:
            y[0] = 1 - y[1]
        est = LogisticRegression(l2=1.0)
    else:
        y = X @ rng.normal(size=X.shape[1]) + rng.normal(size=len(X))
        est = LinearRegression()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            est.fit(X, y)
        except ValueError as exc:  # a clean refusal is allowed only for this documented case
            assert "cannot be represented in double precision" in str(exc)
            return
    curve = np.asarray(est.loss_curve_)
    assert np.all(np.isfinite(curve))
    if est.converged_:
        assert curve[-1] <= curve[0] * (1 + 1e-9) + 1e-12
    pred = est.predict_proba(X) if classify else est.predict(X)
    assert np.all(np.isfinite(pred))
    assert np.all(np.isfinite(est.coef_))


@pytest.mark.parametrize("tiny", [5e-324, 1e-320, 1e-310, 2.2250738585072014e-308, 1e-305, 1e-300])
@pytest.mark.parametrize("classify", [False, True])
@pytest.mark.parametrize("precondition", ["dense", "diagonal"])
@pytest.mark.parametrize("n_samples", [2, 7])
def test_a_column_that_is_zero_but_for_one_tiny_value(tiny, classify, precondition, n_samples):
    """Found by the fuzzer twice: a column whose spread is subnormal or near it.

    1/σ is near the top of float64's range, and whitening's 1/σ·Λ^{-1/2}
    overflows: the fit either refuses with the documented message or comes out
    finite, never with a warning or NaN, whatever the coordinates.
    """
    X = np.zeros((n_samples, 2))
    X[0, 0] = tiny
    X[1, 1] = 1.0
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=n_samples) if classify else X @ rng.normal(size=2) + rng.normal(size=n_samples)
    y[:2] = [0, 1] if classify else y[:2]
    est = LogisticRegression(l2=1.0) if classify else LinearRegression()
    est.set_params(precondition=precondition)
    try:
        est.fit(X, y)
    except ValueError as exc:  # the documented refusal, never a warning or NaN
        assert "cannot be represented in double precision" in str(exc)
        assert not classify  # with l2 > 0 the weights are bounded: never refused
        return
    assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.loss_curve_))
    # W₀ = 0 is allowed, so the fit ends no worse than the same fit without the tiny column
    without = clone(est).fit(X[:, 1:], y)
    assert est.loss_curve_[-1] <= without.loss_curve_[-1] * (1 + 1e-8) + 1e-12


def test_separation_warning_with_weights_near_the_top_of_the_range():
    """The separation diagnosis reports the weights' norm without overflowing (‖θ‖² > 1.8e308)."""
    X = np.zeros((4, 2))
    X[:, 0] = [0.0, 0.0, 1e-300, 2e-300]
    X[:, 1] = [0.3, -0.2, 0.1, -0.4]
    y = np.array([0, 0, 1, 1])
    with pytest.warns(PerfectSeparationWarning, match=r"finite weights of norm \d"):
        clf = LogisticRegression(precondition="diagonal").fit(X, y)
    assert np.all(np.isfinite(clf.coef_)) and np.abs(clf.coef_).max() > 1e154
