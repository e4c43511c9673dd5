"""Tests that kill surviving mutants of the math modules (issue "Tests that can fail").

Every expected number comes from an independent reference: a closed-form formula, finite
differences, or NumPy written out by hand; never from gdlearn itself.
"""

import warnings

import numpy as np
import pytest

from gdlearn.data.source import ArraySource, BlockSource, GramSource
from gdlearn.data.stats import Statistics
from gdlearn.kernels import reference
from gdlearn.lipschitz import lipschitz_constant, lipschitz_from_statistics, minibatch_lipschitz
from gdlearn.losses import BinaryLogLoss, HalfSquaredError, MultinomialLogLoss
from gdlearn.objective import Objective
from gdlearn.penalties import Penalty
from gdlearn.preconditioning import Coordinates, diagonal_coordinates, whitened_coordinates


def _rng(seed=0):
    return np.random.default_rng(seed)


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _soft(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _onehot(labels, k):
    return np.eye(k)[labels]


# ------------------------------------------------------------------ losses


@pytest.mark.parametrize("loss", [HalfSquaredError(), BinaryLogLoss(), MultinomialLogLoss()])
def test_repr_names_the_class(loss):
    assert repr(loss) == f"{type(loss).__name__}()"


@pytest.mark.parametrize("k, loss", [(1, HalfSquaredError()), (3, HalfSquaredError()), (1, BinaryLogLoss())])
def test_hessian_weights_are_the_derivative_of_the_prediction(k, loss):
    """∂²ℓ/∂z² = ∂h/∂z, by central differences of h written by hand."""
    z = np.array([-30.0, -3.0, -0.5, 0.0, 0.7, 2.0, 9.0])[:, None] * np.ones((1, k))
    h = (lambda t: t) if isinstance(loss, HalfSquaredError) else _sig
    eps = 1e-6
    expected = np.zeros((len(z), k, k))
    for j in range(k):
        dz = np.zeros(k)
        dz[j] = eps
        expected[:, :, j] = (h(z + dz) - h(z - dz)) / (2 * eps)
    np.testing.assert_allclose(loss.hessian_weights(z), expected, rtol=1e-6, atol=1e-12)


def test_multinomial_hessian_weights_are_the_softmax_jacobian():
    z = _rng(1).normal(scale=2.0, size=(6, 4))
    eps = 1e-6
    expected = np.zeros((6, 4, 4))
    for j in range(4):
        dz = np.zeros(4)
        dz[j] = eps
        expected[:, :, j] = (_soft(z + dz) - _soft(z - dz)) / (2 * eps)
    np.testing.assert_allclose(MultinomialLogLoss().hessian_weights(z), expected, rtol=1e-6, atol=1e-10)


# ------------------------------------------------------------- hand-written sums


def _hand_hessian_weights(loss, z):
    if isinstance(loss, BinaryLogLoss):
        s = _sig(z[:, 0])
        return (s * (1 - s))[:, None, None]
    if isinstance(loss, MultinomialLogLoss):
        p = _soft(z)
        return np.stack([np.diag(pi) - np.outer(pi, pi) for pi in p])
    return np.broadcast_to(np.eye(z.shape[1]), (len(z), z.shape[1], z.shape[1]))


def _hand_hessian_sums(X, sw, W, b, loss, shift, inv):
    """Σ sᵢ C_i[k, l] aᵢaᵢᵀ, aᵢ = [(xᵢ − shift)·inv, 1], one row at a time."""
    n, p = X.shape
    k = W.shape[1]
    z = X @ W + b
    C = _hand_hessian_weights(loss, z)
    H = np.zeros((k, k, p + 1, p + 1))
    for i in range(n):
        a = np.append((X[i] - shift) * inv, 1.0)
        s = 1.0 if sw is None else sw[i]
        for o in range(k):
            for q in range(k):
                H[o, q] += s * C[i, o, q] * np.outer(a, a)
    return H


def _hand_loss_sums(X, Y, sw, W, b, loss):
    z = X @ W + b
    s = np.ones(len(X)) if sw is None else sw
    if isinstance(loss, BinaryLogLoss):
        q = _sig(z)
        ell = -(Y * np.log(q) + (1 - Y) * np.log(1 - q))[:, 0]
    elif isinstance(loss, MultinomialLogLoss):
        q = _soft(z)
        ell = -(Y * np.log(q)).sum(axis=1)
    else:
        q = z
        ell = 0.5 * ((z - Y) ** 2).sum(axis=1)
    r = s[:, None] * (q - Y)
    return float(s @ ell), X.T @ r, r.sum(axis=0)


def _problem_data(loss, n=40, p=3, seed=2, weighted=True, classes=3):
    rng = _rng(seed)
    X = rng.normal(size=(n, p)) * np.array([1.0, 3.0, 0.5])[:p] + np.array([0.5, -1.0, 2.0])[:p]
    k = classes if isinstance(loss, MultinomialLogLoss) else 1
    if isinstance(loss, BinaryLogLoss):
        Y = (rng.random((n, 1)) < 0.4).astype(float)
    elif isinstance(loss, MultinomialLogLoss):
        Y = _onehot(rng.integers(0, k, n), k)
    else:
        Y = rng.normal(size=(n, k))
    sw = rng.uniform(0.2, 2.0, n) if weighted else None
    W = rng.normal(scale=0.5, size=(p, k))
    b = rng.normal(size=k) + 0.7
    return X, Y, sw, W, b


@pytest.mark.parametrize("loss", [BinaryLogLoss(), MultinomialLogLoss(), HalfSquaredError()])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("classes", [2, 3])
def test_reference_hessian_sums_with_an_intercept(loss, weighted, classes):
    X, Y, sw, W, b = _problem_data(loss, weighted=weighted, classes=classes)
    shift = np.array([0.3, -0.2, 1.0])
    inv = np.array([0.5, 0.25, 2.0])
    expected = _hand_hessian_sums(X, sw, W, b, loss, shift, inv)
    np.testing.assert_allclose(reference.hessian_sums(X, sw, W, b, loss, shift, inv), expected, rtol=1e-10)
    out = reference.loss_sums(X, Y, sw, W, b, loss, hessian=(shift, inv))
    np.testing.assert_allclose(out[3], expected, rtol=1e-10)


class TwoBlocks(BlockSource):
    """A source that hands its rows over in two blocks (as a streaming source would)."""

    def __init__(self, X, Y, sw=None, cut=None):
        self.X, self.Y, self.sw = X, Y, sw
        self.n_samples, self.n_features = X.shape
        self.n_outputs = Y.shape[1]
        self.weight_sum = float(self.n_samples if sw is None else sw.sum())
        self.cut = self.n_samples // 3 if cut is None else cut

    def blocks(self):
        for sl in (slice(0, self.cut), slice(self.cut, self.n_samples)):
            yield self.X[sl], self.Y[sl], None if self.sw is None else self.sw[sl]


@pytest.mark.parametrize("loss", [BinaryLogLoss(), MultinomialLogLoss(), HalfSquaredError()])
@pytest.mark.parametrize("weighted", [True, False])
def test_a_source_in_blocks_adds_up_the_blocks(loss, weighted):
    X, Y, sw, W, b = _problem_data(loss, weighted=weighted)
    src = TwoBlocks(X, Y, sw)
    value, XtR, rsum = _hand_loss_sums(X, Y, sw, W, b, loss)
    got = src.loss_sums(loss, W, b)
    assert len(got) == 3
    assert got[0] == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(got[1], XtR, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[2], rsum, rtol=1e-10, atol=1e-12)
    got = src.loss_sums(loss, W, b, need_grad=False)
    assert got[0] == pytest.approx(value, rel=1e-12) and got[1] is None and got[2] is None
    shift, inv = np.array([0.3, -0.2, 1.0]), np.array([0.5, 0.25, 2.0])
    H = _hand_hessian_sums(X, sw, W, b, loss, shift, inv)
    got = src.loss_sums(loss, W, b, hessian=(shift, inv))
    assert len(got) == 4
    assert got[0] == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(got[1], XtR, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[3], H, rtol=1e-10)
    np.testing.assert_allclose(src.hessian_sums(loss, W, b, shift, inv), H, rtol=1e-10)
    # the curvature product: Xᵀ(s ⊙ z) and Σ s ⊙ z
    s = np.ones(len(X)) if sw is None else sw
    z = X @ W + b
    gW, gb = src.curvature_sums(W, b)
    np.testing.assert_allclose(gW, X.T @ (s[:, None] * z), rtol=1e-10)
    np.testing.assert_allclose(gb, (s[:, None] * z).sum(axis=0), rtol=1e-10)


def test_a_source_in_blocks_maxima_and_row_norms():
    rng = _rng(3)
    X = rng.normal(size=(30, 3))
    X[2, 0] = -9.0  # in the first block
    X[25, 1] = 7.5  # in the second
    Y = rng.normal(size=(30, 2))
    Y[20, 1] = -11.0
    sw = rng.uniform(0.5, 1.5, 30)
    src = TwoBlocks(X, Y, sw, cut=10)
    x_big, y_big = src.max_abs()
    np.testing.assert_array_equal(x_big, np.abs(X).max(axis=0))
    np.testing.assert_array_equal(y_big, np.abs(Y).max(axis=0))
    shift, inv = np.array([0.1, 0.2, -0.3]), np.array([2.0, 0.5, 1.0])
    expected = max(sw[i] * float(np.sum(((X[i] - shift) * inv) ** 2)) for i in range(30))
    assert src.max_row_norm(shift, inv) == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------ GramSource


def _gram_source(center=True):
    rng = _rng(4)
    X = rng.normal(size=(25, 2))
    Y = rng.normal(size=(25, 1))
    stats = ArraySource(X, Y).statistics(center=center, gram=True, targets=True)
    return GramSource(stats), stats


def test_gram_source_refuses_what_it_cannot_answer():
    src, stats = _gram_source()
    with pytest.raises(TypeError, match=r"^A GramSource holds statistics, not rows\.$"):
        next(iter(src.blocks()))
    W, b = np.zeros((2, 1)), np.zeros(1)
    with pytest.raises(TypeError, match="squared loss only, not BinaryLogLoss()"):
        src.loss_sums(BinaryLogLoss(), W, b)
    with pytest.raises(TypeError, match="squared loss only, not BinaryLogLoss()"):
        src.hessian_sums(BinaryLogLoss(), W, b, np.zeros(2), np.ones(2))
    assert src.statistics(center=True, gram=True) is stats
    assert src.statistics(center=True, gram=False, targets=True) is stats
    with pytest.raises(ValueError, match=r"^GramSource: statistics were computed with the other centring\.$"):
        src.statistics(center=False, gram=True)
    uncentred, stats0 = _gram_source(center=False)
    assert uncentred.statistics(center=False, gram=True) is stats0
    with pytest.raises(ValueError, match=r"^GramSource: statistics were computed with the other centring\.$"):
        uncentred.statistics(center=True, gram=True)


# ------------------------------------------------------------- Newton's Hessian


def _hand_weighted_spread(X, s, ridge):
    mu = s @ X / s.sum()
    var = s @ (X - mu) ** 2 / s.sum()
    return mu, np.sqrt(var + ridge)


@pytest.mark.parametrize("loss, tau", [(BinaryLogLoss(), 1.0), (MultinomialLogLoss(), 1.0), (HalfSquaredError(), 2.5)])
@pytest.mark.parametrize("l2", [0.0, 1.5])
def test_newton_hessian_in_diagonal_coordinates_with_a_constant_column(loss, tau, l2):
    """J(Tθ_s)/τ², its gradient and Hessian, by hand; the constant column's rows are the identity's."""
    X, Y, sw, _, _ = _problem_data(loss, n=60)
    X = np.column_stack([X, np.full(60, 4.0)])  # constant: frozen in centred coordinates
    n, p = X.shape
    k = Y.shape[1]
    m = sw.sum()
    src = ArraySource(X, Y, sw)
    coords = diagonal_coordinates(src.statistics(center=True, gram=False), ridge=l2 / m, target_scale=tau)
    mu, sigma = _hand_weighted_spread(X, sw, l2 / m)
    sigma[-1] = np.sqrt(l2 / m) if l2 else 1.0  # a constant column: σ = √ridge, or 1 without a ridge
    np.testing.assert_allclose(coords.mean, mu, rtol=1e-12)
    np.testing.assert_allclose(coords.matrix, 1.0 / sigma, rtol=1e-9)
    np.testing.assert_array_equal(coords.frozen, [False, False, False, True])
    problem = Objective(loss, l2=l2, penalty_norm=m).bind(src, coords)
    theta_s = _rng(7).normal(scale=0.3, size=(p + 1, k))
    value, grad, H = problem.value_grad_hessian(theta_s)

    # θ = Aθ_s (each output column alike): W = τ diag(1/σ) W_s, b = τ b_s − μᵀW
    A = np.zeros((p + 1, p + 1))
    A[:p, :p] = tau * np.diag(1.0 / sigma)
    A[p, :p] = -mu @ A[:p, :p]
    A[p, p] = tau
    theta = A @ theta_s
    W, b = theta[:p], theta[p]
    X1 = np.column_stack([X, np.ones(n)])
    z = X @ W + b
    q = _sig(z) if isinstance(loss, BinaryLogLoss) else _soft(z) if k > 1 else z
    if isinstance(loss, BinaryLogLoss):
        ell = -(Y * np.log(q) + (1 - Y) * np.log(1 - q))[:, 0]
    elif isinstance(loss, MultinomialLogLoss):
        ell = -(Y * np.log(q)).sum(axis=1)
    else:
        ell = 0.5 * ((z - Y) ** 2).sum(axis=1)
    J = (sw @ ell + 0.5 * l2 * np.sum(W * W)) / m
    assert value == pytest.approx(J / tau**2, rel=1e-10)
    gJ = X1.T @ (sw[:, None] * (q - Y)) / m
    gJ[:p] += l2 * W / m
    g_s = A.T @ gJ / tau**2
    g_s[p - 1] = 0.0  # the frozen column
    np.testing.assert_allclose(grad, g_s, rtol=1e-9, atol=1e-12)

    C = _hand_hessian_weights(loss, z)  # (n, k, k)
    Hu = np.einsum("i,ioq,ia,ib->aobq", sw, C, X1, X1) / m
    for o in range(k):
        Hu[:p, o, :p, o] += l2 / m * np.eye(p)
    K = np.kron(A, np.eye(k))  # θ flattened in C order: index a·k + o
    expected = K.T @ Hu.reshape((p + 1) * k, (p + 1) * k) @ K / tau**2
    frozen = [(p - 1) * k + o for o in range(k)]
    expected[frozen] = 0.0
    expected[:, frozen] = 0.0
    expected[frozen, frozen] = 1.0
    np.testing.assert_allclose(H, expected, rtol=1e-8, atol=1e-12)


# ------------------------------------------------------------------ penalties


def test_prox_weights_default_to_one():
    W = np.array([[3.0], [-0.4], [-2.0], [0.1]])
    expected = np.array([[2.25], [0.0], [-1.25], [0.0]])  # sign(w)·max(|w| − 0.5·1.5, 0)
    np.testing.assert_allclose(Penalty(l1=1.5).prox(W, 0.5), expected, rtol=1e-15)


# ------------------------------------------------------------------ power iteration


class MatrixProblem:
    """The interface lipschitz_constant documents: shape, fit_intercept, hessian_bound_matvec."""

    def __init__(self, A, fit_intercept=True):
        self.A = np.asarray(A, dtype=float)
        self.shape = (len(self.A), 1)
        self.fit_intercept = fit_intercept
        self.calls = 0

    def hessian_bound_matvec(self, v):
        assert v.shape == self.shape
        self.calls += 1
        return self.A @ v


class GrowingProblem(MatrixProblem):
    """Its j-th product is j·v: the Rayleigh quotient keeps changing by 1 and never settles."""

    def hessian_bound_matvec(self, v):
        assert v.shape == self.shape
        self.calls += 1
        return self.calls * v


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_power_iteration_reaches_the_largest_eigenvalue_at_any_scale(scale):
    A = scale * np.diag([1.0, 0.9, 0.5])
    problem = MatrixProblem(A)
    L = lipschitz_constant(problem)
    assert L <= scale * (1 + 1e-12)
    assert L == pytest.approx(scale, rel=2e-3)  # stops on a relative change of 1e-4 (ratio 0.9: error ≲ 1e-3)
    assert problem.calls < 100  # it stopped on the tolerance, not on max_iter
    tight = lipschitz_constant(MatrixProblem(A), rtol=1e-14, max_iter=2000)
    assert tight == pytest.approx(scale, rel=1e-12)


def test_power_iteration_is_a_rayleigh_quotient_from_the_first_step():
    """Never above λ_max nor below λ_min, whatever the number of steps (the start vector is normalised)."""
    rng = _rng(5)
    Q, _ = np.linalg.qr(rng.normal(size=(20, 20)))
    A = Q @ np.diag(np.linspace(0.5, 4.0, 20)) @ Q.T
    for it in range(1, 6):
        assert 0.5 <= lipschitz_constant(MatrixProblem(A), max_iter=it) <= 4.0 * (1 + 1e-12)


def test_power_iteration_default_seed_is_zero_and_deterministic():
    A = np.diag([1.0, 0.9, 0.5])
    first = lipschitz_constant(MatrixProblem(A))
    assert lipschitz_constant(MatrixProblem(A)) == first
    assert lipschitz_constant(MatrixProblem(A), random_state=0) == first


def test_power_iteration_stops_after_max_iter_with_the_last_quotient():
    problem = GrowingProblem(np.eye(3))
    assert lipschitz_constant(problem) == pytest.approx(100.0, rel=1e-12)  # the default max_iter is 100
    assert problem.calls == 100
    problem = GrowingProblem(np.eye(3))
    assert lipschitz_constant(problem, max_iter=7) == pytest.approx(7.0, rel=1e-12)
    assert problem.calls == 7
    # the relative change 1/j is first below rtol = 0.21 at j = 5
    problem = GrowingProblem(np.eye(3))
    assert lipschitz_constant(problem, rtol=0.21) == pytest.approx(5.0, rel=1e-12)
    assert problem.calls == 5


def test_power_iteration_leaves_out_the_intercept_without_one():
    """The intercept's coordinate has the largest curvature here; without an intercept it is not searched."""
    A = np.diag([2.0, 1.0, 0.5, 10.0])
    A[:3, :3] += 0.3
    lam_w = np.linalg.eigvalsh(A[:3, :3])[-1]
    assert lipschitz_constant(MatrixProblem(A, fit_intercept=False), rtol=1e-13, max_iter=1000) == pytest.approx(
        lam_w, rel=1e-9
    )
    assert lipschitz_constant(MatrixProblem(A, fit_intercept=True), rtol=1e-13, max_iter=1000) == pytest.approx(
        10.0, rel=1e-9
    )


def test_minibatch_smoothness_in_between_and_at_the_full_batch():
    # n(B − 1)/(B(n − 1))·L + (n − B)/(B(n − 1))·L_max with n = 10, B = 3: 20/27·2 + 7/27·30 = 250/27
    assert minibatch_lipschitz(2.0, 30.0, 10, 3) == pytest.approx(250 / 27, rel=1e-14)
    assert minibatch_lipschitz(2.0, np.inf, 10, 10) == 2.0  # the full batch is L, whatever one sample's bound


# ------------------------------------------------------------------ L from the Gram matrix


def _stats(X, sw=None, center=True):
    Y = np.zeros((len(X), 1))
    return ArraySource(X, Y, sw).statistics(center=center, gram=True)


def test_lipschitz_from_statistics_one_feature_without_an_intercept():
    x = np.array([1.0, -2.0, 3.0, 0.5])
    sw = np.array([1.0, 2.0, 0.5, 1.5])
    L = lipschitz_from_statistics(
        _stats(x[:, None], sw, center=False), None, curvature=0.25, ridge=0.3, fit_intercept=False
    )
    assert L == pytest.approx(0.25 * (sw @ x**2) / sw.sum() + 0.3, rel=1e-12)


def test_lipschitz_from_statistics_keeps_the_intercept_beside_a_frozen_column():
    rng = _rng(8)
    x = rng.normal(size=50) * 2 + 1
    X = np.column_stack([x, np.full(50, 3.0)])
    stats = _stats(X)
    # W = diag(1/2, 1)·W_s, b = b_s (no centring): H = c·E[[x/2, 1][x/2, 1]ᵀ] with the frozen column left out
    coords = Coordinates(np.zeros(2), np.array([0.5, 1.0]), np.array([2.0, 1.0]), frozen=np.array([False, True]))
    a = np.column_stack([x / 2, np.ones(50)])
    expected = np.linalg.eigvalsh(0.5 * a.T @ a / 50)[-1]
    L = lipschitz_from_statistics(stats, coords, curvature=0.5, ridge=0.0, fit_intercept=True)
    assert L == pytest.approx(expected, rel=1e-9)
    assert L > 0.5 * max(np.mean(x**2) / 4, 1.0) * 1.01  # the intercept's coupling counts
    # without the intercept and with every column frozen, nothing is left: L = 0
    only = _stats(np.full((6, 1), 2.0))
    frozen = diagonal_coordinates(only)
    assert frozen.frozen.all()
    assert lipschitz_from_statistics(only, frozen, curvature=1.0, ridge=0.0, fit_intercept=False) == 0.0


def test_lipschitz_from_statistics_overflows_to_infinity():
    X = np.array([[1e300], [-1.5e300], [0.7e300]])
    L = lipschitz_from_statistics(_stats(X, center=False), None, curvature=1.0, ridge=0.0, fit_intercept=True)
    assert L == np.inf
    # an infinite ridge (λ₂/m with m → 0): ∞·0 off the diagonal is NaN, quietly, and L = ∞
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        two = np.array([[1.0, 2.0], [2.0, -1.0], [-1.0, 0.5]])
        L = lipschitz_from_statistics(_stats(two), None, curvature=1.0, ridge=np.inf, fit_intercept=True)
    assert L == np.inf


# ------------------------------------------------------------------ preconditioning


def test_coordinates_defaults_are_no_ridge_and_unit_target_scale():
    rng = _rng(9)
    X = rng.normal(size=(40, 2)) * np.array([3.0, 0.2]) + np.array([1.0, -4.0])
    X[:, 1] += 0.5 * X[:, 0]
    stats = _stats(X)
    mu = X.mean(axis=0)
    sigma = X.std(axis=0)
    diag = diagonal_coordinates(stats)
    assert diag.target_scale == 1.0 and diag.value_scale == 1.0
    np.testing.assert_allclose(diag.matrix, 1.0 / sigma, rtol=1e-10)
    white = whitened_coordinates(stats)
    assert white.target_scale == 1.0 and white.value_scale == 1.0
    # whitened: the columns (X − μ)M are uncorrelated with unit variance (no ridge)
    Z = (X - mu) @ white.matrix
    np.testing.assert_allclose(Z.T @ Z / len(X), np.eye(2), atol=1e-10)


@pytest.mark.parametrize("make", [diagonal_coordinates, whitened_coordinates])
def test_an_all_zero_column_is_not_frozen_without_centring(make):
    X = np.column_stack([np.array([1.0, 2.0, -1.0, 0.5]), np.zeros(4)])
    coords = make(_stats(X, center=False))
    np.testing.assert_array_equal(coords.frozen, [False, False])
    centred = make(_stats(X, center=True))
    np.testing.assert_array_equal(centred.frozen, [False, True])


def test_l1_weights_need_diagonal_coordinates_and_overflow_quietly():
    rng = _rng(10)
    white = whitened_coordinates(_stats(rng.normal(size=(20, 2))))
    with pytest.raises(
        ValueError, match=r"^An L1 penalty needs diagonal coordinates \(the proximal step is per coordinate\)\.$"
    ):
        white.l1_weights()
    coords = Coordinates(np.zeros(2), np.array([1e300, 2.0]), np.array([1e-300, 0.5]), target_scale=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = coords.l1_weights()
    np.testing.assert_array_equal(w, [[np.inf], [2e10]])


def test_moment_matrix_at_a_far_shift_overflows_quietly():
    st = Statistics(
        n_samples=3,
        weight_sum=3.0,
        scale=np.ones(1),
        mean=np.array([-1e200]),
        shift=np.zeros(1),
        second=np.ones(1),
        gram=np.ones((1, 1)),
        y_mean=np.zeros(1),
        y_scale=np.ones(1),
        y_second=np.ones(1),
        centred=False,
        max_abs=np.ones(1),
        y_max_abs=np.ones(1),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = st.moment_matrix(np.array([1e200]))  # d = −1e200, δ = −1e200: dδ overflows
        assert out[0, 0] == np.inf
        out = st.moment_matrix(np.array([-1e200]))  # δ = 1e200: −inf − inf + inf is NaN
        assert np.isnan(out[0, 0])
    np.testing.assert_array_equal(out[:, 1], [-1e200 + 1e200, 1.0])


@pytest.mark.parametrize("eps, kept", [(np.sqrt(2e-12), 1), (np.sqrt(16e-12), 2)])
def test_whitening_drops_directions_below_1e_12_of_the_largest(eps, kept):
    """Columns u and u + εw (u ⟂ w, both standardised): correlation eigenvalues 1 ± ρ, ratio ≈ ε²/4."""
    rng = _rng(11)
    U = rng.normal(size=(200, 2))
    U -= U.mean(axis=0)
    Q, _ = np.linalg.qr(U)
    u, w = Q[:, 0] * np.sqrt(200), Q[:, 1] * np.sqrt(200)
    X = np.column_stack([u, u + eps * w])
    c = 1.0 / np.sqrt(1.0 + eps**2)  # the correlation of the two columns
    assert (1 - c) / (1 + c) == pytest.approx(eps**2 / 4, rel=1e-6)
    coords = whitened_coordinates(_stats(X))
    assert np.count_nonzero(np.any(coords.matrix != 0.0, axis=0)) == kept


def test_whitening_falls_back_to_diagonal_coordinates_when_1_over_sigma_overflows():
    """Spreads near 1e-306 with correlated columns: D⁻¹VΛ^{-1/2} overflows, 1/σ alone does not."""
    rng = _rng(12)
    u, w = rng.normal(size=(2, 100))
    unit = 1e-306
    X = np.column_stack([u, u + 1e-3 * w]) * unit
    coords = whitened_coordinates(_stats(X), target_scale=3.0)
    assert not coords.dense
    assert coords.target_scale == 3.0 and coords.value_scale == 9.0
    sigma = (X / unit).std(axis=0) * unit
    np.testing.assert_allclose(coords.matrix, 1.0 / sigma, rtol=1e-9)
    assert np.all(np.isfinite(coords.matrix)) and np.all(np.isfinite(coords.inverse))


def test_coordinates_default_target_scale_is_one():
    co = Coordinates(np.array([1.0, -2.0]), np.array([0.5, 4.0]), np.array([2.0, 0.25]))
    assert co.target_scale == 1.0 and co.value_scale == 1.0
    for ones in (co.scale, co.unit):
        assert ones.shape == (2,) and ones.dtype == np.float64
        np.testing.assert_array_equal(ones, [1.0, 1.0])
    assert co.frozen.shape == (2,) and co.frozen.dtype == np.bool_ and not co.frozen.any()
    theta_s = np.array([[1.0], [2.0], [3.0]])
    W = np.array([[0.5], [8.0]])  # M W_s
    np.testing.assert_allclose(co.to_original(theta_s), np.vstack([W, [[3.0 - (1.0 * 0.5 - 2.0 * 8.0)]]]))


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_newton_hessian_of_the_squared_loss_is_the_identity_in_whitened_coordinates(scale):
    """Whitened coordinates make J/τ² a round bowl: its Hessian is I, also for features near the float limits."""
    rng = _rng(13)
    Z = rng.normal(size=(50, 2))
    Z[:, 1] += 0.8 * Z[:, 0]
    X = (Z + 3.0) * scale
    y = rng.normal(size=(50, 1))
    src = ArraySource(X, y)
    stats = src.statistics(center=True, gram=True, targets=True)
    coords = whitened_coordinates(stats, target_scale=float(np.std(y)))
    assert coords.dense
    problem = Objective(HalfSquaredError(), penalty_norm=50.0).bind(src, coords)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, _, H = problem.value_grad_hessian(np.zeros(problem.shape))
    np.testing.assert_allclose(H, np.eye(3), atol=1e-9)


def test_a_constant_column_with_rounding_noise_gets_sigma_one_or_root_ridge():
    """0.1 is not a binary fraction: its weighted mean carries rounding noise, yet the column is constant."""
    rng = _rng(14)
    X = np.column_stack([rng.normal(size=30), np.full(30, 0.1)])
    sw = rng.uniform(0.3, 3.0, 30)
    stats = ArraySource(X, np.zeros((30, 1)), sw).statistics(center=True, gram=False)
    assert stats.constant.tolist() == [False, True]
    plain = diagonal_coordinates(stats)
    assert plain.scale[1] == 1.0 and plain.matrix[1] == 1.0
    ridged = diagonal_coordinates(stats, ridge=0.04)
    assert ridged.scale[1] == pytest.approx(0.2, rel=1e-15)
    mu = sw @ X[:, 0] / sw.sum()
    sd = np.sqrt(sw @ (X[:, 0] - mu) ** 2 / sw.sum())
    assert plain.scale[0] == pytest.approx(sd, rel=1e-12)
    assert ridged.scale[0] == pytest.approx(np.sqrt(sd**2 + 0.04), rel=1e-12)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("cut", [11, 0])  # 0: the first block is empty
def test_statistics_of_a_source_in_blocks(center, weighted, cut):
    rng = _rng(15)
    X = rng.normal(size=(30, 3)) * np.array([2.0, 0.5, 8.0]) + np.array([1.0, -3.0, 20.0])
    Y = rng.normal(size=(30, 2)) * np.array([3.0, 0.05]) + np.array([1.0, 0.0])  # one output below 1 in size
    sw = rng.uniform(0.2, 2.0, 30) if weighted else None
    s = np.ones(30) if sw is None else sw
    m = s.sum()
    src = TwoBlocks(X, Y, sw, cut=cut)
    mu, y_mu = s @ X / m, s @ Y / m
    a, c = (mu, y_mu) if center else (np.zeros(3), np.zeros(2))
    beta = 2.0 ** np.floor(np.log2(np.abs(X).max(axis=0)) + 1)  # the power of two above max |x|
    y_beta = 2.0 ** np.floor(np.log2(np.abs(Y).max(axis=0)) + 1)
    A = np.column_stack([(X - a) / beta, (Y - c) / y_beta])
    G = (A * s[:, None]).T @ A / m
    for gram in (True, False):
        st = src.statistics(center=center, gram=gram, targets=True)
        assert st.n_samples == 30 and st.weight_sum == pytest.approx(m, rel=1e-15) and st.centred == center
        np.testing.assert_array_equal(st.scale, beta)
        np.testing.assert_array_equal(st.y_scale, y_beta)
        np.testing.assert_array_equal(st.max_abs, np.abs(X).max(axis=0))
        np.testing.assert_array_equal(st.y_max_abs, np.abs(Y).max(axis=0))
        np.testing.assert_allclose(st.mean, mu, rtol=1e-13)
        np.testing.assert_allclose(st.shift, a, rtol=1e-13)
        np.testing.assert_allclose(st.y_mean, y_mu, rtol=1e-13)
        np.testing.assert_allclose(st.second, np.diag(G)[:3], rtol=1e-12)
        np.testing.assert_allclose(st.y_second, np.diag(G)[3:], rtol=1e-12)
        if gram:
            np.testing.assert_allclose(st.gram, G, rtol=1e-12, atol=1e-15)
        else:
            assert st.gram is None
    st = src.statistics(center=center, gram=True)  # targets default to False: the Gram matrix of X alone
    np.testing.assert_allclose(st.gram, G[:3, :3], rtol=1e-12, atol=1e-15)


def test_problem_maps_parameters_into_the_solvers_coordinates():
    """θ_s = T⁺θ: W_s = M⁺W/τ, b_s = (b + μᵀW)/τ, written out; the identity without coordinates."""
    rng = _rng(16)
    X = rng.normal(size=(20, 2))
    src = ArraySource(X, rng.normal(size=(20, 1)))
    objective = Objective(HalfSquaredError(), penalty_norm=20.0)
    theta = np.array([[2.0], [-1.0], [0.5]])
    assert objective.bind(src).from_original(theta) is theta
    co = Coordinates(np.array([1.0, -2.0]), np.array([0.5, 4.0]), np.array([2.0, 0.25]), target_scale=2.0)
    expected = np.array([[2.0 * 2.0 / 2.0], [-1.0 * 0.25 / 2.0], [(0.5 + 1.0 * 2.0 - 2.0 * -1.0) / 2.0]])
    np.testing.assert_allclose(objective.bind(src, co).from_original(theta), expected, rtol=1e-15)


def test_column_means_whose_sums_overflow_are_summed_again_in_units_of_beta():
    X = np.array([[1.5e308, 1.0], [1.2e308, 2.0], [-0.5e308, 4.0]])
    sw = np.array([1.0, 2.0, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the first sum overflows (inside the kernel)
        st = ArraySource(X, np.zeros((3, 1)), sw).statistics(center=True, gram=False)
    expected = (sw @ (X / 1e300)) / sw.sum() * 1e300
    np.testing.assert_allclose(st.mean, expected, rtol=1e-12)


# ------------------------------------------------------------------ links (fifth run)
def test_binary_link_is_the_logit_clipped_to_1e_12_of_zero_and_one():
    """Kills: either clip bound dropped or moved (``None``, ``1 + 1e-12``, ``2 - 1e-12``): log(p/(1 − p)) with
    p ∈ [1e-12, 1 − 1e-12], for float and integer means."""
    p = np.array([1e-12, 0.25, 0.5, 1 - 1e-12])
    logit = np.log(p / (1 - p))
    for y_mean in ([0.0, 0.25, 0.5, 1.0], np.array([0, 1])):
        got = BinaryLogLoss().link(np.asarray(y_mean))
        want = logit if len(y_mean) == 4 else logit[[0, 3]]
        np.testing.assert_allclose(got, want, rtol=1e-6)  # 1 − 1e-12 carries rounding of 1e-16/1e-12
    assert BinaryLogLoss().link(0.5) == 0.0


def test_multinomial_link_is_the_centred_log_clipped_at_1e_12():
    """Kills: the lower clip dropped (``clip(p, None, None)`` raises) and ``+ mean`` for ``− mean``: the scores
    log p − mean(log p), whose softmax is p again."""
    p = np.array([0.0, 0.25, 0.75])
    logp = np.log([1e-12, 0.25, 0.75])
    got = MultinomialLogLoss().link(p)
    np.testing.assert_allclose(got, logp - logp.mean(), rtol=1e-15)
    np.testing.assert_allclose(_soft(got[None, :])[0], [1e-12 / (1 + 1e-12), 0.25, 0.75], rtol=1e-11)


# ------------------------------------------------------------------ objective: L1 parts, Hessian maps (fifth run)
def _soft_threshold(v, t):
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def test_pack_stacks_w_over_a_row_of_intercepts():
    """Kills: ``reshape(1, )``, ``reshape(1, +1)``, ``reshape(1, -2)`` for ``reshape(1, -1)`` (k = 3 outputs)."""
    from gdlearn.objective import pack

    W = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(pack(W, [7.0, 8.0, 9.0]), [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [7.0, 8.0, 9.0]])
    np.testing.assert_array_equal(pack(W[:, :1], 0.5), [[0.0], [3.0], [0.5]])


def test_l1_value_prox_and_residual_leave_the_intercept_row_out():
    """Kills: ``theta[:+1]``/``theta[:-2]`` in the L1 value; in ``prox`` and ``residual`` every slice, argument and
    default (weights 1.0, ``None``, ``not has_l1``), against the soft-threshold and the minimum-norm subgradient
    written out: G + λw·sign(W) where W ≠ 0, sign(G)·max(|G| − λw, 0) where W = 0; the intercept's row untouched."""
    lam, m = 0.6, 3.0
    obj = Objective(HalfSquaredError(), l1=lam, penalty_norm=m)
    t = lam / m
    theta = np.array([[0.5, -0.1], [0.0, 0.0], [-2.0, 0.3], [4.0, -5.0]])  # 3 features, 2 outputs; last row b
    grad = np.array([[0.1, 0.3], [0.15, -0.5], [1.0, -0.05], [7.0, -8.0]])
    assert obj.nonsmooth_value(theta) == pytest.approx(t * 2.9, rel=1e-15)
    step = 0.5
    want = theta.copy()
    want[:-1] = _soft_threshold(theta[:-1], step * t)
    np.testing.assert_array_equal(obj.prox(theta, step), want)
    steps = np.array([[0.5, 2.0], [1.0, 1.0], [0.25, 0.1], [9.0, 9.0]])  # per coordinate (a 2-D step)
    w = np.array([[1.0], [2.0], [0.5]])
    want[:-1] = _soft_threshold(theta[:-1], steps[:-1] * t * w)
    np.testing.assert_allclose(obj.prox(theta, steps, w), want, rtol=1e-15)
    for weights in (1.0, w):
        tw = np.broadcast_to(t * np.asarray(weights), theta[:-1].shape)
        want = grad.copy()
        G, W = grad[:-1], theta[:-1]
        want[:-1] = np.where(W != 0, G + tw * np.sign(W), np.sign(G) * np.maximum(np.abs(G) - tw, 0.0))
        got = obj.residual(theta, grad) if isinstance(weights, float) else obj.residual(theta, grad, weights)
        np.testing.assert_allclose(got, want, rtol=1e-15)
    smooth = Objective(HalfSquaredError(), penalty_norm=m)
    assert smooth.prox(theta, step) is theta and smooth.residual(theta, grad) is grad


def test_problem_l1_steps_use_the_weights_of_diagonal_coordinates():
    """Kills: ``Problem.prox`` and ``Problem.residual`` not passing (or passing ``None`` for) the coordinates'
    L1 weights M/τ: λ‖W‖₁ = λ Σ (Mⱼ/τ)·τ|W_s,j| in the solver's units, written out."""
    lam, m = 0.9, 4.0
    rng = _rng(21)
    src = ArraySource(rng.normal(size=(4, 2)), rng.normal(size=(4, 1)))
    obj = Objective(HalfSquaredError(), l1=lam, penalty_norm=m)
    co = Coordinates(np.zeros(2), np.array([2.0, 0.25]), np.array([0.5, 4.0]), target_scale=2.0)
    problem = obj.bind(src, co)
    w = np.array([[2.0 / 2.0], [0.25 / 2.0]])
    theta = np.array([[0.3], [0.0], [1.0]])
    grad = np.array([[-0.2], [0.4], [0.5]])
    want = grad.copy()
    want[0] = grad[0] + lam / m * w[0]
    want[1] = np.sign(grad[1]) * max(abs(grad[1, 0]) - lam / m * w[1, 0], 0.0)
    np.testing.assert_allclose(problem.residual(theta, grad), want, rtol=1e-15)
    theta = np.array([[0.3], [0.05], [1.0]])
    want = theta.copy()
    want[:-1] = _soft_threshold(theta[:-1], 0.5 * lam / m * w)
    assert want[1, 0] > 0  # 0.05 above its threshold 0.5·0.9/4·0.125, below the unweighted 0.1125
    np.testing.assert_allclose(problem.prox(theta, 0.5), want, rtol=1e-15)
    plain = obj.bind(src)  # the user's coordinates: weight 1
    want[:-1] = _soft_threshold(theta[:-1], 0.5 * lam / m)
    np.testing.assert_allclose(plain.prox(theta, 0.5), want, rtol=1e-15)
    J = 0.5 * np.mean((src.X @ theta[:-1] + theta[-1] - src.Y) ** 2) + lam / m * np.abs(theta[:-1]).sum()
    assert plain.value(theta) == pytest.approx(J, rel=1e-14)
    assert obj.bind(src).value(theta) > Objective(HalfSquaredError(), penalty_norm=m).bind(src).value(theta)


def test_newton_hessian_in_the_users_coordinates_is_the_moment_matrix():
    """Kills: ``T = None`` for the diagonal of units without coordinates: H = [X 1]ᵀS[X 1]/m + λ₂/m·I_W for the
    squared loss, written out."""
    rng = _rng(22)
    X, y, sw = rng.normal(size=(9, 2)) * [1.0, 300.0], rng.normal(size=(9, 1)), rng.uniform(0.5, 2.0, 9)
    obj = Objective(HalfSquaredError(), l2=1.5, penalty_norm=sw.sum())
    H = obj.bind(ArraySource(X, y, sw)).value_grad_hessian(np.zeros((3, 1)))[2]
    A = np.hstack([X, np.ones((9, 1))])
    want = A.T @ (A * sw[:, None]) / sw.sum() + np.diag([1.5, 1.5, 0.0]) / sw.sum()
    np.testing.assert_allclose(H, want, rtol=1e-12)


def test_newton_hessian_in_whitened_coordinates_with_l2_is_the_gradients_derivative():
    """Kills: the L2 term λ₂MᵀM/m built from ``diag(M)`` for a dense M: H against central differences of ∇J."""
    rng = _rng(23)
    X = rng.normal(size=(30, 3)) @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 2.0]])
    y = (rng.uniform(size=(30, 1)) < 0.5).astype(float)
    src = ArraySource(X, y)
    obj = Objective(BinaryLogLoss(), l2=3.0, penalty_norm=30.0)
    co = whitened_coordinates(src.statistics(center=True, gram=True), ridge=0.1)
    assert co.dense
    problem = obj.bind(src, co)
    theta = np.array([[0.3], [-0.2], [0.1], [0.05]])
    H = problem.value_grad_hessian(theta)[2]
    h = 1e-6
    fd = np.empty((4, 4))
    for j in range(4):
        e = np.zeros((4, 1))
        e[j] = h
        fd[:, j] = ((problem.value_and_grad(theta + e)[1] - problem.value_and_grad(theta - e)[1]) / (2 * h)).ravel()
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-8)


def test_the_curvature_bound_leaves_frozen_coordinates_out_without_touching_v():
    """Kills: ``v = None``, the frozen entries set to None or 1.0, the slices ``[:+1]``, ``[:-2]``, in
    ``hessian_bound_matvec``: a constant column of 1e300 is held fixed, so its entry of v changes nothing (mapped,
    it would add ∓1e300 to b and lose every other digit), and the caller's v is left as it was."""
    rng = _rng(24)
    X = np.hstack([rng.normal(size=(8, 2)), np.full((8, 1), 1e300)])
    src = ArraySource(X, rng.normal(size=(8, 1)))
    co = diagonal_coordinates(src.statistics(center=True, gram=False))
    assert list(co.frozen) == [False, False, True]
    problem = Objective(HalfSquaredError(), penalty_norm=8.0).bind(src, co)
    v = np.array([[0.5], [-1.0], [1.0], [0.25]])
    kept = v.copy()
    out = problem.hessian_bound_matvec(v)
    np.testing.assert_array_equal(v, kept)
    v0 = v.copy()
    v0[2] = 0.0
    np.testing.assert_array_equal(out, problem.hessian_bound_matvec(v0))
    A = np.hstack([(X[:, :2] - X[:, :2].mean(axis=0)) * co.matrix[:2], np.ones((8, 1))])  # the live columns
    want = A.T @ A @ v0[[0, 1, 3]] / 8.0
    np.testing.assert_allclose(out[[0, 1, 3]], want, rtol=1e-12)


def test_objective_defaults_refusal_and_mini_batch_normalisation():
    """Kills: ``penalty_norm = 2.0`` by default, ``>= 0`` (m = 0 is refused with its message, not divided by), the
    intercept held at a zero of b's shape without one (``zeros_like(None)``), and a mini-batch's data term divided by
    m instead of |B|·s̄: Σ_B sᵢℓᵢ/(|B|·s̄), written out."""
    assert Objective(HalfSquaredError(), l2=2.0, l1=3.0).penalty == Penalty(l2=2.0, l1=3.0)
    with pytest.raises(ValueError) as exc:
        Objective(HalfSquaredError(), penalty_norm=0.0)
    assert str(exc.value) == "The sample weights sum to zero: there is nothing to learn from."
    rng = _rng(25)
    X, y, sw = rng.normal(size=(6, 2)), rng.normal(size=(6, 1)), rng.uniform(0.5, 2.0, 6)
    src = ArraySource(X, y, sw)
    theta = np.array([[0.5], [-1.0], [3.0]])
    value, grad = Objective(HalfSquaredError(), fit_intercept=False, penalty_norm=sw.sum()).value_and_grad(theta, src)
    r = X @ theta[:-1] - y  # b is held at 0
    assert value == pytest.approx(0.5 * float(sw @ r[:, 0] ** 2) / sw.sum(), rel=1e-14)
    np.testing.assert_allclose(grad, np.vstack([X.T @ (sw[:, None] * r) / sw.sum(), [[0.0]]]), rtol=1e-13)
    rows = np.array([0, 2, 5])
    value, grad = Objective(HalfSquaredError(), penalty_norm=sw.sum()).value_and_grad(theta, src, rows=rows)
    norm = 3 * sw.mean()
    r = X[rows] @ theta[:-1] + theta[-1] - y[rows]
    assert value == pytest.approx(0.5 * float(sw[rows] @ r[:, 0] ** 2) / norm, rel=1e-14)
    A = np.hstack([X[rows], np.ones((3, 1))])
    np.testing.assert_allclose(grad, A.T @ (sw[rows, None] * r) / norm, rtol=1e-13)


def test_newton_hessian_with_a_huge_constant_column_stays_finite():
    """Kills: the frozen column's entry of the map kept (``where(None, …)``, ``None`` for 0.0): β·1 of a constant
    column near 1e300 would overflow TᵀHT. The live block is checked against central differences of ∇J."""
    rng = _rng(26)
    X = np.hstack([rng.normal(size=(12, 2)), np.full((12, 1), 3e300)])
    y = (rng.uniform(size=(12, 1)) < 0.5).astype(float)
    src = ArraySource(X, y)
    co = diagonal_coordinates(src.statistics(center=True, gram=False))
    problem = Objective(BinaryLogLoss(), penalty_norm=12.0).bind(src, co)
    theta = np.array([[0.2], [-0.1], [0.0], [0.3]])
    H = problem.value_grad_hessian(theta)[2]
    assert np.isfinite(H).all() and H[2, 2] == 1.0 and not H[2, [0, 1, 3]].any() and not H[[0, 1, 3], 2].any()
    live = [0, 1, 3]
    h = 1e-6
    for j in live:
        e = np.zeros((4, 1))
        e[j] = h
        fd = (problem.value_and_grad(theta + e)[1] - problem.value_and_grad(theta - e)[1]) / (2 * h)
        np.testing.assert_allclose(H[live, j], fd[live, 0], rtol=1e-6, atol=1e-9)


def test_squared_error_link_is_the_mean_as_a_float_score():
    """Kills: ``dtype=None`` in ``HalfSquaredError.link``: an integer mean gives a float64 score."""
    got = HalfSquaredError().link(np.array([1, 2]))
    assert got.dtype == np.float64 and list(got) == [1.0, 2.0]


# ------------------------------------------------------------------ the reference kernel in several blocks (fifth run)
def test_row_blocks_are_one_mebibyte_of_float64_rows_and_at_least_64():
    """Kills: the block sizes' constants (65 for 64, ``max(2, …)``, ``8 / n``, ``9·n``): the slices, written out."""
    assert reference.row_blocks(300, 1024) == [slice(0, 128), slice(128, 256), slice(256, 300)]  # 2²⁰/(8·1024)
    assert reference.row_blocks(200, 1 << 17) == [slice(0, 64), slice(64, 128), slice(128, 192), slice(192, 200)]
    assert reference.row_blocks(600_000, 0) == [slice(0, 600_000)]  # 2²⁰ rows of nothing
    assert reference.row_blocks(131_073, 1) == [slice(0, 131_072), slice(131_072, 131_073)]
    assert reference.row_blocks(0, 3) == [slice(0, 0)]


@pytest.fixture
def blocks_of_64(monkeypatch):
    """Blocks of 64 rows whatever the width: every sum of the reference kernel is added over several blocks."""
    monkeypatch.setattr(reference, "_BLOCK_BYTES", 1)
    assert reference.row_blocks(150, 3) == [slice(0, 64), slice(64, 128), slice(128, 150)]


@pytest.mark.parametrize("weighted", [False, True])
def test_reference_sums_over_several_blocks_are_those_of_numpy(blocks_of_64, weighted):
    """Kills: ``=`` for ``+=`` in the Hessian (one output and three), column moments and variance sums (only the
    last block kept), and
    ``Y[rows]`` taken of ``None`` in the curvature pass of a mini-batch: each sum against NumPy on the whole X."""
    rng = _rng(30)
    m, p = 150, 3
    X = rng.normal(size=(m, p)) + [0.0, 5.0, -2.0]
    sw = rng.uniform(0.5, 2.0, m) if weighted else None
    s = np.ones(m) if sw is None else sw
    W, b = rng.normal(size=(p, 1)), np.array([0.3])
    shift, inv = np.array([0.1, 5.0, -2.0]), np.array([1.0, 0.5, 2.0])
    A = np.hstack([(X - shift) * inv, np.ones((m, 1))])
    w = s * BinaryLogLoss().hessian_weights(X @ W + b)[:, 0, 0]
    np.testing.assert_allclose(
        reference.hessian_sums(X, sw, W, b, BinaryLogLoss(), shift, inv)[0, 0], A.T @ (A * w[:, None]), rtol=1e-12
    )
    W3 = rng.normal(size=(p, 3))
    C = MultinomialLogLoss().hessian_weights(X @ W3) * s[:, None, None]
    H = reference.hessian_sums(X, sw, W3, np.zeros(3), MultinomialLogLoss(), shift, inv)
    for o, q in [(0, 0), (0, 2), (2, 1)]:
        np.testing.assert_allclose(H[o, q], A.T @ (A * C[:, o, q][:, None]), rtol=1e-12)
    big, total = reference.column_moments(X, sw, inv)
    np.testing.assert_array_equal(big, np.abs(X).max(axis=0))
    np.testing.assert_allclose(total, s @ (X * inv), rtol=1e-12)
    np.testing.assert_allclose(reference.column_variance(X, sw, shift, inv), s @ ((X - shift) * inv) ** 2, rtol=1e-12)
    rows = np.array([3, 70, 149])
    _, gW, gb = reference.loss_sums(X, None, sw, W, b, None, rows=rows)
    z = (X[rows] @ W + b) * s[rows, None]
    np.testing.assert_allclose(gW, X[rows].T @ z, rtol=1e-12)
    np.testing.assert_allclose(gb, z.sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_reference_gram_over_several_blocks_is_that_of_numpy(blocks_of_64, weighted):
    """Kills: the dsyrk path of ``gram`` (more than one block): ``G = None``, its arguments (α = 2, β = 2, ``c=None``,
    ``trans``, ``lower``), the buffer's slice and the one-block test (a middle block's start + stop is m), and the
    symmetric completion ``triu(G) + triu(G, 1)ᵀ`` (sign, diagonal offset)."""
    rng = _rng(31)
    m = 192  # blocks 0–64, 64–128, 128–192
    X, Y = rng.normal(size=(m, 3)), rng.normal(size=(m, 2))
    sw = rng.uniform(0.5, 2.0, m) if weighted else None
    s = np.ones(m) if sw is None else sw
    shift, inv, y_shift, y_inv = np.array([0.5, -1.0, 0.0]), np.array([2.0, 1.0, 0.5]), np.array([1.0, -1.0]), 0.5
    A = np.hstack([(X - shift) * inv, (Y - y_shift) * y_inv])
    np.testing.assert_allclose(reference.gram(X, Y, sw, shift, inv, y_shift, y_inv), A.T @ (A * s[:, None]), rtol=1e-12)
    np.testing.assert_allclose(
        reference.gram(X, None, sw, shift, inv, None, None), A[:, :3].T @ (A[:, :3] * s[:, None]), rtol=1e-12
    )


def test_sparse_column_variance_counts_the_implicit_zeros_exactly():
    """Kills: ``bincount`` without ``minlength`` (a last column with no stored entry), ``X.shape[1]`` for the row
    count, the fully stored column's implicit weight (``where(None, …)``, 1.0 for 0.0), and ``max(…, 1.0)`` for
    ``max(…, 0.0)``: Σ sᵢ((xᵢⱼ − shiftⱼ)·invⱼ)² over all rows of the dense matrix, written out."""
    import scipy.sparse as sp

    rng = _rng(32)
    m = 1000
    dense = np.zeros((m, 4))
    dense[:, 0] = 1e8 + rng.normal(size=m)  # fully stored, far from 0: a spurious implicit share would show
    dense[3:, 1] = rng.normal(size=m - 3)  # stored but in 3 rows: an implicit weight below 1
    dense[:4, 2] = 1.0  # stored in as many rows as X has columns; the last column stores nothing
    shift, inv = np.array([1e8, 0.5, 0.25, -1.0]), np.array([1.0, 2.0, 1.0, 3.0])
    for sw in (None, np.full(m, 0.1)):  # 0.1 added one by one and pairwise differ in the last bits
        s = np.ones(m) if sw is None else sw
        got = reference.column_variance(sp.csr_matrix(dense), sw, shift, inv)
        np.testing.assert_allclose(got, s @ ((dense - shift) * inv) ** 2, rtol=1e-9)


def test_max_row_norm_is_zero_or_the_largest_small_norm():
    """Kills: a start of 1.0 (``top = 1.0``, ``initial=1.0``) and ``initial=None`` (an empty X has no rows)."""
    X = np.array([[0.1, 0.2], [0.3, -0.1]])
    sw = np.array([2.0, 0.5])
    assert reference.max_row_norm(X, sw, np.zeros(2), np.ones(2)) == pytest.approx(max(2 * 0.05, 0.5 * 0.1), rel=1e-15)
    assert reference.max_row_norm(np.zeros((0, 2)), None, np.zeros(2), np.ones(2)) == 0.0


def test_reference_gram_of_a_wide_x_reuses_a_buffer_of_one_blocks_rows():
    """Kills: the buffer sized ``2²⁰ / (8q)`` as a float or by ``9q``: with q = 1024 columns a block is 128 rows
    (3 blocks of 300 rows), and the buffer must hold one."""
    rng = _rng(33)
    X, Y = rng.normal(size=(300, 1023)), rng.normal(size=(300, 1))
    A = np.hstack([X, Y])
    got = reference.gram(X, Y, None, np.zeros(1023), np.ones(1023), np.zeros(1), 1.0)
    np.testing.assert_allclose(got, A.T @ A, rtol=1e-10, atol=1e-10)
