"""Save and load fitted models as versioned JSON, without executing code.

A model file is one JSON object (schema in ``docs/reliability.md``)::

    {"format": "gdlearn-model", "format_version": 1, "gdlearn_version": "0.1.0",
     "kind": "LogisticRegression", "params": {...}, "n_features_in": 3,
     "feature_names": ["a", "b", "c"], "target_ndim": null,
     "classes": {"dtype": "<U3", "values": ["no", "yes"]},
     "coef": [[...]], "intercept": [...], "fitted": {"n_iter_": 12, ...},
     "checksum": "sha256:..."}

Guarantees:

* **No code execution.**  :func:`load` parses JSON and nothing else: no
  ``pickle``, no ``eval``, no import of names read from the file.  ``kind`` is
  looked up in a fixed table of the two estimators; learning-rate schedules in
  a fixed table of :mod:`gdlearn.optim.schedules` classes.
* **Exact round trip.**  Floats are written with ``repr`` precision (the
  shortest decimal that reads back to the same double), so a loaded model has
  bit-identical parameters and predictions.  JSON has no NaN or infinity: where
  a non-finite number may legitimately occur (a loss curve), it is written as
  ``{"__float__": "nan" | "inf" | "-inf"}``; coefficients must be finite.
* **Atomic writes.**  The file is written to a temporary file in the same
  directory, flushed, fsynced and renamed over the target (``os.replace``),
  then the directory is fsynced: a crash leaves the previous file intact.
* **Integrity.**  ``checksum`` is the SHA-256 of the canonical JSON (sorted
  keys, no spaces, ASCII) of every other field; a truncated, corrupted or
  edited file is refused with a :class:`ModelFileError` that names the file
  and what is wrong.
* **Versioning.**  A file of format version N loads in every later gdlearn;
  files from newer versions are refused with a request to upgrade.

The format-independent machinery (canonical JSON, checksums, atomic writes,
strict reading) is in :mod:`gdlearn._safejson`, the JSON forms of parameters
and class labels in :mod:`gdlearn._params_json`; :mod:`gdlearn.checkpoint`
shares both.  Their public names are re-exported here.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._params_json import SCHEDULES as SCHEDULES
from ._params_json import decode_labels, decode_params, encode_labels, encode_params
from ._safejson import Reader, atomic_write, describe, dump_document, encode_float, encode_floats
from ._safejson import canonical_json as canonical_json
from ._safejson import checksum as checksum
from ._version import __version__
from .estimators import LinearRegression, LogisticRegression

__all__ = ["save", "load", "ModelFileError", "FORMAT", "FORMAT_VERSION", "MAX_FILE_SIZE"]

FORMAT = "gdlearn-model"
#: The version this gdlearn writes; it reads every version from 1 up to this one.
FORMAT_VERSION = 1
#: Files larger than this are refused before being read (64 MiB).
MAX_FILE_SIZE = 64 * 2**20

#: The only classes a model file can name (``kind``): nothing else is ever instantiated.
KINDS: dict[str, type] = {"LinearRegression": LinearRegression, "LogisticRegression": LogisticRegression}
_SOLVER_NAMES = ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "fista", "lbfgs", "newton")
_FITTED_FIELDS = (
    "n_iter_",
    "converged_",
    "stop_reason_",
    "loss_curve_",
    "history_",
    "best_iteration_",
    "solver_",
    "learning_rate_",
    "lipschitz_",
    "path_",
)
_TOP_FIELDS = (
    "format",
    "format_version",
    "gdlearn_version",
    "kind",
    "params",
    "n_features_in",
    "feature_names",
    "target_ndim",
    "classes",
    "coef",
    "intercept",
    "fitted",
    "checksum",
)


class ModelFileError(ValueError):
    """A model file cannot be loaded: truncated, corrupted, tampered with, or not a gdlearn model.

    Attributes
    ----------
    path : str
        The file.
    problem : str
        What is wrong with it.
    """

    what = "model file"

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"Cannot load {self.what} {path!r}: {problem}")


# ============================================================ save and load
def save(model: LinearRegression | LogisticRegression, path: str | os.PathLike) -> None:
    """Save a fitted estimator to a JSON file, atomically.

    Parameters
    ----------
    model : LinearRegression or LogisticRegression
        A fitted gdlearn estimator (not a subclass, not a pipeline).
    path : str or path-like
        The file to write.  It is replaced atomically: until the new file is
        complete on disk, ``path`` keeps its previous contents.

    Raises
    ------
    TypeError
        If ``model`` is not a gdlearn estimator.
    sklearn.exceptions.NotFittedError
        If it is not fitted.
    ValueError
        If its coefficients are not finite, or a parameter has no JSON form.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from gdlearn import LinearRegression
    >>> from gdlearn.persistence import save, load
    >>> X = np.array([[0.0], [1.0], [2.0]]); y = np.array([1.0, 3.0, 5.0])
    >>> model = LinearRegression().fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.json")
    >>> save(model, path)
    >>> bool(np.array_equal(load(path).predict(X), model.predict(X)))
    True
    """
    path = os.fspath(path)
    doc = model_document(model, where=path)
    atomic_write(path, dump_document(doc))


def model_document(model, *, where: str = "<memory>") -> dict:
    """The JSON document :func:`save` writes for ``model`` (without the checksum)."""
    kind = type(model).__name__
    if KINDS.get(kind) is not type(model):
        raise TypeError(
            f"save() supports gdlearn's {' and '.join(KINDS)}; got {type(model).__module__}.{type(model).__qualname__}."
        )
    check_is_fitted(model, "_theta")
    theta = np.asarray(model._theta, dtype=np.float64)
    p = int(model.n_features_in_)
    if theta.ndim != 2 or theta.shape[0] != p + 1:
        raise ValueError(
            f"Cannot save model to {where!r}: its parameters have shape {theta.shape}, expected ({p + 1}, k)."
        )
    if not np.all(np.isfinite(theta)):
        raise ValueError(
            f"Cannot save model to {where!r}: its coefficients contain NaN or infinity (a diverged fit?); "
            "such a model predicts nothing useful. Refit it with a smaller learning rate."
        )
    try:
        params = encode_params(model.get_params(deep=False))
    except ValueError as exc:
        raise ValueError(f"Cannot save model to {where!r}: {exc}.") from None
    names = getattr(model, "feature_names_in_", None)
    fitted = {}
    for name in _FITTED_FIELDS:
        if not hasattr(model, name):
            continue
        value = getattr(model, name)
        if name in ("n_iter_", "best_iteration_"):
            value = None if value is None else int(value)
        elif name == "converged_":
            value = bool(value)
        elif name in ("stop_reason_", "solver_"):
            value = str(value)
        elif name in ("learning_rate_", "lipschitz_"):
            value = None if value is None else encode_float(value)
        elif name == "loss_curve_":
            value = encode_floats(value)
        elif name == "history_":
            value = {str(k): encode_floats(v) for k, v in value.items()}
        elif name == "path_":
            value = encode_floats(value)
        fitted[name] = value
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "gdlearn_version": __version__,
        "kind": kind,
        "params": params,
        "n_features_in": p,
        "feature_names": None if names is None else [str(n) for n in names],
        "target_ndim": int(model._y_ndim) if kind == "LinearRegression" else None,
        "classes": encode_labels(model.classes_) if kind == "LogisticRegression" else None,
        "coef": theta[:-1].T.tolist(),
        "intercept": theta[-1].tolist(),
        "fitted": fitted,
    }


def load(path: str | os.PathLike) -> LinearRegression | LogisticRegression:
    """Load a model saved by :func:`save`; it predicts exactly as the saved one.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    LinearRegression or LogisticRegression
        Fitted, with the saved parameters, ``coef_``, ``intercept_``,
        ``classes_``, ``n_features_in_``, ``feature_names_in_`` and fit
        diagnostics (``n_iter_``, ``loss_curve_``, ...).

    Raises
    ------
    ModelFileError
        (a ``ValueError``) if the file is truncated, corrupted, modified
        (checksum mismatch), larger than :data:`MAX_FILE_SIZE`, not a gdlearn
        model, from a newer format version, or describes an invalid model
        (unknown kind, wrong shapes, non-finite coefficients...).
    OSError
        If the file cannot be read (missing, permissions).
    """
    path = os.fspath(path)
    r = Reader(path, ModelFileError)
    doc = r.read_document(
        fmt=FORMAT,
        max_version=FORMAT_VERSION,
        max_size=MAX_FILE_SIZE,
        other_formats={
            "gdlearn-checkpoint": "it is a training checkpoint, not a model; continue the fit with "
            "fit(X, y, resume=True) and checkpoint set to this file (or 'gdlearn train ... --resume')"
        },
    )
    return _model_from_document(r, doc)


def _model_from_document(r: Reader, doc: dict):
    r.fields(doc, _TOP_FIELDS, "the file")
    r.text(doc["gdlearn_version"], "gdlearn_version")
    kind = doc["kind"]
    if not isinstance(kind, str) or kind not in KINDS:
        r.fail(f"unknown model kind {describe(kind)}; this gdlearn knows {', '.join(map(repr, KINDS))}")
    cls = KINDS[kind]
    params = decode_params(r, doc["params"], cls)
    model = cls(**params)
    from ._params import validate_params

    try:
        validate_params(model)
    except ValueError as exc:
        r.fail(f"invalid parameters: {exc}")

    p = r.integer(doc["n_features_in"], "n_features_in", minimum=1)
    names = doc["feature_names"]
    if names is not None:
        names = [r.text(n, "feature_names") for n in r.items(names, "feature_names", length=p)]
    if kind == "LinearRegression":
        if doc["classes"] is not None:
            r.fail("classes must be null for LinearRegression")
        y_ndim = r.integer(doc["target_ndim"], "target_ndim", minimum=1, maximum=2)
        coef_rows = r.items(doc["coef"], "coef")
        k = len(coef_rows)
        if k < 1 or (y_ndim == 1 and k != 1):
            r.fail(f"coef must have {'1 row' if y_ndim == 1 else 'at least one row'} (target_ndim={y_ndim}), found {k}")
    else:
        if doc["target_ndim"] is not None:
            r.fail("target_ndim must be null for LogisticRegression")
        classes = decode_labels(r, doc["classes"], "classes", max_bytes=MAX_FILE_SIZE)
        if len(classes) < 2:
            r.fail(f"classes must hold at least two labels, found {len(classes)}")
        k = 1 if len(classes) == 2 else len(classes)
    coef = r.array(doc["coef"], "coef", (k, p), finite=True)
    intercept = r.array(doc["intercept"], "intercept", (k,), finite=True)
    fitted = _decode_fitted(r, doc["fitted"], k, p)

    theta = np.ascontiguousarray(np.vstack([coef.T, intercept.reshape(1, -1)]))
    if kind == "LinearRegression":
        model._y_ndim = y_ndim
    else:
        model.classes_ = classes
    model.n_features_in_ = p
    if names is not None:
        model.feature_names_in_ = np.asarray(names, dtype=object)
    model._theta = theta
    model._set_coef(theta[:-1], theta[-1])
    for name, value in fitted.items():
        setattr(model, name, value)
    return model


def _decode_fitted(r: Reader, value, k: int, p: int) -> dict:
    fitted = r.obj(value, "fitted")
    r.fields(fitted, ("n_iter_", "converged_", "stop_reason_", "loss_curve_"), "fitted", optional=_FITTED_FIELDS)
    out: dict[str, Any] = {}
    out["n_iter_"] = r.integer(fitted["n_iter_"], "fitted.n_iter_", minimum=0)
    out["converged_"] = r.flag(fitted["converged_"], "fitted.converged_")
    out["stop_reason_"] = r.text(fitted["stop_reason_"], "fitted.stop_reason_")
    out["loss_curve_"] = r.floats(fitted["loss_curve_"], "fitted.loss_curve_")
    if "history_" in fitted:
        history = r.obj(fitted["history_"], "fitted.history_")
        out["history_"] = {key: r.floats(v, f"fitted.history_.{key}") for key, v in history.items()}
    if "best_iteration_" in fitted:
        out["best_iteration_"] = r.integer(fitted["best_iteration_"], "fitted.best_iteration_", minimum=0, none_ok=True)
    if "solver_" in fitted:
        out["solver_"] = r.text(fitted["solver_"], "fitted.solver_", choices=_SOLVER_NAMES)
    for name in ("learning_rate_", "lipschitz_"):
        if name in fitted:
            out[name] = r.number(fitted[name], f"fitted.{name}", none_ok=True)
    if "path_" in fitted:
        shape = (None, p + 1) if k == 1 else (None, k, p + 1)
        out["path_"] = r.array(fitted["path_"], "fitted.path_", shape)
    return out
