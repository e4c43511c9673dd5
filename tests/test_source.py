"""Data sources: the Gram matrix gives the same objective as reading X; statistics without cancellation."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from gdlearn import LinearRegression
from gdlearn.data.source import ArraySource, BlockSource, GramSource
from gdlearn.losses import BinaryLogLoss, HalfSquaredError


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("scale", [1.0, 1e-150, 1e120])
def test_gram_source_answers_like_the_data(rng, center, weighted, k, scale):
    m, p = 500, 6
    X = (rng.normal(size=(m, p)) * np.logspace(-2, 2, p) + 50) * scale
    Y = rng.normal(size=(m, k)) * 3 + 10
    sw = rng.uniform(0.1, 2, size=m) if weighted else None
    data = ArraySource(X, Y, sw)
    gram = GramSource(data.statistics(center=center, gram=True, targets=True))
    W = rng.normal(size=(p, k)) / scale
    b = rng.normal(size=k)
    loss = HalfSquaredError()
    for a, c in zip(gram.loss_sums(loss, W, b), data.loss_sums(loss, W, b)):
        np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-9 * np.max(np.abs(c)))
    for a, c in zip(gram.curvature_sums(W, b), data.curvature_sums(W, b)):
        np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-9 * np.max(np.abs(c)))
    shift, inv = X.mean(axis=0), 1.0 / np.abs(X).max(axis=0)
    np.testing.assert_allclose(
        gram.hessian_sums(loss, W, b, shift, inv), data.hessian_sums(loss, W, b, shift, inv), rtol=1e-9, atol=1e-12 * m
    )
    with pytest.raises(TypeError, match="squared loss only"):
        gram.loss_sums(BinaryLogLoss(), W, b)


def test_statistics_match_numpy(rng):
    X = rng.normal(size=(1000, 4)) * [1e-3, 1, 1e3, 1e6] + [0, 5, -1e4, 1e7]
    sw = rng.uniform(0, 2, size=1000)
    stats = ArraySource(X, np.zeros((1000, 1)), sw).statistics(center=True, gram=True)
    mean = np.average(X, axis=0, weights=sw)
    var = np.average((X - mean) ** 2, axis=0, weights=sw)
    np.testing.assert_allclose(stats.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(stats.std, np.sqrt(var), rtol=1e-10)
    cov = np.cov(X.T, aweights=sw, bias=True)
    np.testing.assert_allclose(stats.gram[:4, :4] * np.outer(stats.scale, stats.scale), cov, rtol=1e-9)
    assert np.all(stats.scale >= np.abs(X).max(axis=0)) and np.all(stats.scale < 2 * np.abs(X).max(axis=0))


@pytest.mark.parametrize("offset", [1e4, 1e6])  # relative spread 1e-9, 1e-11: above rounding noise (1e-12)
def test_variance_of_a_large_constant_plus_noise_does_not_cancel(rng, offset):
    """E[x²] − μ² would call these columns constant; dense, sparse and Gram passes all keep their spread."""
    m = 2000
    noise = rng.normal(size=m) * 1e-5
    X = np.c_[offset + noise, rng.normal(size=m)]
    want = np.std(X[:, 0])
    for data in (X, sp.csr_matrix(X), np.asfortranarray(X)):
        for gram in (True, False):
            stats = ArraySource(data, np.zeros((m, 1))).statistics(center=True, gram=gram)
            assert stats.std[0] == pytest.approx(want, rel=1e-3)  # E[x²] − μ² would be off by 100% or more
            assert not stats.constant[0]
    y = 3e5 * noise + X[:, 1]
    for data in (X, sp.csr_matrix(X)):
        model = LinearRegression().fit(data, y)
        assert model.score(X, y) > 0.999  # the tiny-spread column explains y


def test_sparse_statistics_count_the_implicit_zeros(rng):
    X = rng.normal(size=(300, 5)) * (rng.random((300, 5)) < 0.3) + 0.0
    sw = rng.uniform(0.5, 2, size=300)
    dense = ArraySource(X, np.zeros((300, 1)), sw).statistics(center=True, gram=False)
    sparse = ArraySource(sp.csr_matrix(X), np.zeros((300, 1)), sw).statistics(center=True, gram=False)
    np.testing.assert_allclose(sparse.mean, dense.mean, rtol=1e-12)
    np.testing.assert_allclose(sparse.second, dense.second, rtol=1e-10)


def test_column_units_are_normal_powers_of_two():
    from gdlearn.data.stats import power_of_two

    values = np.array([5e-324, 1e-310, 0.75, 1.0, 3.0, 1e300, 1.7e308, 0.0, np.inf])
    beta = power_of_two(values)
    assert np.all(np.isfinite(beta)) and np.all(np.isfinite(1.0 / beta))
    assert np.all(np.frexp(beta)[0] == 0.5)  # exact powers of two: scaling by them is exact
    np.testing.assert_array_equal(beta[2:5], [1.0, 2.0, 4.0])  # the smallest power of two above |x|
    assert beta[0] == beta[1] == 2.0**-1022 and beta[6] == 2.0**1023


@pytest.mark.parametrize("value", [5e-324, 1e-310, 1e-300, 1e300])
def test_fits_on_features_at_the_float_limits(value):
    X = (
        np.array([[value], [value], [2 * value], [0.0]])
        if value < 1e300
        else np.array([[value], [-value], [0.5 * value], [0.0]])
    )
    y = np.array([1.0, 2.0, 3.0, 0.5])
    try:
        model = LinearRegression().fit(X, y)
    except ValueError as exc:  # the documented refusal, never an overflow warning or NaN
        assert "cannot be represented in double precision" in str(exc)
    else:
        assert np.all(np.isfinite(model.coef_)) and np.isfinite(model.intercept_)


class Blocks(BlockSource):
    """In-memory rows cut into uneven blocks: the statistics are merged block by block, as a file's or a cluster's."""

    def __init__(self, X, Y, sw, cuts):
        self.parts = [(X[a:b], Y[a:b], None if sw is None else sw[a:b]) for a, b in zip(cuts, cuts[1:])]
        self.n_samples, self.n_features = X.shape
        self.n_outputs, self.n_blocks = Y.shape[1], len(self.parts)
        self.weight_sum = float(len(X) if sw is None else sw.sum())
        self.reads = 0

    def block(self, i):
        self.reads += 1
        return self.parts[i]


def merged_problem(rng, m=600):
    """Columns whose blocks have other scales (1e-3 to 1e300 in one column), offsets, a constant column."""
    X = rng.normal(size=(m, 5)) * [1.0, 1e-3, 1e5, 2.0, 0.0] + [3.0, 0.0, -1e6, 7.0, 4.0]
    X[:50, 0] *= 1e-200  # one block of a column far below the others
    X[500:, 3] *= 1e300  # and one far above (near the top of double precision)
    Y = np.c_[X[:, 0] * 2 + rng.normal(size=m), rng.normal(size=m) * 1e4 + 5]
    return X, Y


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("gram, targets", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("weights", ["none", "uneven", "zero blocks"])
def test_statistics_merged_block_by_block_equal_one_block(rng, center, gram, targets, weights):
    """One pass over 7 uneven blocks (Chan's pairwise merge) gives the statistics of the rows as one block."""
    X, Y = merged_problem(rng)
    sw = None if weights == "none" else rng.uniform(0.1, 3.0, size=len(X))
    if weights == "zero blocks":
        sw[50:120] = 0.0  # a whole block of weight zero
        sw[598:] = 0.0
    cuts = [0, 50, 120, 121, 300, 500, 598, 600]
    source = Blocks(X, Y, sw, cuts)
    got = source.statistics(center=center, gram=gram, targets=targets)
    want = ArraySource(X, Y, sw).statistics(center=center, gram=gram, targets=targets)
    assert source.reads == 7  # one pass: each block read once
    for name in ("scale", "y_scale", "max_abs", "y_max_abs"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    for name in ("mean", "shift", "y_mean", "second", "y_second", "gram"):
        a, b = getattr(got, name), getattr(want, name)
        if b is None:
            assert a is None
            continue
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14 * np.max(np.abs(b)), err_msg=name)
    np.testing.assert_array_equal(got.constant, want.constant)
    assert got.constant[4] == center and not got.constant[:4].any()  # 4.0 everywhere: constant about its mean
    w = np.ones(len(X)) if sw is None else sw  # and against NumPy, in user units
    mean = np.average(X[:, :3], axis=0, weights=w)
    np.testing.assert_allclose(got.mean[:3], mean, rtol=1e-12)
    if center:
        np.testing.assert_allclose(
            got.std[:3], np.sqrt(np.average((X[:, :3] - mean) ** 2, axis=0, weights=w)), rtol=1e-11
        )
    else:
        np.testing.assert_allclose(got.std[:3] ** 2, np.average(X[:, :3] ** 2, axis=0, weights=w), rtol=1e-11)


def test_merged_gram_source_fits_the_least_squares_solution(rng):
    """The squared loss from the merged Gram matrix: gradient descent to the weighted least-squares optimum."""
    X = rng.normal(size=(400, 3)) * [1.0, 10.0, 0.1] + [5.0, -2.0, 1.0]
    y = X @ [1.0, -0.5, 3.0] + 4.0 + rng.normal(size=400)
    sw = rng.uniform(0.5, 2.0, size=400)
    source = Blocks(X, y[:, None], sw, [0, 7, 150, 151, 399, 400])
    gram = GramSource(source.statistics(center=True, gram=True, targets=True))
    A = np.c_[X, np.ones(400)] * np.sqrt(sw)[:, None]
    want, *_ = np.linalg.lstsq(A, y * np.sqrt(sw), rcond=None)
    W, b = want[:3, None], want[3:]
    value, XtR, rsum = gram.loss_sums(HalfSquaredError(), W, b)
    assert np.max(np.abs(XtR)) < 1e-8 * np.sum(sw) and abs(rsum[0]) < 1e-8 * np.sum(sw)  # the optimum's gradient
    np.testing.assert_allclose(value, 0.5 * np.sum(sw * (A @ want / np.sqrt(sw) - y) ** 2), rtol=1e-10)


XMAX = np.finfo(np.float64).max


@pytest.mark.parametrize("gram", [True, False])
def test_features_at_the_largest_doubles_give_a_finite_mean_and_no_overflow_warning(gram):
    """Sums near 1e308 overflow and are taken again in units of β, quietly (RuntimeWarnings are errors here); a mean
    that rounding would put above the largest value (three copies of it, weights 0.17) stays that value."""
    X = np.array([[1.5e308, 1.0], [1.5e308, 2.0], [0.0, 3.0], [1e308, 0.5]])
    stats = ArraySource(X, np.zeros((4, 1))).statistics(center=True, gram=gram)
    want = math.fsum(X[:, 0] / 4)  # the mean of 4 values, summed in quarters (1e308)
    assert stats.mean[0] == pytest.approx(want, rel=1e-15, abs=0)
    spread = 1e300 * math.sqrt(math.fsum(((X[:, 0] - want) / 1e300) ** 2) / 4)
    assert np.all(np.isfinite(stats.std)) and stats.std[0] == pytest.approx(spread, rel=1e-12, abs=0)
    same = np.c_[np.full(3, XMAX), [1.0, 2.0, 3.0]]
    stats = ArraySource(same, np.zeros((3, 1)), np.full(3, 0.17)).statistics(center=True, gram=gram)
    assert stats.mean[0] == XMAX and stats.std[0] == 0.0 and stats.constant[0]
