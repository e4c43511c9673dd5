"""Tests that kill surviving mutants of the data sources and their statistics (issue "Tests that can fail").

``gdlearn.data.source`` and ``gdlearn.data.stats``: every expected number comes from NumPy written out
here (weighted means and sums, Σ sᵢaᵢaᵢᵀ, powers of two by hand) or is stated in the test, never from gdlearn.
"""

import warnings

import numpy as np
import pytest

from gdlearn.data.source import ArraySource, BlockRows, BlockSource, GramSource
from gdlearn.data.stats import power_of_two
from gdlearn.losses import HalfSquaredError

XMAX = np.finfo(np.float64).max


class Blocks(BlockSource):
    """Rows cut into blocks (some may be empty), read on demand; counts the reads."""

    def __init__(self, parts, groups=None):
        self.parts = parts
        self.n_blocks = len(parts)
        self.n_samples = sum(len(X) for X, _, _ in parts)
        self.n_features = parts[0][0].shape[1]
        self.n_outputs = parts[0][1].shape[1]
        self.weight_sum = float(sum(len(X) if sw is None else np.sum(sw) for X, _, sw in parts))
        self.groups = groups
        self.reads = []

    def block(self, i):
        self.reads.append(i)
        return self.parts[i]

    @property
    def block_rows(self):
        return [len(X) for X, _, _ in self.parts]

    @property
    def block_groups(self):
        return super().block_groups if self.groups is None else self.groups


def cut(X, Y, sw, cuts):
    return [(X[a:b], Y[a:b], None if sw is None else sw[a:b]) for a, b in zip(cuts, cuts[1:])]


# ================================================================== stats.power_of_two
def test_power_of_two_of_zero_and_of_non_finite_values_is_one():
    np.testing.assert_array_equal(power_of_two(np.array([0.0, -0.0, np.inf, -np.inf, np.nan])), np.ones(5))
    X = np.array([[0.0, 3.0], [0.0, -5.0]])  # an all-zero column is measured in units of 1
    stats = ArraySource(X, np.zeros((2, 1))).statistics(center=True, gram=False)
    np.testing.assert_array_equal(stats.scale, [1.0, 8.0])


def test_power_of_two_reads_integers_as_numbers():
    """Integers are converted to float64 first: |−2⁶³| is 2⁶³ (not int64's wrapped −2⁶³), 2⁷⁰ is a number."""
    np.testing.assert_array_equal(power_of_two(np.array([-(2**63), 3, 2**62], dtype=np.int64)), [2.0**64, 4.0, 2.0**63])
    np.testing.assert_array_equal(power_of_two([2**70, -7]), [2.0**71, 8.0])


# ================================================================== stats: edge blocks
def test_rows_that_all_weigh_zero_give_zero_moments_of_the_right_shapes():
    """Rows of weight zero count for the scales only; the Gram matrix stays (p + k) × (p + k)."""
    X = np.array([[1.0, -3.0], [0.5, 2.0], [0.25, 1.0]])
    Y = np.array([[0.7], [-0.2], [0.1]])
    stats = ArraySource(X, Y, np.zeros(3)).statistics(center=True, gram=True, targets=True)
    assert stats.gram.shape == (3, 3) and stats.second.shape == (2,)
    np.testing.assert_array_equal(stats.gram, np.zeros((3, 3)))
    np.testing.assert_array_equal(stats.second, [0.0, 0.0])
    np.testing.assert_array_equal(stats.scale, [2.0, 4.0])
    np.testing.assert_array_equal(stats.y_scale, [1.0])


