"""LogisticRegression (binary and softmax) against scikit-learn and known invariants."""

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_wine
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gdlearn import LogisticRegression
from gdlearn.objective import pack


def test_breast_cancer_pipeline_accuracy(breast_cancer):
    X, y = breast_cancer
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    # l2=1 is scikit-learn's default C=1: the training split is linearly separable,
    # so without a penalty the log loss has no minimiser (see docs/reliability.md).
    clf = make_pipeline(StandardScaler(), LogisticRegression(l2=1.0, random_state=0)).fit(X_tr, y_tr)
    assert clf.score(X_te, y_te) >= 0.97


def test_l2_matches_sklearn_C(breast_cancer_std):
    X, y = breast_cancer_std
    l2 = 2.0
    ours = LogisticRegression(l2=l2, tol=1e-10).fit(X, y)
    # Newton's method is the most accurate reference (scikit-learn's lbfgs stops near 1e-8)
    ref = SkLogisticRegression(C=1 / l2, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)


def test_mean_prediction_equals_mean_label_at_optimum(breast_cancer_std):
    """With an intercept, db = mean(ŷ − y) = 0 at the optimum: Σŷ = Σy."""
    X, y = breast_cancer_std
    clf = LogisticRegression(l2=1.0, tol=1e-10).fit(X, y)
    assert clf.predict_proba(X)[:, 1].sum() == pytest.approx(y.sum(), rel=1e-8)


def test_string_labels_and_shapes(breast_cancer_std):
    X, y = breast_cancer_std
    labels = np.where(y == 1, "benign", "malignant")
    clf = LogisticRegression(l2=1.0).fit(X, labels)
    assert list(clf.classes_) == ["benign", "malignant"]
    assert clf.coef_.shape == (1, 30) and clf.intercept_.shape == (1,)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert set(clf.predict(X)) <= {"benign", "malignant"}
    # classes_[1] is the positive class of the decision function
    z = clf.decision_function(X)
    np.testing.assert_array_equal(clf.predict(X), np.where(z > 0, "malignant", "benign"))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)


@pytest.mark.parametrize("loader", [load_wine, load_digits], ids=["wine", "digits"])
def test_softmax_objective_matches_sklearn_multinomial(loader):
    X, y = loader(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    l2 = 1.0
    ours = LogisticRegression(l2=l2, tol=1e-8, max_iter=5000).fit(X, y)
    ref = SkLogisticRegression(C=1 / l2, tol=1e-12, max_iter=20_000).fit(X, y)
    objective = ours.get_objective(X, y)
    J_ours = objective.value(ours.theta_)
    J_ref = objective.value(pack(ref.coef_.T, ref.intercept_))
    assert abs(J_ours - J_ref) / J_ref < 1e-6
    assert ours.coef_.shape == (len(np.unique(y)), X.shape[1])
    proba = ours.predict_proba(X)
    assert proba.shape == (len(X), len(ours.classes_))
    np.testing.assert_allclose(proba.sum(1), 1.0)


def test_softmax_with_string_labels():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    names = np.array(["barolo", "grignolino", "barbera"])[y]
    clf = LogisticRegression(l2=1.0).fit(X, names)
    assert list(clf.classes_) == ["barbera", "barolo", "grignolino"]
    assert clf.score(X, names) > 0.95
    assert clf.predict_proba(X).shape == (len(X), 3)


def test_softmax_gradient_is_the_shared_formula(rng):
    """dW = (1/m)(P − Y_onehot)ᵀX, written independently here."""
    X = rng.normal(size=(30, 4))
    y = rng.integers(0, 3, size=30)
    objective = LogisticRegression().get_objective(X, y)
    theta = rng.normal(size=(5, 3))
    _, grad = objective.value_and_grad(theta)
    Z = X @ theta[:-1] + theta[-1]
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    Y = np.eye(3)[y]
    np.testing.assert_allclose(grad[:-1], X.T @ (P - Y) / 30, rtol=1e-12)
    np.testing.assert_allclose(grad[-1], (P - Y).mean(0), rtol=1e-12, atol=1e-15)
