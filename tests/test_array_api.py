"""Arrays of other libraries (PyTorch CPU tensors, array_api_strict) read through the array API standard.

The reference is NumPy: the readable kernel for the sums, the NumPy fit for the estimators.  array_api_strict
rejects anything outside the standard, so a pass on it shows that the kernel uses the standard only.
"""

from __future__ import annotations

import warnings

import array_api_strict as xps
import numpy as np
import pytest

from gdlearn import kernels
from gdlearn.kernels import arrayapi, reference
from gdlearn.losses import BinaryLogLoss, HalfSquaredError, MultinomialLogLoss


class _Torch:
    """``torch``, imported at its first use rather than at collection: each xdist worker collects every file, and only
    the one that runs these tests should pay PyTorch's 1.5 s import."""

    def __getattr__(self, name):
        import torch

        return getattr(torch, name)


torch = _Torch()
LIBRARIES = {"torch": lambda a: torch.asarray(a), "array_api_strict": xps.asarray}
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
    Y_t, sw_t = torch.asarray(Y), torch.asarray(sw)
    monkeypatch.setattr(arrayapi, "LOSS_BLOCK_BYTES", 8 * X.shape[1] * 700)  # the loss sums in blocks of 700 rows
    got = kernels.loss_sums(torch.asarray(X), Y_t, sw_t, W, b, loss)
    want = reference.loss_sums(X, Y, sw, W, b, loss)
    assert got[0] == pytest.approx(want[0], rel=1e-13, abs=0)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12)


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


# ===================================================================== the estimators
from gdlearn import LinearRegression, LogisticRegression  # noqa: E402


def _host(a):
    return a.numpy() if isinstance(a, torch.Tensor) else np.from_dlpack(a)


def _data(seed=1, m=400):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, 4)) * np.array([1.0, 10.0, 0.1, 2.0]) + 1.0
    y = X @ np.array([1.0, 0.2, -3.0, 0.5]) + rng.normal(size=m)
    return X, y, rng.uniform(0.5, 2.0, size=m)


TASKS = {
    "linear": (LinearRegression, lambda y: y),
    "binary": (LogisticRegression, lambda y: (y > np.median(y)).astype(np.int64)),
    "multinomial": (LogisticRegression, lambda y: np.digitize(y, np.quantile(y, [0.3, 0.6]))),
}
SETTINGS = {
    "default": {},
    "gd": dict(solver="gd", max_iter=150),
    "lbfgs": dict(solver="lbfgs", l2=0.1),
    "newton": dict(solver="newton", l2=0.1),
    "adam mini-batches": dict(solver="adam", batch_size=64, max_iter=5, random_state=3),
    "fista l1": dict(solver="fista", l1=0.5, max_iter=100),
}


def _fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: the short runs stop at max_iter on purpose
        return model.fit(*args, **kwargs)


@pytest.mark.parametrize("lib", LIBRARIES)
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("setting", SETTINGS)
def test_a_fit_on_other_arrays_equals_the_numpy_fit(lib, task, setting):
    """float64: the same coefficients as the NumPy fit to 1e-10, in X's library; predictions there too."""
    Model, target = TASKS[task]
    X, y, sw = _data()
    t = target(y)
    to = LIBRARIES[lib]
    ref = _fit(Model(**SETTINGS[setting]), X, t, sample_weight=sw)
    got = _fit(Model(**SETTINGS[setting]), to(X), to(t), sample_weight=to(sw))
    assert type(got.coef_) is type(to(X)) and got.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(_host(got.coef_), ref.coef_, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.asarray(got.loss_curve_), ref.loss_curve_, rtol=1e-10)
    pred = got.predict(to(X))
    assert type(pred) is type(to(X))
    if Model is LogisticRegression:
        np.testing.assert_array_equal(_host(pred), ref.predict(X))
        for method in ("predict_proba", "predict_log_proba", "decision_function"):
            out = getattr(got, method)(to(X))
            assert type(out) is type(to(X))
            np.testing.assert_allclose(_host(out), getattr(ref, method)(X), rtol=1e-9, atol=1e-12)
    else:
        np.testing.assert_allclose(_host(pred), ref.predict(X), rtol=1e-10, atol=1e-10 * np.abs(ref.predict(X)).max())


