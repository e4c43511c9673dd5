"""scikit-learn compatible estimators that learn by gradient descent.

:class:`LinearRegression` minimises the half mean squared error and
:class:`LogisticRegression` the log loss (binary, or softmax for more than two
classes), both optionally with L2/L1 penalties:

.. math::

    J(W, b) = \\frac{1}{m}\\sum_i s_i\\,\\ell(y_i, x_iW + b)
              + \\frac{\\lambda_2}{2m}\\lVert W\\rVert^2 + \\frac{\\lambda_1}{m}\\lVert W\\rVert_1 .

Each estimator is a thin shell: it validates its parameters and the data,
builds an :class:`~gdlearn.objective.Objective`, lets
:mod:`gdlearn.training` run the solver, and stores the result in attributes
ending in ``_``.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets, type_of_target

from ._base_estimator import GradientDescentModel, scores
from ._docstrings import COMMON_ATTRS_DOC, COMMON_PARAMS_DOC
from ._norms import vector_norm
from .data.dask import is_dask
from .exceptions import PerfectSeparationWarning
from .kernels import arrayapi
from .losses import BinaryLogLoss, HalfSquaredError, MultinomialLogLoss, sigmoid, softmax

__all__ = ["LinearRegression", "LogisticRegression"]


class LinearRegression(RegressorMixin, GradientDescentModel):
    (
        """Linear regression ŷ = XW + b trained by gradient descent.

    Minimises the half mean squared error J(W, b) = 1/(2m) Σ (ŷᵢ − yᵢ)² (plus
    optional penalties).  The gradient shared with logistic regression is
    dW = (1/m) Xᵀ(Ŷ − Y), db = (1/m) Σ(ŷᵢ − yᵢ), and gradient descent updates
    W ← W − α dW, b ← b − α db.
    """
        + COMMON_PARAMS_DOC
        + COMMON_ATTRS_DOC
        + """
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)

    Examples
    --------
    >>> from gdlearn import LinearRegression
    >>> from gdlearn.datasets import load_housing
    >>> X, y = load_housing(return_X_y=True)
    >>> model = LinearRegression().fit(X, y)
    >>> model.converged_
    True
    >>> round(model.score(X, y), 3)
    0.734
    """
    )

    _is_classifier = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _encode_targets(self, y, *, first_call):
        y = np.asarray(y, dtype=float)
        self._y_ndim = y.ndim if first_call or not hasattr(self, "_y_ndim") else self._y_ndim
        return encode_values(y), HalfSquaredError()

    def _target_encoder(self):
        return encode_values

    def _score_theta(self, theta, X, y, sample_weight):
        pred = scores(theta, X)
        return float(r2_score(y, pred[:, 0] if np.ndim(y) == 1 else pred, sample_weight=sample_weight))

    def _set_coef(self, W, b):
        if self._y_ndim == 1:
            self.coef_ = W[:, 0].copy()
            self.intercept_ = float(b[0]) if self.fit_intercept else 0.0
        else:
            self.coef_ = W.T.copy()
            self.intercept_ = b.copy() if self.fit_intercept else np.zeros_like(b)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted values ŷ = XW + b.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
            A Dask array for Dask input (computed chunk by chunk where X lives).
        """
        if is_dask(X):
            return self._map_dask(self.predict, X, None if self._y_ndim == 1 else len(self.intercept_), float)
        z = self._decision(X)
        return z[:, 0] if self._y_ndim == 1 else z


