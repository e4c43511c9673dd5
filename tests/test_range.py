"""Data at the edges of float64's range, in every coordinate system, solver and storage.

Each test here stands for a class of failure a fuzzer found (an overflow
warning, which pytest turns into an error, or a NaN): the fix is at the root
and the test runs several members of the class, not only the one found.  The
wide fuzzer at the end draws across all of them.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone

from gdlearn import ConvergenceWarning, LinearRegression, LogisticRegression, PerfectSeparationWarning
from gdlearn._norms import vector_norm
from gdlearn.data.source import ArraySource
from gdlearn.exceptions import DivergenceError
from gdlearn.kernels import reference

REFUSALS = ("cannot be represented in double precision", "overflow double precision", "overflows double precision")


# ------------------------------------------------------------------ the norm


@pytest.mark.parametrize("scale", [1.0, 1e-200, 1e150, 1e155, 1e200, 1e300])
def test_vector_norm_agrees_with_the_definition_at_every_scale(scale):
    v = np.array([3.0, -4.0, 12.0]) * scale  # ‖v‖ = 13·scale
    assert vector_norm(v) == pytest.approx(13.0 * scale, rel=1e-15)
    assert vector_norm(v.reshape(3, 1)) == pytest.approx(13.0 * scale, rel=1e-15)


def test_vector_norm_of_zero_and_of_non_finite_entries():
    assert vector_norm(np.zeros(4)) == 0.0
    assert vector_norm(np.array([np.inf, 1.0])) == np.inf
    assert np.isnan(vector_norm(np.array([np.nan, 1e200])))


# -------------------------------------------- the user's own coordinates: x², x·y


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LinearRegression(precondition=False),
        lambda: LinearRegression(learning_rate=1e-300, solver="gd", max_iter=5),  # fixed α: user coordinates
        lambda: LinearRegression(precondition=False, batch_size=2, max_iter=3),
        lambda: LogisticRegression(precondition=False),
        lambda: LogisticRegression(precondition=False, solver="gd", max_iter=5),
        lambda: LogisticRegression(learning_rate=1e-300, max_iter=5),
    ],
)
@pytest.mark.parametrize("top", [2e150, 5e154, 1e300])
def test_features_whose_squares_overflow_are_refused_without_preconditioning(make, top):
    X = np.array([[top, 1.0], [0.0, 2.0], [top / 2, 3.0], [0.0, -1.0]])
    y = np.array([0, 1, 1, 0])
    with pytest.raises(ValueError, match=r"X reaches .*precondition=True.*rescale X"):
        _fit(make(), X, y)


@pytest.mark.parametrize("precondition", [True, "diagonal", "dense", "auto"])
def test_the_same_features_fit_with_preconditioning(precondition):
    X = np.array([[5e154, 1.0], [0.0, 2.0], [2.5e154, 3.0], [0.0, -1.0], [1e154, 0.5]])
    y = np.array([0.0, 1.0, 1.0, 0.0, 0.5])
    model = LinearRegression(precondition=precondition, tol=1e-12).fit(X, y)
    ref = np.linalg.lstsq(np.c_[X / [1e154, 1.0], np.ones(5)], y, rcond=None)[0]
    np.testing.assert_allclose(model.coef_ * [1e154, 1.0], ref[:2], rtol=1e-7)


@pytest.mark.parametrize("x_top, y_top", [(1e76, 1e76), (1e100, 1e51), (1e10, 1e141)])
def test_gradients_whose_squares_overflow_are_refused_without_preconditioning(x_top, y_top):
    """The gradient at θ = 0 is about Xᵀy: refused when |x|·|y| passes 1e150, though each is fine alone."""
    X = np.array([[x_top], [0.0], [x_top / 2]])
    y = np.array([y_top, 0.0, -y_top])
    with pytest.raises(ValueError, match=r"\|x\|·\|y\|.*precondition=True"):
        LinearRegression(precondition=False).fit(X, y)
    model = LinearRegression().fit(X, y)  # preconditioned: fine
    assert np.all(np.isfinite(model.coef_))


@pytest.mark.parametrize("solver", ["gd", "lbfgs", "momentum", "adam"])
@pytest.mark.parametrize("classify", [False, True])
def test_the_largest_unscaled_features_allowed_give_a_finite_fit(solver, classify):
    """Just inside the limit (|x| = 1e77, |x|·|y| < 1e150): power iteration's L ≈ 1e154, norms of 1e154."""
    X = np.array([[1e77], [0.0], [5e76], [2e76]])
    y = np.array([1, 0, 1, 0]) if classify else np.array([1.0, 0.0, 0.6, 0.1])
    est = (LogisticRegression if classify else LinearRegression)(precondition=False, solver=solver, max_iter=50)
    try:
        _fit(est, X, y)
    except DivergenceError:  # a clean, explained stop is allowed for the fixed-step rules
        assert solver in ("momentum", "adam")
        return
    assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.loss_curve_))