@pytest.mark.parametrize("center", [True, False])
def test_leading_blocks_of_weight_zero_and_weights_summing_below_one(center):
    """Chan's merge when the running total weighs 0 (two empty-weight blocks first) and when it weighs < 1."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(40, 3)) * [1.0, 100.0, 0.01] + [2.0, -50.0, 0.0]
    Y = rng.normal(size=(40, 1)) + 3.0
    sw = rng.uniform(0.001, 0.02, size=40)  # Σ sᵢ < 1
    sw[:12] = 0.0
    assert 0 < sw.sum() < 1
    source = Blocks(cut(X, Y, sw, [0, 5, 12, 20, 33, 40]))
    for gram in (False, True):
        stats = source.statistics(center=center, gram=gram, targets=gram)
        mean = np.average(X, axis=0, weights=sw)
        np.testing.assert_allclose(stats.mean, mean, rtol=1e-12)
        about = mean if center else 0.0
        np.testing.assert_allclose(
            stats.std**2, np.average((X - about) ** 2, axis=0, weights=sw), rtol=1e-10, atol=1e-300
        )
        y_mean = np.average(Y[:, 0], weights=sw)
        np.testing.assert_allclose(stats.y_mean, [y_mean], rtol=1e-12)
        y_about = y_mean if center else 0.0
        y_var = np.average((Y[:, 0] - y_about) ** 2, weights=sw)
        np.testing.assert_allclose(stats.y_second * stats.y_scale**2, [y_var], rtol=1e-10)


def test_a_block_whose_weighted_sums_overflow_when_divided_is_summed_again_without_a_warning():
    """Block 1: three rows at the largest double, weights 0.17 each: (Σ sᵢxᵢ)/Σ sᵢ rounds past it (0.51 is
    inexact); the block is summed again in units of 2¹⁰²³ instead, with no overflow warning.  Block 2
    brings the mean down to a representable number."""
    X = np.array([[XMAX], [XMAX], [XMAX], [0.0]])
    sw = np.array([0.17, 0.17, 0.17, 1.0])
    with np.errstate(all="ignore"):
        assert not np.isfinite((sw[:3] @ X[:3, 0]) / np.sum(sw[:3]))  # the trap this test sets
    source = Blocks(cut(X, np.zeros((4, 1)), sw, [0, 3, 4]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats = source.statistics(center=False, gram=False)
    beta = 2.0**1023  # exact scaling: the statistics in units of β, then back
    np.testing.assert_allclose(stats.mean, [np.average(X[:, 0] / beta, weights=sw) * beta], rtol=1e-14)
    np.testing.assert_allclose(stats.std, [np.sqrt(np.average((X[:, 0] / beta) ** 2, weights=sw)) * beta], rtol=1e-14)


# ================================================================== source: block functions
def test_max_abs_keeps_the_maxima_quietly_when_the_column_sums_overflow_or_cancel():
    """Fortran order: NumPy's pairwise sum adds rows 0 and 8 (→ +inf) and rows 1 and 9 (→ −inf), then inf − inf."""
    X = np.zeros((16, 2), order="F")
    X[[0, 8], 0] = 1e308
    X[[1, 9], 0] = -1e308
    X[:, 1] = np.linspace(-3.0, 2.0, 16)
    with warnings.catch_warnings(), np.errstate(all="warn"):
        warnings.simplefilter("ignore")
        assert np.isnan(X.sum(axis=0)[0])  # the sum this column sets off: overflow, then invalid
    Y = np.linspace(-0.5, 0.25, 16)[:, None]
    source = Blocks(cut(X, Y, None, [0, 16]))
    with warnings.catch_warnings(), np.errstate(all="warn"):
        warnings.simplefilter("error")
        x_big, y_big = source.max_abs()
    np.testing.assert_array_equal(x_big, [1e308, 3.0])
    np.testing.assert_array_equal(y_big, [0.5])


def test_max_abs_and_max_weight_over_blocks_one_of_them_empty():
    """An empty block (a file with a header only) counts as zeros; |y| and weights below 1 stay below 1."""
    X = np.array([[1.0, -4.0], [0.5, 2.0], [-3.0, 0.0]])
    Y = np.array([[0.25, -0.5], [0.125, 0.0], [-0.375, 0.0625]])
    sw = np.array([0.5, 0.75, 0.25])
    parts = [(X[:0], Y[:0], sw[:0]), (X[:2], Y[:2], sw[:2]), (X[2:], Y[2:], sw[2:])]
    x_big, y_big = Blocks(parts).max_abs()
    np.testing.assert_array_equal(x_big, [3.0, 4.0])
    np.testing.assert_array_equal(y_big, [0.375, 0.5])
    assert Blocks(parts).max_weight == 0.75
    unweighted = [(X[:0], Y[:0], None), (X, Y, None)]
    assert Blocks(unweighted).max_weight == 1.0
    np.testing.assert_array_equal(Blocks(unweighted).max_abs()[1], [0.375, 0.5])