class LogisticRegression(ClassifierMixin, GradientDescentModel):
    (
        """Logistic regression ŷ = σ(XW + b) trained by gradient descent.

    Minimises the log loss J = −(1/m) Σ [y log ŷ + (1 − y) log(1 − ŷ)] (plus
    optional penalties).  With more than two classes it uses the softmax
    (multinomial) model P = softmax(XW + b) and J = −(1/m) Σ log P[i, yᵢ].  In
    both cases dW = (1/m) Xᵀ(P − Y_onehot), db = (1/m) Σ (P − Y_onehot) — the
    same gradient as linear regression.  Labels may be any values (strings
    included); they are kept in ``classes_``.
    """
        + COMMON_PARAMS_DOC
        + COMMON_ATTRS_DOC
        + """
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)

    Examples
    --------
    >>> from gdlearn import LogisticRegression
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), LogisticRegression(l2=1.0)).fit(X, y)
    >>> round(clf.score(X, y), 2)
    0.99
    """
    )

    _is_classifier = True

    def _set_classes(self, classes, *, sorted_unique: bool = False):
        self.classes_ = classes if sorted_unique else LabelEncoder().fit(classes).classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"LogisticRegression needs samples of at least two classes; y has only one class: "
                f"{_plain(self.classes_[0])!r}. Check the target column."
            )

    def _encode_targets(self, y, *, first_call):
        arr = np.asarray(y)
        if arr.dtype.kind == "O":  # labels from a pandas column or a list: one type, or numbers
            kinds = {type(v.item() if isinstance(v, np.generic) else v) for v in arr.ravel()}
            if kinds <= {int, float, bool}:
                arr = arr.astype(float if float in kinds else int)
            elif len(kinds) > 1:
                raise ValueError(
                    f"y mixes label types ({', '.join(sorted(k.__name__ for k in kinds))}); labels must be of one "
                    "type to be sorted and compared. Convert them, e.g. y.astype(str)."
                )
        if first_call and arr.ndim == 1 and arr.dtype.kind in "biuf":
            # numbers (already checked finite): integral values are labels, others mean a continuous target
            if arr.dtype.kind == "f" and not np.array_equal(arr, np.round(arr)):
                raise ValueError(_continuous_message(arr))
            classes, idx = np.unique(arr, return_inverse=True)
            self._set_classes(classes, sorted_unique=True)
            return self._one_hot(idx)
        if type_of_target(y) == "continuous":
            raise ValueError(_continuous_message(arr))
        check_classification_targets(y)
        if first_call:
            self._set_classes(np.unique(y))
            return self._one_hot(np.searchsorted(self.classes_, y))
        return encode_labels(y, self.classes_), self._loss()

    def _loss(self):
        return BinaryLogLoss() if len(self.classes_) == 2 else MultinomialLogLoss()

    def _one_hot(self, idx):
        """Targets for the loss from class indices: 0/1 for two classes, one-hot rows for more."""
        return one_hot(idx, len(self.classes_)), self._loss()

    def _target_encoder(self):
        return functools.partial(encode_labels, classes=self.classes_)

    def _diagnose(self, result, data):
        """PerfectSeparationWarning when the unpenalised classes are separated by the fitted θ (one pass)."""
        if self.l2 > 0 or self.l1 > 0:
            return None
        theta = result.theta
        separated = bool(data.reduce(_separated, theta, combine=np.logical_and))
        if not separated:
            return None
        norm = vector_norm(theta[:-1])
        return PerfectSeparationWarning(
            "The classes are perfectly separable in the training data, so the unpenalised log loss has no "
            "minimum: it keeps falling towards 0 as the weights grow without bound. The fit stopped cleanly "
            f"({result.stop_reason} after {result.n_iter} iterations) with finite weights of norm {norm:.3g}, "
            "whose size reflects only when it "
            "stopped. Set l2 > 0 (l2=1.0 is scikit-learn's default C=1) for a finite optimum, or use "
            "early_stopping=True."
        )

    def _score_theta(self, theta, X, y, sample_weight):
        return float(accuracy_score(y, self._labels(scores(theta, X)), sample_weight=sample_weight))

    def _labels(self, z):
        """The most probable class for scores z: z > 0 for two classes, else the largest score."""
        if arrayapi.is_foreign(z):
            return arrayapi.labels(z, self.classes_)
        if z.shape[1] == 1:
            return self.classes_[(z[:, 0] > 0).astype(int)]
        return self.classes_[np.argmax(z, axis=1)]

    def _set_coef(self, W, b):
        self.coef_ = W.T.copy()
        self.intercept_ = b.copy() if self.fit_intercept else np.zeros_like(b)

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Scores z = XW + b.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) for two classes (the score of
        ``classes_[1]``), else (n_samples, n_classes); a Dask array for Dask input.
        """
        if is_dask(X):
            k = len(self.classes_)
            return self._map_dask(self.decision_function, X, None if k == 2 else k, float)
        z = self._decision(X)
        return z[:, 0] if z.shape[1] == 1 else z

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities: [1 − σ(z), σ(z)] for two classes, softmax(z) otherwise.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes); rows sum to 1.  A Dask array for Dask input.
        """
        if is_dask(X):
            return self._map_dask(self.predict_proba, X, len(self.classes_), float)
        z = self._decision(X)
        if arrayapi.is_foreign(z):
            return arrayapi.probabilities(z)
        if z.shape[1] == 1:
            p = sigmoid(z[:, 0])
            return np.column_stack([sigmoid(-z[:, 0]), p])
        return softmax(z)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`, computed stably from the scores.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes); a Dask array for Dask input.
        """
        from scipy.special import log_expit, log_softmax

        if is_dask(X):
            return self._map_dask(self.predict_log_proba, X, len(self.classes_), float)

        z = self._decision(X)
        if arrayapi.is_foreign(z):
            return arrayapi.probabilities(z, log=True)
        if z.shape[1] == 1:
            return np.column_stack([log_expit(-z[:, 0]), log_expit(z[:, 0])])
        return log_softmax(z, axis=1)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable class of each sample.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``; a Dask array for Dask input.
        """
        if is_dask(X):
            return self._map_dask(self.predict, X, None, self.classes_.dtype)
        return self._labels(self._decision(X))


def encode_values(y) -> np.ndarray:
    """Regression targets for the loss: float64 of shape (n_samples, n_targets)."""
    y = np.asarray(y, dtype=float)
    return y.reshape(-1, 1) if y.ndim == 1 else y


def one_hot(idx, n_classes: int) -> np.ndarray:
    """Targets for the loss from class indices: 0/1 of shape (n, 1) for two classes, one-hot rows for more."""
    if n_classes == 2:
        return idx.astype(float).reshape(-1, 1)
    Y = np.zeros((len(idx), n_classes))
    Y[np.arange(len(idx)), idx] = 1.0
    return Y


def encode_labels(y, classes) -> np.ndarray:
    """Class labels ``y`` as targets for the loss (:func:`one_hot` of their positions in the sorted ``classes``).

    Raises ValueError for labels not in ``classes``.
    """
    y = np.asarray(y)
    idx = np.searchsorted(classes, y)
    found = classes[np.minimum(idx, len(classes) - 1)] == y
    if not np.all(found):
        unseen = np.unique(y[~found])
        raise ValueError(
            f"y contains labels not in classes_={list(classes)}: {list(unseen)}. "
            "Pass every label in classes= on the first partial_fit call."
        )
    return one_hot(idx, len(classes))


def _separated(X, Y, sw, theta):
    """Whether the scores XW + b put every row of a block on its own class's side (or argmax)."""
    z = scores(theta, X)  # b is 0 without an intercept
    z = arrayapi.to_numpy(z) if arrayapi.is_foreign(z) else z  # (once per fit, m × k numbers)
    if Y.shape[1] == 1:
        return bool(np.all((2 * Y[:, 0] - 1) * z[:, 0] > 0))
    return bool(np.all(np.argmax(z, axis=1) == np.argmax(Y, axis=1)))


def _continuous_message(y) -> str:
    return (
        "LogisticRegression is a classifier, but y looks continuous (non-integer numbers such as "
        f"{_plain(np.asarray(y).ravel()[0])!r}). Use LinearRegression for a numeric target, "
        "or give class labels."
    )


def _plain(value):
    """A NumPy scalar as the plain Python value (for messages)."""
    return value.item() if hasattr(value, "item") else value