# ----------------------------------------- constant columns near the top of the range


@pytest.mark.parametrize("value", [1.4513331e220, 1e300, -3e250])
@pytest.mark.parametrize("storage", ["dense", "csr"])
@pytest.mark.parametrize("classify", [False, True])
@pytest.mark.parametrize("solver", ["auto", "gd", "lbfgs", "newton", "minibatch"])
def test_a_huge_constant_column_is_held_fixed_without_overflow(value, storage, classify, solver):
    """Constant columns are frozen; mapping them (β·1 in Newton's map, ±μⱼvⱼ in power iteration) overflowed."""
    rng = np.random.default_rng(1)
    X = np.c_[np.full(12, value), rng.normal(size=12)]
    y = (X[:, 1] > 0).astype(int) if classify else 2.0 * X[:, 1] + 0.1 * rng.normal(size=12)
    kw = {"batch_size": 4, "max_iter": 20, "random_state": 0} if solver == "minibatch" else {"solver": solver}
    if solver == "newton" and not classify:
        kw = {"solver": "lbfgs"}
    est = (LogisticRegression(l2=1.0) if classify else LinearRegression()).set_params(**kw)
    Xs = sp.csr_matrix(X) if storage == "csr" else X
    _fit(est, Xs, y)
    assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.loss_curve_))
    assert est.coef_.ravel()[0] == 0.0
    without = _fit(clone(est), X[:, 1:], y)  # the constant is absorbed by the intercept
    np.testing.assert_allclose(
        est.coef_.ravel()[1], without.coef_.ravel()[0], rtol=1e-6 if solver != "minibatch" else 0.5
    )


# ------------------------------------------------------ sparse column statistics


@pytest.mark.parametrize("weights", [None, "uniform", "awkward"])
def test_a_fully_stored_constant_sparse_column_has_exactly_zero_variance(weights):
    """Σsᵢ summed two ways once left ±ulp of 'implicit zeros' weight, a negative variance and √ of it."""
    n = 1000
    rng = np.random.default_rng(0)
    sw = {None: None, "uniform": rng.uniform(0.1, 3, n), "awkward": rng.uniform(0, 1, n) ** 8 * 1e3 + 1e-9}[weights]
    X = sp.csr_matrix(np.c_[np.ones(n), rng.normal(size=n)])
    var = reference.column_variance(X, sw, np.array([1.0, 0.0]), np.ones(2))
    assert var[0] == 0.0
    dense = reference.column_variance(X.toarray(), sw, np.array([1.0, 0.0]), np.ones(2))
    assert var[1] == pytest.approx(dense[1], rel=1e-12)


def test_sparse_input_with_duplicate_entries_is_read_as_its_sum():
    """CSR may store one position twice (scipy sums them on use); statistics count each position once."""
    rng = np.random.default_rng(0)
    X = np.where(rng.random((40, 3)) < 0.5, 0.0, rng.normal(size=(40, 3)))
    coo = sp.coo_matrix(X)
    rows = np.r_[coo.row, coo.row]
    order = np.argsort(rows, kind="stable")
    cols, data = np.r_[coo.col, coo.col][order], np.r_[coo.data, coo.data][order] / 2
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=40))]
    dup = sp.csr_matrix((data, cols, indptr), shape=X.shape)
    assert not dup.has_canonical_format and dup.nnz == 2 * coo.nnz
    y = np.zeros((40, 1))
    a = ArraySource(dup, y).statistics(center=True, gram=False)
    b = ArraySource(sp.csr_matrix(X), y).statistics(center=True, gram=False)
    np.testing.assert_allclose(a.second, b.second, rtol=1e-12)
    assert not dup.has_canonical_format  # the user's matrix is left as it was


