"""Arrays of other libraries (PyTorch CPU tensors, array_api_strict) read through the array API standard.

The reference is NumPy: the readable kernel for the sums, the NumPy fit for the estimators.  array_api_strict
rejects anything outside the standard, so a pass on it shows that the kernel uses the standard only.
"""

from __future__ import annotations

import array_api_strict as xps
import numpy as np
import pytest
import torch

from gdlearn import kernels
from gdlearn.kernels import arrayapi, reference
from gdlearn.losses import BinaryLogLoss, HalfSquaredError, MultinomialLogLoss

LIBRARIES = {"torch": torch.asarray, "array_api_strict": xps.asarray}
LOSSES = {"squared": (HalfSquaredError(), 2), "binary": (BinaryLogLoss(), 1), "multinomial": (MultinomialLogLoss(), 3)}


def _problem(name, m=700, p=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, p)) * np.array([1.0, 10.0, 0.1, 3.0, 1.0])[:p] + 2.0
    sw = rng.uniform(0.2, 3.0, size=m)
    loss, k = LOSSES[name]
    if name == "squared":
        Y = rng.normal(size=(m, k))
    elif name == "binary":
        Y = rng.integers(0, 2, size=(m, 1)).astype(float)
    else:
        Y = np.eye(k)[rng.integers(0, k, size=m)]
    return X, Y, sw, loss, rng.normal(size=(p, Y.shape[1])) * 0.3, rng.normal(size=Y.shape[1])


@pytest.mark.parametrize("lib", LIBRARIES)
@pytest.mark.parametrize("name", LOSSES)
def test_loss_sums_equal_the_numpy_kernel(lib, name):
    X, Y, sw, loss, W, b = _problem(name)
    to = LIBRARIES[lib]
    rows = np.array([3, 1, 600, 42, 42])
    for weights in (None, sw):
        w = None if weights is None else to(weights)
        for kw in ({}, {"rows": rows}):
            got = kernels.loss_sums(to(X), to(Y), w, W, b, loss, **kw)
            want = reference.loss_sums(X, Y, weights, W, b, loss, **kw)
            assert got[0] == pytest.approx(want[0], rel=1e-13, abs=0)
            np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-12 * np.abs(want[1]).max())
            np.testing.assert_allclose(got[2], want[2], rtol=1e-12, atol=1e-12 * np.abs(want[2]).max())
            assert isinstance(got[1], np.ndarray) and got[1].dtype == np.float64  # only p × k numbers come back
        curv = kernels.loss_sums(to(X), None, w, W, b, loss)
        ref = reference.loss_sums(X, None, weights, W, b, loss)
        np.testing.assert_allclose(curv[1], ref[1], rtol=1e-12)


@pytest.mark.parametrize("lib", LIBRARIES)
@pytest.mark.parametrize("name", LOSSES)
def test_hessian_and_statistics_equal_the_numpy_kernel(lib, name):
    X, Y, sw, loss, W, b = _problem(name, m=300)
    to, p, k = LIBRARIES[lib], X.shape[1], Y.shape[1]
    shift, inv = X.mean(axis=0), 1.0 / X.std(axis=0)
    H = kernels.hessian_sums(to(X), sw, W, b, loss, shift, inv)  # host weights are sent to the device
    np.testing.assert_allclose(H, reference.hessian_sums(X, sw, W, b, loss, shift, inv), rtol=1e-12, atol=1e-9)
    for a, r in zip(kernels.column_moments(to(X), sw, inv), reference.column_moments(X, sw, inv)):
        np.testing.assert_allclose(a, r, rtol=1e-13)
    np.testing.assert_allclose(
        kernels.column_variance(to(X), sw, shift, inv), reference.column_variance(X, sw, shift, inv), rtol=1e-12
    )
    y_shift, y_inv = Y.mean(axis=0), np.full(k, 0.5)
    G = kernels.gram(to(X), to(Y), to(sw), shift, inv, y_shift, y_inv)
    assert G.shape == (p + k, p + k)
    np.testing.assert_allclose(G, reference.gram(X, Y, sw, shift, inv, y_shift, y_inv), rtol=1e-12, atol=1e-9)
    assert kernels.max_row_norm(to(X), to(sw), shift, inv) == pytest.approx(
        reference.max_row_norm(X, sw, shift, inv), rel=1e-13
    )


def test_row_blocks_cover_every_row_once(monkeypatch):
    """Passes over large X go block by block: the sums do not depend on the block size."""
    X, Y, sw, loss, W, b = _problem("multinomial", m=2500)
    shift, inv = X.mean(axis=0), np.ones(X.shape[1])
    whole = kernels.gram(torch.asarray(X), Y, sw, shift, inv, Y.mean(axis=0), np.ones(3))
    monkeypatch.setattr(arrayapi, "BLOCK_BYTES", 8 * X.shape[1] * 1024)  # blocks of 1,024 rows: 3 blocks
    assert len(arrayapi._blocks(X)) == 3
    np.testing.assert_allclose(
        kernels.gram(torch.asarray(X), Y, sw, shift, inv, Y.mean(axis=0), np.ones(3)), whole, rtol=1e-13
    )
    np.testing.assert_allclose(
        kernels.hessian_sums(torch.asarray(X), sw, W, b, loss, shift, inv),
        reference.hessian_sums(X, sw, W, b, loss, shift, inv),
        rtol=1e-12,
    )


def test_float32_is_read_in_float32_and_summed_close_to_float64():
    X, Y, sw, loss, W, b = _problem("binary")
    got = kernels.loss_sums(
        torch.asarray(X, dtype=torch.float32), torch.asarray(Y, dtype=torch.float32), None, W, b, loss
    )
    want = reference.loss_sums(X.astype(np.float32), Y, None, W, b, loss)
    assert got[0] == pytest.approx(want[0], rel=1e-5)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-4, atol=1e-4 * np.abs(want[1]).max())


def test_extreme_scores_stay_finite_and_exact():
    """|z| = 1e4: the log loss never takes log(0) and the softmax never overflows (as in gdlearn.losses)."""
    X = np.array([[1e4], [-1e4], [0.0]])
    for name in ("binary", "multinomial"):
        loss, k = LOSSES[name]
        Y = np.array([[1.0], [1.0], [0.0]]) if k == 1 else np.eye(k)[[0, 1, 2]]
        W, b = np.ones((1, Y.shape[1])) * np.arange(1, Y.shape[1] + 1), np.zeros(Y.shape[1])
        got = kernels.loss_sums(torch.asarray(X), torch.asarray(Y), None, W, b, loss)
        want = reference.loss_sums(X, Y, None, W, b, loss)
        assert np.isfinite(got[0]) and got[0] == pytest.approx(want[0], rel=1e-13)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


def test_a_custom_loss_is_refused_with_a_clear_error():
    class Custom(HalfSquaredError):
        kernel_id = None

    X, Y, sw, _, W, b = _problem("squared")
    with pytest.raises(TypeError, match="gdlearn's own losses"):
        kernels.loss_sums(torch.asarray(X), torch.asarray(Y), None, W, b, Custom())
