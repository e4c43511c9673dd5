"""The machinery shared by gdlearn's estimators (not public).

:class:`GradientDescentModel` validates parameters and data, builds the
objective, runs :mod:`gdlearn.training`, and stores the fitted attributes; the
two public estimators in :mod:`gdlearn.estimators` only say how targets are
encoded, scored and turned into ``coef_``/``intercept_``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import kernels, training
from ._docstrings import COMMON_PARAMS_DOC
from ._params import validate_params
from ._validation import check_fit_data, check_in_memory_settings, check_predict_data
from .data.arrayapi import ArrayAPISource
from .data.dask import is_dask
from .data.source import ArraySource, BlockSource
from .exceptions import ConvergenceWarning
from .kernels.arrayapi import is_foreign, to_device
from .losses import Loss
from .objective import Objective, Problem, pack
from .optim.factory import MINIBATCH_SOLVERS

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Self

    from .solver import IterationInfo

__all__ = ["GradientDescentModel", "scores"]


def scores(theta: np.ndarray, X) -> np.ndarray:
    """z = XW + b for θ of shape (n_features + 1, n_outputs); shape (n_samples, n_outputs)."""
    return kernels.scores(X, theta[:-1], theta[-1])


def _all_or_nothing(method):
    """``fit``/``partial_fit`` either succeed or leave the estimator exactly as it was.

    Validation, target encoding and training assign attributes (``classes_``,
    ``n_features_in_``...) as they go; on any exception, divergence and Ctrl-C
    included, the attributes held before the call are put back.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        before = dict(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    return wrapper


class GradientDescentModel(BaseEstimator):
    """Shared machinery of the two estimators (not public)."""

    def __init__(
        self,
        *,
        solver="auto",
        learning_rate="auto",
        max_iter=1000,
        tol=1e-4,
        fit_intercept=True,
        l2=0.0,
        l1=0.0,
        batch_size=None,
        shuffle=True,
        average="auto",
        momentum=0.9,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        rho=0.9,
        early_stopping=False,
        validation_fraction=None,
        n_iter_no_change=10,
        warm_start=False,
        precondition="auto",
        record_path=False,
        checkpoint=None,
        checkpoint_every=100,
        checkpoint_seconds=None,
        random_state=None,
        verbose=0,
    ):
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.l2 = l2
        self.l1 = l1
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.average = average
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.rho = rho
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.precondition = precondition
        self.record_path = record_path
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.random_state = random_state
        self.verbose = verbose

    # ---------------------------------------------------------------- tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------ to be specialised
    def _encode_targets(self, y, *, first_call: bool) -> tuple[np.ndarray, Loss]:
        raise NotImplementedError

    def _score_theta(self, theta, X, y, sample_weight) -> float:
        raise NotImplementedError

    # ------------------------------------------------------------- helpers
    def _config(self) -> training.Config:
        return training.Config.from_params(_ParamsOf(self))

    def _seed(self) -> int:
        if isinstance(self.random_state, (int, np.integer)) and not isinstance(self.random_state, bool):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    def _validate_X_y(self, X, y, sample_weight, reset: bool):
        return check_fit_data(self, X, y, sample_weight, reset=reset, classifier=self._is_classifier)

    def _continuing(self, theta: np.ndarray, n_features: int, k: int, how: str) -> np.ndarray:
        """``theta`` of an earlier fit, if it fits this data; else a ValueError saying what changed."""
        if theta.shape != (n_features + 1, k):
            had, has = (theta.shape[0] - 1, theta.shape[1]), (n_features, k)
            raise ValueError(
                f"{how} continues from the coefficients of the earlier fit, for {had[0]} features and {had[1]} "
                f"output(s); this data has {has[0]} features and {has[1]} output(s) (targets, or classes beyond "
                "two). Fit a fresh model (warm_start=False, or sklearn.base.clone) to learn a different problem."
            )
        return theta.copy()

    def _initial_theta(self, data, loss, coef_init, intercept_init) -> np.ndarray:
        n_features, k = data.n_features, data.n_outputs
        if self.warm_start and hasattr(self, "_theta"):
            return self._continuing(self._theta, n_features, k, "warm_start=True")
        W = np.zeros((n_features, k))
        if coef_init is not None:
            c = np.asarray(coef_init, dtype=float)
            if c.size != k * n_features or not np.all(np.isfinite(c)):
                raise ValueError(
                    f"coef_init must be finite numbers of shape ({n_features},) or ({k}, {n_features}) "
                    f"for this data; got shape {c.shape}."
                )
            W = c.reshape(k, n_features).T.copy()
        if not self.fit_intercept:
            b = np.zeros(k)  # no intercept: b is 0, whatever intercept_init says
        elif intercept_init is not None:
            c = np.asarray(intercept_init, dtype=float)
            if c.size not in (1, k) or not np.all(np.isfinite(c)):
                raise ValueError(f"intercept_init must be a finite number or {k} of them; got {intercept_init!r}.")
            b = np.broadcast_to(c.reshape(-1), (k,)).copy()
        else:
            b = loss.link(data.target_mean())  # start at the best constant model: b = link(weighted mean of y)
        return pack(W, b)

    def _split_validation(self, X, y, Y, sample_weight, seed):
        fraction = self.validation_fraction
        if fraction is None and self.early_stopping:
            fraction = 0.1
        if fraction is None:
            return (X, y, Y, sample_weight), None
        stratify = y if self._is_classifier else None
        try:
            parts = train_test_split(X, y, Y, sample_weight, test_size=fraction, random_state=seed, stratify=stratify)
        except ValueError as exc:
            raise ValueError(
                f"validation_fraction={fraction}: cannot hold out a validation set from "
                f"{X.shape[0]} samples ({exc}). Use more data, a larger validation_fraction, "
                "or early_stopping=False."
            ) from None
        X_tr, X_va, y_tr, y_va, Y_tr, Y_va, sw_tr, sw_va = parts
        return (X_tr, y_tr, Y_tr, sw_tr), (X_va, y_va, Y_va, sw_va)

    def get_objective(
        self, X: ArrayLike | BlockSource, y: ArrayLike | None = None, sample_weight: ArrayLike | None = None
    ) -> Problem:
        """The objective J(θ) this estimator minimises on (X, y), with its penalties.

        Useful to evaluate the loss surface, check the gradient, or compare
        solvers.  θ has shape (n_features + 1, n_outputs): W, then b in the
        last row; for a fitted model ``pack(coef_.T, intercept_)`` is its θ.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), Dask collection, or a file source
            With Dask data or a file source (which holds its own target), every
            evaluation is a pass over the data where it lives.
        y : array-like of shape (n_samples,), optional
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        Problem
            ``value(theta)``, ``value_and_grad(theta)`` and ``shape``, in the
            user's coordinates.
        """
        est = clone(self)
        if hasattr(self, "classes_"):
            est.classes_ = self.classes_
        if isinstance(X, BlockSource) or is_dask(X) or is_dask(y):  # a file source or Dask collections
            est.set_params(validation_fraction=None, early_stopping=False, checkpoint=None)
            data, loss = est._source_data(
                X, y, sample_weight, reset=True, resume=False, first_call=not hasattr(est, "classes_")
            )
            return est._make_objective(loss, data.weight_sum).bind(data)
        X, y, sw = est._validate_X_y(X, y, sample_weight, reset=True)
        Y, loss = est._encode_targets(y, first_call=not hasattr(est, "classes_"))
        data = est._make_data(X, Y, sw)
        return est._make_objective(loss, data.weight_sum).bind(data)

    @property
    def theta_(self) -> np.ndarray:
        """Fitted parameters packed as θ, shape (n_features + 1, n_outputs)."""
        check_is_fitted(self, "_theta")
        return self._theta.copy()

    @staticmethod
    def _make_data(X, Y, sample_weight) -> ArraySource:
        sw = None if sample_weight is None or np.all(sample_weight == 1.0) else sample_weight
        return (ArrayAPISource if is_foreign(X) else ArraySource)(X, Y, sw)

    def _make_objective(self, loss, penalty_norm: float) -> Objective:
        return Objective(loss, fit_intercept=self.fit_intercept, l2=self.l2, l1=self.l1, penalty_norm=penalty_norm)

    def _progress_printer(self, max_iter):
        if not self.verbose:
            return None
        every = 1 if self.verbose >= 2 else max(1, max_iter // 10)
        name = type(self).__name__

        def callback(info):
            if info.iteration % every == 0 or info.iteration == 1:
                print(f"{name}: iteration {info.iteration}, loss = {info.loss:.8g}, grad norm = {info.grad_norm:.3g}")

        return callback

    # ------------------------------------------------------------------ fit
    @_all_or_nothing
    def fit(
        self,
        X: ArrayLike | BlockSource,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        *,
        coef_init: ArrayLike | None = None,
        intercept_init: ArrayLike | float | None = None,
        callback: Callable[[IterationInfo], bool | None] | None = None,
        resume: bool = False,
    ) -> Self:
        """Fit the model by minimising J with the configured solver.

        Parameters
        ----------
        X : array-like, sparse matrix, Dask array or data frame of shape (n_samples, n_features), or a file source
            A :class:`gdlearn.data.ParquetSource` or :class:`gdlearn.data.CSVSource` streams files block by block
            and holds its own target and weights (give no y or sample_weight); Dask collections stay on their
            cluster, which computes the sums (``docs/scaling.md``).
        y : array-like of shape (n_samples,) (or (n_samples, n_targets) for regression)
            Required, except with a file source.
        sample_weight : array-like of shape (n_samples,), optional
            sᵢ ≥ 0; J = (1/m) Σ sᵢ ℓᵢ with m = Σ sᵢ, so a weight of 2 is the
            same as repeating the sample.
        coef_init : array-like of shape (n_features,) or (n_outputs, n_features), optional
            Starting W (default zeros).
        intercept_init : float or array-like of shape (n_outputs,), optional
            Starting b (default: the best constant model, link(mean y)).
        callback : callable, optional
            Called after each iteration with a :class:`gdlearn.solver.IterationInfo`;
            return True to stop.
        resume : bool, default=False
            Continue from the file named by ``checkpoint`` (see ``docs/reliability.md``).

        Returns
        -------
        self
        """
        validate_params(self)
        reset = not (self.warm_start and hasattr(self, "_theta"))
        cfg = self._config()
        if isinstance(X, BlockSource) or is_dask(X) or is_dask(y):
            data, loss = self._source_data(X, y, sample_weight, reset=reset, resume=resume)
            seed, val = self._seed(), None
        else:
            X, y, sample_weight = self._validate_X_y(X, y, sample_weight, reset=reset)
            Y, loss = self._encode_targets(y, first_call=True)
            # resuming: the seed of the interrupted run, even if random_state=None
            seed = training.resume_seed(cfg) if resume and cfg.checkpoint is not None else self._seed()
            (X_tr, y_tr, Y_tr, sw_tr), val = self._split_validation(X, y, Y, sample_weight, seed)
            data = self._make_data(X_tr, Y_tr, sw_tr)
        objective = self._make_objective(loss, data.weight_sum)
        session = training.start_session(data, objective, cfg, seed)
        theta0 = self._initial_theta(data, loss, coef_init, intercept_init)
        validation = None
        if val is not None:
            X_va, y_va, Y_va, sw_va = val

            def score_fn(theta):
                return (
                    self._score_theta(theta, X_va, y_va, sw_va),
                    self._score_theta(theta, X_tr, y_tr, sw_tr),
                )

            validation = (self._make_data(X_va, Y_va, sw_va), score_fn)
        result = self._run(
            session,
            objective,
            data,
            cfg,
            theta0,
            self.max_iter,
            validation,
            callback,
            resume=resume,
            diagnose=lambda result: self._diagnose(result, data),
        )
        self._session = session
        self._partial = False
        self._store(result, session)
        self._place_coef(X)
        return self

    def _source_data(self, X, y, sample_weight, *, reset: bool, resume: bool, first_call: bool = True):
        """The training source and the loss for data that stays where it is: Dask collections or a file source.

        The targets are found in one pass (a classifier's labels; a regressor's shape) and encoded block by
        block on the way to the kernel.  Validation sets (``validation_fraction``, ``early_stopping``) and
        checkpoints are for in-memory data in this version.
        """
        name = type(self).__name__
        check_in_memory_settings(
            self, "a Dask or streamed fit", "hold out a test set yourself, e.g. a separate file", resume=resume
        )
        if isinstance(X, BlockSource):
            if y is not None or sample_weight is not None:
                raise ValueError(
                    f"{name}: a data source ({type(X).__name__}) holds its own target and weights; "
                    "call fit(source) without y and sample_weight."
                )
            table = X
        else:
            from .data.dask import DaskTable

            table = DaskTable(X, y, sample_weight, estimator=name, classifier=self._is_classifier)
        if reset:
            self.n_features_in_ = table.n_features
            if getattr(self, "feature_names_in_", None) is not None:
                del self.feature_names_in_
            if table.feature_names is not None:
                self.feature_names_in_ = np.asarray(table.feature_names, dtype=object)
        elif table.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {table.n_features} features, but {name} is expecting {self.n_features_in_} features as input."
            )
        if self._is_classifier and not first_call:  # the model's labels (e.g. evaluating a fitted model)
            loss = self._loss()
        elif self._is_classifier:
            _, loss = self._encode_targets(table.target_classes(), first_call=True)
        else:
            shape = (0,) if table.target_ndim == 1 else (0, table.target_width)
            _, loss = self._encode_targets(np.zeros(shape), first_call=True)
        k = table.target_width if not self._is_classifier else (1 if len(self.classes_) == 2 else len(self.classes_))
        return table.with_targets(self._target_encoder(), k), loss

    def _target_encoder(self):
        """A module-level function (picklable, for a cluster's workers) from a block of y to its Y."""
        raise NotImplementedError

    def _diagnose(self, result, data):
        """A warning explaining an unusual outcome of ``result`` on the data source ``data``, or None."""
        return None

    def _run(self, session, objective, data, cfg, theta0, max_iter, validation, callback, resume=False, diagnose=None):
        callbacks = [c for c in (callback, self._progress_printer(max_iter)) if c is not None]

        def combined(info):
            stop = False
            for c in callbacks:
                stop = bool(c(info)) or stop
            return stop

        result = training.run(
            session,
            objective,
            data,
            cfg,
            theta0=theta0,
            max_iter=max_iter,
            validation=validation,
            callback=combined if callbacks else None,
            record_path=self.record_path,
            estimator=self,
            resume=resume,
        )
        special = diagnose(result) if diagnose is not None else None
        if special is not None:
            warnings.warn(special, stacklevel=4)
        elif not result.converged and result.stop_reason == "max_iter":
            advice = "Increase max_iter or loosen tol"
            if not session.optimizer.uses_curvature and self.solver != "auto":  # never advise the setting in use
                advice += ", or use solver='auto' (L-BFGS or Newton), which converges in far fewer iterations"
            elif not session.optimizer.uses_curvature and cfg.batch_size is None and session.spec.lr is not None:
                advice += ", or learning_rate='auto', with which solver='auto' picks L-BFGS or Newton"
            criteria = f"the gradient norm ({result.history['grad_norm'][-1]:.3g}) fell to tol={self.tol}"
            if cfg.minibatch(data.n_samples):  # the plateau rule of stochastic runs
                criteria += (
                    f" or the training loss went {self.n_iter_no_change} epochs without having improved by more "
                    "than tol·|best|"
                )
            warnings.warn(
                f"{type(self).__name__} stopped after max_iter={self.max_iter} iterations before {criteria}. {advice}.",
                ConvergenceWarning,
                stacklevel=4,
            )
        return result

    def _store(self, result, session) -> None:
        session.gram = session.gram_of = None  # the Gram matrix served this run; the model keeps no data
        self._theta = result.theta
        W, b = result.theta[:-1], result.theta[-1]
        self._set_coef(W, b)
        self.n_iter_ = int(result.n_iter)
        self.converged_ = bool(result.converged)
        self.stop_reason_ = result.stop_reason
        self.history_ = {k: list(v) for k, v in result.history.items()}
        self.loss_curve_ = list(result.history["loss"])
        self.best_iteration_ = result.best_iteration
        self.solver_ = session.solver
        self.learning_rate_ = session.optimizer.initial_lr
        self.lipschitz_ = session.lipschitz
        if result.path is not None:
            self.path_ = training.path_array(result.path)
        elif hasattr(self, "path_"):
            del self.path_

    def _set_coef(self, W, b) -> None:
        raise NotImplementedError

    def _place_coef(self, X) -> None:
        """``coef_`` and ``intercept_`` in X's library, device and dtype when X is of another array library.

        scikit-learn's array API convention (``docs/array-api.md``); θ, the history and a saved model stay NumPy.
        """
        if is_foreign(X):
            self.coef_ = to_device(self.coef_, X)
            if not isinstance(self.intercept_, float):
                self.intercept_ = to_device(self.intercept_, X)

    @_all_or_nothing
    def partial_fit(
        self,
        X: ArrayLike | BlockSource,
        y: ArrayLike | None = None,
        classes: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
    ) -> Self:
        """One epoch of (mini-batch) gradient descent on the given data.

        The optimizer state (momentum, Adam moments), the schedule's step count
        and the shuffling seed carry over between calls, so k calls on the same
        data equal ``fit`` with ``max_iter=k`` and the same ``random_state``.
        Preconditioning statistics and ``learning_rate="auto"`` are fixed on the
        first call's data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), Dask collection, or a file source
            A file source (no y) or Dask data: one epoch over its blocks, in a
            seeded shuffled order, one block in memory at a time.
        y : array-like of shape (n_samples,), optional
        classes : array-like, optional
            All the class labels (classifier; required on the first call).
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        validate_params(self)
        first = not getattr(self, "_partial", False)  # first partial_fit call (after fit, or ever)
        fitted = hasattr(self, "_theta")
        if first and self._is_classifier and not fitted and classes is None:
            raise ValueError(
                "partial_fit: classes must be given on the first call (all the labels the model will see), "
                "e.g. partial_fit(X, y, classes=np.unique(y_all))."
            )
        external = isinstance(X, BlockSource) or is_dask(X) or is_dask(y)
        if not external:
            X, y, sample_weight = self._validate_X_y(X, y, sample_weight, reset=first and not fitted)
        if self._is_classifier and classes is not None:
            given = np.asarray(classes)
            if fitted and not np.array_equal(np.unique(given), self.classes_):
                raise ValueError(
                    f"partial_fit: classes={given.tolist()} differ from the model's classes_={self.classes_.tolist()} "
                    "(from the first partial_fit call or from fit). Pass the same classes, or fit a fresh model."
                )
            if first and not fitted:
                self._set_classes(given)
        if external:  # a file source or Dask collections: one epoch over their blocks
            reset = first and not fitted
            data, loss = self._source_data(X, y, sample_weight, reset=reset, resume=False, first_call=False)
        else:
            Y, loss = self._encode_targets(y, first_call=False)
            data = self._make_data(X, Y, sample_weight)
        if self.solver != "auto" and self.solver not in MINIBATCH_SOLVERS:
            raise ValueError(
                f"partial_fit needs a solver that steps on mini-batches; solver={self.solver!r} works on "
                f"full batches only. Use one of {', '.join(repr(s) for s in MINIBATCH_SOLVERS)}."
            )
        cfg = self._config()
        batch = cfg.batch_size if cfg.batch_size is not None else data.n_samples
        cfg.batch_size = batch
        if cfg.solver == "auto":
            cfg.solver = "gd"
        n_features, k = data.n_features, data.n_outputs
        if first:
            objective = self._make_objective(loss, data.weight_sum)
            session = training.start_session(data, objective, cfg, self._seed(), stochastic=True)
            if fitted:  # continue from the coefficients of an earlier fit
                theta0 = self._continuing(self._theta, n_features, k, "partial_fit")
            else:
                theta0 = self._initial_theta(data, loss, None, None)
        else:
            session = self._session
            objective = self._make_objective(loss, data.weight_sum)
            theta0 = self._continuing(self._theta, n_features, k, "partial_fit")
            training.adapt_step(session, objective, data, cfg)
            if session.state is not None:
                session.state.stopped = None  # each call is one more epoch, whatever stopped the last
        result = training.run(session, objective, data, cfg, theta0=theta0, max_iter=1, record_path=self.record_path)
        self._session = session
        self._partial = True
        self._store(result, session)
        self._place_coef(X)
        return self

    # ------------------------------------------------------------ predict
    def _map_dask(self, method, X, n_columns, dtype):
        """``method`` over the row chunks of Dask X: a lazy Dask array (:func:`gdlearn.data.dask.map_rows`)."""
        from .data.dask import map_rows

        check_is_fitted(self, "_theta")
        return map_rows(self, method, X, n_columns, dtype)

    def _decision(self, X) -> np.ndarray:
        check_is_fitted(self, "_theta")
        return scores(self._theta, check_predict_data(self, X))


GradientDescentModel.__doc__ = "Base of the gdlearn estimators." + COMMON_PARAMS_DOC


class _ParamsOf:
    """``estimator.get_params(deep=False)[name]``, read by ``getattr`` as ``get_params`` does, without its inspection
    of ``__init__``'s signature (0.2 ms, a quarter of a small ``partial_fit`` call)."""

    def __init__(self, estimator):
        self._estimator = estimator

    def __getitem__(self, name: str):
        return getattr(self._estimator, name)