@pytest.mark.parametrize("weighted", [False, True])
def test_target_mean_is_the_weighted_mean_over_the_blocks(weighted):
    rng = np.random.default_rng(5)
    Y = rng.normal(size=(30, 2)) * [1.0, 10.0] + [4.0, -20.0]
    sw = rng.uniform(0.2, 3.0, size=30) if weighted else None
    source = Blocks(cut(np.zeros((30, 1)), Y, sw, [0, 7, 19, 30]))
    want = np.average(Y, axis=0, weights=sw)
    got = source.target_mean()
    assert got.shape == (2,)
    np.testing.assert_allclose(got, want, rtol=1e-13)


# ================================================================== source: mini-batches of blocks
def _squared_sums(X, Y, sw, W, b):
    """(½ Σ sᵢ‖rᵢ‖², Xᵀ(s ⊙ r), Σ s ⊙ r) with r = XW + b − Y, written out."""
    r = X @ W + b - Y
    return 0.5 * np.sum(sw[:, None] * r * r), X.T @ (sw[:, None] * r), (sw[:, None] * r).sum(axis=0)


def test_a_minibatch_of_a_block_source_is_its_rows_with_their_weights():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20, 3))
    Y = rng.normal(size=(20, 2))
    sw = rng.uniform(0.5, 2.0, size=20)
    source = Blocks(cut(X, Y, sw, [0, 8, 20]))
    W, b = rng.normal(size=(3, 2)), rng.normal(size=2)
    rows = np.array([9, 1, 4, 10])  # of block 1: rows 17, 9, 12, 18
    idx = 8 + rows
    loss = HalfSquaredError()
    want = _squared_sums(X[idx], Y[idx], sw[idx], W, b)
    got = source.loss_sums(loss, W, b, rows=BlockRows(1, rows))
    assert len(got) == 3
    for a, c in zip(got, want):
        np.testing.assert_allclose(a, c, rtol=1e-12)
    value, gW, gb = source.loss_sums(loss, W, b, rows=BlockRows(1, rows), need_grad=False)
    assert gW is None and gb is None
    np.testing.assert_allclose(value, want[0], rtol=1e-12)
    shift, inv = np.array([0.5, -1.0, 2.0]), np.array([2.0, 0.25, 1.0])
    got = source.loss_sums(loss, W, b, rows=BlockRows(1, rows), hessian=(shift, inv))
    assert len(got) == 4
    A = np.c_[(X[idx] - shift) * inv, np.ones(len(idx))]
    S = (A * sw[idx, None]).T @ A  # Σ sᵢaᵢaᵢᵀ; the squared loss's ∂²ℓ/∂z² is the identity over outputs
    want_H = np.zeros((2, 2, 4, 4))
    want_H[0, 0] = want_H[1, 1] = S
    np.testing.assert_allclose(got[3], want_H, rtol=1e-12, atol=1e-12)


def test_consecutive_minibatches_of_one_block_read_it_once():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(30, 2)), rng.normal(size=(30, 1))
    source = Blocks(cut(X, Y, None, [0, 10, 21, 30]))
    W, b = np.ones((2, 1)), np.zeros(1)
    batches = list(source.minibatches(4, epoch=0, seed=7))
    assert len(batches) == 3 + 3 + 3  # ⌈10/4⌉ + ⌈11/4⌉ + ⌈9/4⌉
    for batch in batches:
        source.loss_sums(HalfSquaredError(), W, b, rows=batch)
    assert sorted(source.reads) == [0, 1, 2]  # one read per block, not per batch


def test_minibatches_without_shuffling_walk_groups_blocks_and_rows_in_order():
    parts = cut(np.zeros((25, 1)), np.zeros((25, 1)), None, [0, 5, 9, 14, 20, 23, 25])
    source = Blocks(parts, groups=[[0, 1], [2], [3, 4], [5]])
    got = [(b.block, b.rows.tolist()) for b in source.minibatches(3, epoch=4, seed=1, shuffle=False)]
    assert got == [
        (0, [0, 1, 2]),
        (0, [3, 4]),
        (1, [0, 1, 2]),
        (1, [3]),
        (2, [0, 1, 2]),
        (2, [3, 4]),
        (3, [0, 1, 2]),
        (3, [3, 4, 5]),
        (4, [0, 1, 2]),
        (5, [0, 1]),
    ]
    assert [len(b) for b in source.minibatches(3, epoch=4, seed=1, shuffle=False)] == [3, 2, 3, 1, 3, 2, 3, 3, 3, 2]


