"""Input validation for the estimators: scikit-learn's checks, with messages that say what to do.

scikit-learn's ``validate_data`` does the heavy lifting (shapes, NaN/inf,
feature names, dtypes, sparse formats).  Where its message does not tell a
user how to fix the problem, it is rewritten here; problems that are specific
to learning by gradient descent (one sample, targets whose squared error
cannot be represented) are added.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import _check_sample_weight, validate_data

__all__ = ["check_fit_data", "check_predict_data"]

# Squared errors of targets outside this range over- or underflow in float64.
_Y_MAX = 1e150
_Y_MIN_SPREAD = 1e-140


def _rewrite(exc: ValueError, what: str, estimator) -> ValueError:
    text = str(exc)
    name = type(estimator).__name__
    if "could not convert" in text or "dtype='numeric' is not compatible" in text:
        return ValueError(
            f"{name}: X holds non-numeric values ({text.splitlines()[0]}); gradient descent needs numbers. "
            "Encode text or categorical columns as numbers (e.g. sklearn.preprocessing.OneHotEncoder) or drop them."
        )
    if "Complex data not supported" in text:
        return ValueError(
            f"Complex data not supported: {name} was given complex numbers in {what}; gdlearn fits real-valued "
            "models. Use the real part, the modulus, or put real and imaginary parts in separate columns."
        )
    return exc


def check_fit_data(estimator, X, y, sample_weight, *, reset: bool, classifier: bool):
    """Validate training data; returns X (dense or CSR; float32 kept, other types as float64), y and weights."""
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y is None. "
            "Give the target values: fit(X, y)."
        )
    if hasattr(y, "toarray"):
        raise ValueError(
            f"{type(estimator).__name__}: y is a sparse matrix; give the target as a dense 1-D array, "
            "e.g. y.toarray().ravel()."
        )
    if not classifier and np.asarray(y).dtype.kind in "USO":
        try:
            np.asarray(y, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{type(estimator).__name__}: y holds non-numeric values ({exc}); a regression target must be "
                "numbers. For class labels use LogisticRegression."
            ) from None
    try:
        X, y = validate_data(
            estimator,
            X,
            y,
            reset=reset,
            accept_sparse="csr",
            dtype=(np.float64, np.float32),  # float32 stays float32: no copy, half the bytes per pass
            multi_output=not classifier,
            y_numeric=not classifier,
        )
    except ValueError as exc:
        raise _rewrite(exc, "X", estimator) from None
    if X.shape[0] < 2:
        raise ValueError(
            f"{type(estimator).__name__} needs at least 2 samples to learn from, got 1 sample "
            f"(X has shape {X.shape}). Add data."
        )
    if not classifier:
        _check_target_range(estimator, y)
    sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if not np.any(sample_weight > 0):
        raise ValueError("sample_weight: all weights are zero; give at least one sample a positive weight.")
    return X, y, sample_weight


def _check_target_range(estimator, y) -> None:
    top = float(np.max(np.abs(y)))
    spread = float(np.max(np.abs(y - np.mean(y, axis=0)))) if top <= _Y_MAX else np.inf
    name = type(estimator).__name__
    if top > _Y_MAX:
        raise ValueError(
            f"{name}: y reaches {top:.3g}; squared errors of targets beyond 1e150 overflow double precision. "
            "Rescale y (e.g. divide it by a power of ten) and scale the predictions back."
        )
    if 0 < spread < _Y_MIN_SPREAD:
        raise ValueError(
            f"{name}: y varies by only {spread:.3g}; squared errors this small underflow double precision. "
            "Rescale y (e.g. multiply it by a power of ten) and scale the predictions back."
        )


def check_predict_data(estimator, X):
    """Validate data at predict time against what the model was fitted on."""
    try:
        return validate_data(estimator, X, reset=False, accept_sparse="csr", dtype=(np.float64, np.float32))
    except ValueError as exc:
        raise _rewrite(exc, "X", estimator) from None
