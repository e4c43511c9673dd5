"""scikit-learn compatibility: the estimator checks and the meta-estimators users combine us with."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from gdlearn import LinearRegression, LogisticRegression


# scikit-learn's toy classification data are linearly separable: our warning about it is expected there
@pytest.mark.filterwarnings("ignore::gdlearn.PerfectSeparationWarning")
@parametrize_with_checks([LinearRegression(), LogisticRegression()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_grid_search_over_l2_and_learning_rate(breast_cancer):
    X, y = breast_cancer
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    grid = GridSearchCV(pipe, {"logisticregression__l2": [0.1, 1.0, 100.0]}, cv=3).fit(X, y)
    assert grid.best_score_ > 0.95
    # the grid's choice is the best mean score of its own folds, recomputed independently
    means = [
        cross_val_score(clone(pipe).set_params(logisticregression__l2=a), X, y, cv=3).mean() for a in (0.1, 1.0, 100.0)
    ]
    assert grid.best_params_["logisticregression__l2"] == (0.1, 1.0, 100.0)[int(np.argmax(means))]
    assert grid.best_score_ == pytest.approx(max(means), rel=1e-12)
    assert grid.best_params_["logisticregression__l2"] != 100.0  # a strong penalty costs accuracy here


def test_cross_val_score_regression(housing):
    X, y = housing
    scores = cross_val_score(LinearRegression(), X, y, cv=5, scoring="r2")
    assert scores.shape == (5,) and np.all(np.isfinite(scores))
    from sklearn.linear_model import LinearRegression as Sk

    np.testing.assert_allclose(scores, cross_val_score(Sk(), X, y, cv=5, scoring="r2"), atol=1e-3)


def test_pandas_feature_names_round_trip(housing):
    import pandas as pd

    from gdlearn.datasets import load_housing

    frame = load_housing(as_frame=True)
    model = LinearRegression().fit(frame.data, frame.target)
    assert list(model.feature_names_in_) == list(frame.data.columns)
    with pytest.warns(UserWarning, match="feature names"):
        plain = model.predict(frame.data.to_numpy())
    np.testing.assert_allclose(model.predict(frame.data), plain, rtol=0)
    assert isinstance(frame.data, pd.DataFrame)