def test_shuffled_minibatches_permute_the_rows_of_each_block():
    parts = cut(np.zeros((60, 1)), np.zeros((60, 1)), None, [0, 20, 40, 60])
    source = Blocks(parts)
    seen = {0: [], 1: [], 2: []}
    for b in source.minibatches(6, epoch=0, seed=9):
        seen[b.block].extend(b.rows.tolist())
    assert all(sorted(rows) == list(range(20)) for rows in seen.values())
    assert all(rows != list(range(20)) for rows in seen.values())  # P(in order) = 1/20! per block


def test_array_source_minibatches_are_shuffled_by_default():
    source = ArraySource(np.zeros((40, 1)), np.zeros((40, 1)))
    rows = np.concatenate(list(source.minibatches(8, 0, 5)))
    assert sorted(rows.tolist()) == list(range(40)) and rows.tolist() != list(range(40))
    in_order = np.concatenate(list(source.minibatches(8, 0, 5, shuffle=False)))
    assert in_order.tolist() == list(range(40))


# ================================================================== source: GramSource
def test_gram_source_refuses_statistics_without_the_gram_matrix_of_x_and_the_targets():
    X, Y = np.array([[1.0, 2.0], [3.0, 5.0], [0.0, 1.0]]), np.array([[1.0], [2.0], [0.5]])
    message = r"^GramSource needs statistics with the Gram matrix of X and the targets\.$"
    for gram, targets in ((False, False), (True, False)):
        stats = ArraySource(X, Y).statistics(center=True, gram=gram, targets=targets)
        with pytest.raises(ValueError, match=message):
            GramSource(stats)


def test_gram_source_answers_without_gradient_and_with_the_hessian():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 2)) * [2.0, 0.5] + [1.0, -3.0]
    Y = rng.normal(size=(50, 2)) + [5.0, 0.0]
    sw = rng.uniform(0.5, 1.5, size=50)
    gram = GramSource(ArraySource(X, Y, sw).statistics(center=True, gram=True, targets=True))
    assert (gram.n_samples, gram.n_features, gram.n_outputs) == (50, 2, 2)
    W, b = rng.normal(size=(2, 2)), rng.normal(size=2)
    loss = HalfSquaredError()
    want = _squared_sums(X, Y, sw, W, b)
    value, gW, gb = gram.loss_sums(loss, W, b, need_grad=False)
    assert gW is None and gb is None
    np.testing.assert_allclose(value, want[0], rtol=1e-10)
    shift, inv = np.array([1.0, -3.0]), np.array([0.5, 2.0])
    got = gram.loss_sums(loss, W, b, hessian=(shift, inv))
    assert len(got) == 4
    for a, c in zip(got[:3], want):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-10 * np.max(np.abs(c)))
    A = np.c_[(X - shift) * inv, np.ones(50)]
    S = (A * sw[:, None]).T @ A
    want_H = np.zeros((2, 2, 3, 3))
    want_H[0, 0] = want_H[1, 1] = S
    np.testing.assert_allclose(got[3], want_H, rtol=1e-10, atol=1e-10 * np.max(np.abs(S)))


# ================================================================== source: ArraySource
def test_array_source_answers_without_gradient_and_weighs_its_target_mean():
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(25, 2)), rng.normal(size=(25, 2)) + [1.0, -2.0]
    sw = rng.uniform(0.1, 4.0, size=25)
    source = ArraySource(X, Y, sw)
    W, b = rng.normal(size=(2, 2)), rng.normal(size=2)
    value, gW, gb = source.loss_sums(HalfSquaredError(), W, b, need_grad=False)
    assert gW is None and gb is None
    np.testing.assert_allclose(value, _squared_sums(X, Y, sw, W, b)[0], rtol=1e-12)
    np.testing.assert_allclose(source.target_mean(), np.average(Y, axis=0, weights=sw), rtol=1e-13)
    np.testing.assert_allclose(ArraySource(X, Y).target_mean(), Y.sum(axis=0) / 25, rtol=1e-13)