@pytest.mark.parametrize("task", TASKS)
def test_float32_tensors_fit_within_1e_5_of_the_numpy_float32_fit(task):
    """float32 X is summed in float32 on its device (NumPy's float32 path sums in float64): on well-conditioned
    data the coefficients agree to 1e-5 and the loss to 1e-6."""
    Model, target = TASKS[task]
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2000, 4)).astype(np.float32)
    y = X @ np.array([1.0, 0.5, -1.0, 0.25]) + rng.normal(size=2000)
    ref = _fit(Model(l2=0.1), X, target(y))
    got = _fit(Model(l2=0.1), torch.asarray(X), torch.asarray(target(y)))
    assert got.coef_.dtype == torch.float32
    W, W_ref = got.coef_.numpy(), ref.coef_
    if task == "multinomial":  # only differences between classes are pinned by the data (a shared shift is by l2
        W, W_ref = W - W[0], W_ref - W_ref[0]  # alone, at l2/m = 5e-5: float32 gradients leave it loose, ~1e-4)
    np.testing.assert_allclose(W, W_ref, rtol=1e-5, atol=1e-5)
    assert got.loss_curve_[-1] == pytest.approx(ref.loss_curve_[-1], rel=1e-6, abs=0)
    if Model is LogisticRegression:
        proba = got.predict_proba(torch.asarray(X))
        np.testing.assert_allclose(proba.numpy(), ref.predict_proba(X), atol=1e-5)


def test_partial_fit_on_tensors_equals_partial_fit_on_numpy():
    X, y, _ = _data(seed=3)
    t = TASKS["multinomial"][1](y)
    a, b = LogisticRegression(), LogisticRegression()
    for rows in np.array_split(np.arange(len(y)), 4):
        a.partial_fit(X[rows], t[rows], classes=[0, 1, 2])
        b.partial_fit(torch.asarray(X[rows]), torch.asarray(t[rows]), classes=[0, 1, 2])
    np.testing.assert_allclose(b.coef_.numpy(), a.coef_, rtol=1e-10, atol=1e-12)


def test_string_labels_come_back_as_numpy_and_a_saved_model_predicts_on_any_library(tmp_path):
    from gdlearn.persistence import load, save

    X, y, _ = _data(seed=4)
    labels = np.where(y > np.median(y), "high", "low")
    model = _fit(LogisticRegression(), torch.asarray(X), labels)
    assert list(model.predict(torch.asarray(X[:3]))) == list(_fit(LogisticRegression(), X, labels).predict(X[:3]))
    save(model, tmp_path / "m.gdlearn")
    again = load(tmp_path / "m.gdlearn")
    np.testing.assert_allclose(again.coef_, model.coef_.numpy(), rtol=0)
    np.testing.assert_allclose(again.predict_proba(xps.asarray(X)), again.predict_proba(X), rtol=1e-12)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda X: torch.asarray(X, dtype=torch.int64), "dtype"),
        (lambda X: torch.asarray(np.where(X > 2, np.nan, X)), "NaN"),
        (lambda X: torch.asarray(X[:, 0]), "2-D"),
    ],
)
def test_bad_tensors_are_refused_with_a_message_that_says_what_to_do(make, message):
    X, y, _ = _data()
    model = LinearRegression()
    with pytest.raises(ValueError, match=message):
        model.fit(make(X), y)
    assert not hasattr(model, "coef_")


@pytest.mark.parametrize(
    ("params", "setting"),
    [
        ({"validation_fraction": 0.2}, "validation_fraction"),
        ({"early_stopping": True}, "early_stopping"),
        ({"checkpoint": "run.ckpt"}, "checkpoint"),
    ],
)
def test_settings_that_need_rows_on_the_host_are_refused_by_name(params, setting):
    X, y, _ = _data()
    with pytest.raises(ValueError, match=setting):
        LinearRegression(**params).fit(torch.asarray(X), y)
    fitted = _fit(LinearRegression(), torch.asarray(X), y)
    with pytest.raises(ValueError, match="expecting 4 features"):
        fitted.predict(torch.asarray(X[:, :3]))


def test_scikit_learns_array_api_dispatch_changes_nothing():
    """With scikit-learn's switch on the fit is the same. The switch needs SciPy's array-API mode, set before SciPy is
    imported: tests/conftest.py sets SCIPY_ARRAY_API=1, and without it config_context raises (the test fails)."""
    import sklearn

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 3)), rng.integers(0, 3, size=300)
    with sklearn.config_context(array_api_dispatch=True):
        on = LogisticRegression().fit(torch.asarray(X), torch.asarray(y))
        p = on.predict_proba(torch.asarray(X))
    off = LogisticRegression().fit(torch.asarray(X), torch.asarray(y))
    assert type(on.coef_) is torch.Tensor and type(p) is torch.Tensor
    assert torch.equal(on.coef_, off.coef_)


def test_missing_array_api_compat_names_the_extra(monkeypatch):
    import sys

    X, y, _ = _data()
    monkeypatch.setitem(sys.modules, "array_api_compat", None)
    with pytest.raises(ImportError, match=r"gdlearn\[array-api\]"):
        LinearRegression().fit(torch.asarray(X), y)
    assert LinearRegression().fit(X, y).coef_.shape == (4,)  # NumPy needs no extra
