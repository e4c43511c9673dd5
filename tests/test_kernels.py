"""The one reader of X: the compiled kernel equals the NumPy reference; no copy of X is made."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdlearn import ConvergenceWarning, LinearRegression, LogisticRegression, kernels
from gdlearn.data.source import ArraySource
from gdlearn.kernels import compiled, reference
from gdlearn.kernels._vmath import exp_neg, log1p_unit
from gdlearn.losses import BinaryLogLoss, HalfSquaredError, MultinomialLogLoss

LOSSES = {"squared": HalfSquaredError(), "log": BinaryLogLoss(), "multinomial": MultinomialLogLoss()}


def problem(rng, m, p, kind, k=1, dtype=np.float64, order="C"):
    X = np.asarray(rng.normal(size=(m, p)) * rng.uniform(0.1, 3, size=p) + rng.normal(size=p), dtype=dtype, order=order)
    if kind == "multinomial":
        k = max(k, 3)
        Y = np.eye(k)[rng.integers(0, k, m)]
    elif kind == "log":
        Y = rng.integers(0, 2, size=(m, 1)).astype(float)
    else:
        Y = rng.normal(size=(m, k))
    W = rng.normal(size=(p, Y.shape[1])) * 0.3
    b = rng.normal(size=Y.shape[1])
    return X, Y, W, b


def assert_sums_close(got, want, rtol):
    assert got[0] == pytest.approx(want[0], rel=rtol, abs=0)
    scale = max(np.abs(want[1]).max(), np.abs(want[2]).max(), 1e-300)
    np.testing.assert_allclose(got[1], want[1], rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(got[2], want[2], rtol=rtol, atol=rtol * scale)


CASES = [  # (m, p, k): blocks of 512 rows per thread share; m not a multiple of them, n = 1, m = 1
    (5003, 50, 1),
    (1, 7, 1),
    (9000, 1, 1),
    (2049, 13, 2),
    (700, 200, 1),
]


@pytest.mark.parametrize("kind", ["squared", "log", "multinomial"])
@pytest.mark.parametrize("m,p,k", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_compiled_kernel_equals_reference(rng, kind, m, p, k, dtype, weighted):
    X, Y, W, b = problem(rng, m, p, kind, k, dtype)
    sw = rng.uniform(0, 3, size=m) if weighted else None
    loss = LOSSES[kind]
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    want = reference.loss_sums(X, Y, sw, W, b, loss)
    got = compiled.loss_sums(X, Y, sw, W, b, loss.kernel_id)
    assert_sums_close(got, want, rtol)
    rows = rng.integers(0, m, size=min(m, 37))  # a mini-batch by index, repeats allowed
    assert_sums_close(
        compiled.loss_sums(X, Y, sw, W, b, loss.kernel_id, rows=rows),
        reference.loss_sums(X, Y, sw, W, b, loss, rows=rows),
        rtol,
    )
    value_only = compiled.loss_sums(X, Y, sw, W, b, loss.kernel_id, need_grad=False)
    assert value_only[0] == pytest.approx(want[0], rel=rtol) and value_only[1] is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_curvature_pass_and_statistics_agree(rng, dtype):
    X, Y, W, b = problem(rng, 3001, 17, "squared", 2, dtype)
    sw = rng.uniform(0.5, 2, size=len(X))
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    want = reference.loss_sums(X, None, sw, W, b, None)
    got = compiled.loss_sums(X, None, sw, W, b, compiled.CURVATURE)
    np.testing.assert_allclose(got[1], want[1], rtol=rtol)
    np.testing.assert_allclose(got[2], want[2], rtol=rtol)
    inv = 1.0 / np.abs(X).max(axis=0)
    for a, c in zip(compiled.column_moments(X, sw, inv), reference.column_moments(X, sw, inv)):
        np.testing.assert_allclose(a, c, rtol=rtol)
    shift = X.mean(axis=0).astype(float)
    np.testing.assert_allclose(
        compiled.column_variance(X, sw, shift, inv), reference.column_variance(X, sw, shift, inv), rtol=rtol
    )
    assert compiled.max_row_norm(X, sw, shift, inv) == pytest.approx(
        reference.max_row_norm(X, sw, shift, inv), rel=rtol
    )


def test_reference_kernel_against_plain_formulas(rng):
    """The reference itself, against the formulas written out (no shared code)."""
    X, Y, W, b = problem(rng, 300, 4, "log")
    z = X @ W + b
    p = 1 / (1 + np.exp(-z))
    value, XtR, rsum = reference.loss_sums(X, Y, None, W, b, BinaryLogLoss())
    assert value == pytest.approx(-np.sum(Y * np.log(p) + (1 - Y) * np.log(1 - p)), rel=1e-12)
    np.testing.assert_allclose(XtR, X.T @ (p - Y), rtol=1e-12)
    np.testing.assert_allclose(rsum, (p - Y).sum(axis=0), rtol=1e-12)


def test_layouts_and_sparse_give_the_same_sums(rng):
    """C order is read by the compiled kernel, F order and CSR by NumPy: all in place, all equal."""
    X, Y, W, b = problem(rng, 14_000, 80, "log")  # 9 MB: above the compiled kernel's threshold
    F = np.asfortranarray(X)
    assert kernels.use_compiled(X, BinaryLogLoss()) and not kernels.use_compiled(F, BinaryLogLoss())
    want = reference.loss_sums(X, Y, None, W, b, BinaryLogLoss())
    for data in (X, F, sp.csr_matrix(X), X[:, :], np.ascontiguousarray(X)):
        assert_sums_close(kernels.loss_sums(data, Y, None, W, b, BinaryLogLoss()), want, 1e-12)


def test_threads_do_not_change_the_sums_beyond_rounding(rng, monkeypatch):
    X, Y, W, b = problem(rng, 20_000, 30, "log")
    monkeypatch.setenv("GDLEARN_NUM_THREADS", "1")
    one = compiled.loss_sums(X, Y, None, W, b, 1)
    monkeypatch.setenv("GDLEARN_NUM_THREADS", "2")
    two = compiled.loss_sums(X, Y, None, W, b, 1)
    assert_sums_close(two, one, 1e-12)


def test_vectorised_exp_and_log1p_are_accurate():
    import numba

    @numba.njit
    def apply(x, out_e, out_l):
        for i in range(x.shape[0]):
            out_e[i] = exp_neg(x[i])
            out_l[i] = log1p_unit(exp_neg(x[i]))

    x = -np.concatenate([np.linspace(0, 745, 200_001), np.logspace(-300, 2, 10_000), [0.0, 1e-17, 709.78]])
    e, lg = np.empty_like(x), np.empty_like(x)
    apply(x, e, lg)
    ref_e = np.exp(x)
    normal = ref_e > np.finfo(float).tiny
    assert np.max(np.abs(e[normal] - ref_e[normal]) / ref_e[normal]) < 4.5e-16
    assert np.max(np.abs(e[~normal] - ref_e[~normal])) < 1e-320  # subnormal results: absolute accuracy
    ref_l = np.log1p(ref_e)
    assert np.max(np.abs(lg[normal] - ref_l[normal]) / ref_l[normal]) < 1e-15  # log(1 + e) would lose it all


@pytest.mark.parametrize("dtype,order", [(np.float64, "C"), (np.float32, "C"), (np.float64, "F")])
@pytest.mark.parametrize("Est", [LinearRegression, LogisticRegression])
def test_fit_makes_no_copy_of_X(dtype, order, Est):
    """Peak memory of a fit stays far below the size of X (traced NumPy allocations; X is 32 MB)."""
    rng = np.random.default_rng(0)
    m, p = 40_000, 200 if dtype == np.float32 else 100
    X = np.asarray(rng.normal(size=(m, p)), dtype=dtype, order=order)
    z = X[:, :5].sum(axis=1)
    y = z + rng.normal(size=m) if Est is LinearRegression else (z > 0).astype(int)
    Est(l2=1.0).fit(X[:1000], y[:1000])  # warm-up: imports and compilation are not the fit
    tracemalloc.start()
    try:
        model = Est(l2=1.0).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert X.nbytes >= 32e6
    assert peak < 0.1 * X.nbytes + 2e6, f"peak {peak / 1e6:.1f} MB for X of {X.nbytes / 1e6:.0f} MB"
    assert model.coef_.dtype == np.float64


def test_sources_hold_the_users_array():
    X = np.ones((10, 3), dtype=np.float32)
    source = ArraySource(X, np.zeros((10, 1)))
    assert source.X is X


def test_passes_over_X_are_counted_and_few(rng):
    """LinearRegression() reads X twice (moments, then the Gram matrix), whatever the conditioning."""
    X = rng.normal(size=(2000, 8)) @ rng.normal(size=(8, 8)) * np.logspace(-2, 2, 8) + 5
    y = X @ rng.normal(size=8) + rng.normal(size=2000)
    with kernels.count_passes() as counter:
        model = LinearRegression().fit(X, y)
    assert counter.passes == 2 and counter.by_kind == {"moments": 1, "gram": 1}
    assert model.converged_
    with kernels.count_passes() as counter, pytest.warns(ConvergenceWarning, match="max_iter=50"):
        LinearRegression(solver="gd", learning_rate=1e-9, max_iter=50).fit(X, y)
    assert counter.by_kind == {"moments": 1, "gram": 1}  # every gradient from the Gram matrix
    with kernels.count_passes() as counter, pytest.warns(ConvergenceWarning, match="max_iter=3"):
        LinearRegression(batch_size=100, max_iter=3).fit(X, y)
    assert counter.by_kind.get("loss", 0) == 1 + 3  # one full evaluation per epoch, batches not counted
    y01 = (y > np.median(y)).astype(int)
    with kernels.count_passes() as counter:
        newton = LogisticRegression(solver="newton", l2=1.0, tol=1e-10).fit(X, y01)
    # J and ∇J at the start, the first Hessian, then one pass per step: each accepted trial's Hessian serves the next
    assert newton.converged_ and counter.by_kind["loss"] == 2 + newton.n_iter_


def test_warm_up_compiles_every_signature():
    from gdlearn.kernels.__main__ import warm_up

    assert warm_up() >= 0.0
    assert compiled._pass.signatures and compiled._pass_rows.signatures  # both dtypes compiled (or loaded)
    assert {sig[0].dtype.name for sig in compiled._pass.signatures} >= {"float32", "float64"}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],  # the env var is constant
)
@given(
    m=st.integers(1, 2500),
    p=st.integers(1, 40),
    kind=st.sampled_from(["squared", "log", "multinomial"]),
    k=st.integers(1, 3),
    dtype=st.sampled_from([np.float64, np.float32]),
    order=st.sampled_from(["C", "F"]),
    weighted=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_dispatched_kernel_equals_reference_on_random_shapes(m, p, kind, k, dtype, order, weighted, seed, monkeypatch):
    """Whatever the shape, dtype and order, the kernel gdlearn picks gives the reference's sums."""
    monkeypatch.setenv("GDLEARN_KERNEL", "compiled")  # the compiled kernel even for small X (C order)
    rng = np.random.default_rng(seed)
    X, Y, W, b = problem(rng, m, p, kind, k, dtype, order)
    sw = rng.uniform(0, 2, size=m) if weighted else None
    loss = LOSSES[kind]
    assert kernels.use_compiled(X, loss) == X.flags.c_contiguous
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert_sums_close(kernels.loss_sums(X, Y, sw, W, b, loss), reference.loss_sums(X, Y, sw, W, b, loss), rtol)