@pytest.mark.parametrize("sw", [None, np.array([1.0, 2.0, 0.5, 3.0, 1.0, 1.0, 2.0, 0.25])])
def test_a_constant_sparse_column_with_weights_fits(sw):
    X = sp.csr_matrix(np.c_[np.ones(8), np.arange(8.0)])
    y = 0.5 * np.arange(8.0) + 1.0
    model = LinearRegression().fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(model.coef_, [0.0, 0.5], atol=1e-8)
    assert model.intercept_ == pytest.approx(1.0, abs=1e-7)


# -------------------------------------------- tiny columns in mini-batch step sizes


@pytest.mark.parametrize("tiny", [1e-200, 1e-250, 1e-300])
@pytest.mark.parametrize("l2", [0.0, 1e-3])
def test_minibatch_step_size_with_a_tiny_column(tiny, l2):
    """λ₂·max 1/σⱼ² squared 1/σ ≈ 1e200 even with λ₂ = 0 (0·inf = NaN); it is formed as (√λ₂/σ)² now."""
    rng = np.random.default_rng(0)
    X = np.c_[tiny * rng.integers(0, 3, 40), rng.normal(size=40)]
    y = X[:, 1] + 0.1 * rng.normal(size=40)
    try:
        model = _fit(LinearRegression(l2=l2, batch_size=10, max_iter=20, random_state=0), X, y)
    except ValueError as exc:
        assert "cannot be represented" in str(exc) and tiny < 1e-290
        return
    assert np.all(np.isfinite(model.coef_))
    assert model.coef_[1] == pytest.approx(1.0, abs=0.1)


# ---------------------------------------------------------------- the wide fuzzer


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    X=arrays(
        np.float64,
        st.tuples(st.integers(2, 20), st.integers(1, 4)),
        elements=st.floats(-1e300, 1e300) | st.sampled_from([0.0, 5e-324, 1e-310, 1e-150, 1.0, -1.0, 1e100]),
    ),
    seed=st.integers(0, 2**16),
    task=st.sampled_from(["regression", "binary", "multinomial"]),
    precondition=st.sampled_from(["auto", "dense", "diagonal", True, False]),
    l2=st.sampled_from([0.0, 1e-3, 1.0]),
    l1=st.sampled_from([0.0, 0.0, 0.1]),
    solver=st.sampled_from(["auto", "gd", "lbfgs", "adam", "momentum", "newton", "minibatch"]),
    fit_intercept=st.booleans(),
    weighted=st.booleans(),
    y_scale=st.sampled_from([1.0, 1e-100, 1e100]),
    storage=st.sampled_from(["C", "F", "float32", "csr"]),
)
def test_any_data_any_options_fit_finite_or_refuse_clearly(
    X, seed, task, precondition, l2, l1, solver, fit_intercept, weighted, y_scale, storage
):
    """Finite coefficients, losses and predictions, or a documented refusal: never a warning or NaN."""
    rng = np.random.default_rng(seed)
    n = len(X)
    kw = dict(l2=l2, l1=l1, precondition=precondition, max_iter=60, fit_intercept=fit_intercept)
    kw.update({"batch_size": max(1, n // 3)} if solver == "minibatch" else {"solver": solver})
    if task == "regression":
        with np.errstate(over="ignore", invalid="ignore"):
            y = (X @ rng.normal(size=X.shape[1]) + rng.normal(size=n)) * y_scale
        if not np.all(np.isfinite(y)):
            return
        est = LinearRegression(**kw)
    else:
        y = rng.integers(0, 2 if task == "binary" else 3, size=n)
        y[:2] = [0, 1]
        est = LogisticRegression(**kw)
    if storage == "float32":
        with np.errstate(over="ignore"):
            X = X.astype(np.float32)
        if not np.all(np.isfinite(X)):
            return
    X = sp.csr_matrix(X) if storage == "csr" else np.asfortranarray(X) if storage == "F" else X
    sw = rng.uniform(0.1, 3.0, size=n) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        try:
            est.fit(X, y, sample_weight=sw)
        except ValueError as exc:
            message = str(exc)
            incompatible = any(w in message for w in ("solver", "l1", "Newton", "batch"))
            assert incompatible or any(r in message for r in REFUSALS), message
            return
        except DivergenceError:
            assert solver in ("gd", "momentum", "adam", "minibatch") or precondition is False
            return
    assert np.all(np.isfinite(est.loss_curve_))
    assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.intercept_))
    pred = est.predict(X) if task == "regression" else est.predict_proba(X)
    assert np.all(np.isfinite(pred))
