"""Save and load fitted models: named arrays and a JSON header, checked on load, never executed.

A model file is a gdlearn container (:mod:`gdlearn._fileformat`, a safetensors
file with a checksummed header; format in ``docs/reliability.md``):

* header: ``format="gdlearn-model"``, ``format_version``, ``gdlearn_version``,
  ``kind`` (the estimator's class), ``params`` (``get_params()`` as JSON:
  schedules as ``{"schedule": name, fields...}``, a ``RandomState`` with its
  Mersenne-Twister state), ``n_features_in``, ``feature_names``,
  ``target_ndim`` (regression), ``classes`` (labels with their dtype) and
  ``fitted`` (``n_iter_``, ``converged_``, ``stop_reason_``,
  ``best_iteration_``, ``solver_``);
* arrays: ``coef`` (n_outputs, n_features), ``intercept`` (n_outputs,),
  ``history/<series>`` (the loss curve and the other series of ``history_``),
  and where the model has them ``path``, ``learning_rate``, ``lipschitz``.

Loading builds only the two estimator classes of :data:`KINDS` and the
schedules of :data:`SCHEDULES`, from a fixed table; a model's parameters are
validated as ``fit`` validates them, and its arrays checked for shape and
finiteness.  ``gdlearn show FILE`` prints a model or a checkpoint as text.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import re

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._fileformat import FileError, read, write
from .checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_VERSION
from .estimators import LinearRegression, LogisticRegression
from .optim.factory import SOLVERS
from .optim.schedules import Constant, ExponentialDecay, InverseDecay, Schedule, StepDecay

__all__ = ["save", "load", "show", "ModelFileError", "FORMAT", "FORMAT_VERSION", "MAX_FILE_SIZE"]

FORMAT = "gdlearn-model"
#: The version this gdlearn writes and reads (0.1's JSON format 1 is refused with advice).
FORMAT_VERSION = 2
#: Files larger than this are refused before being read (64 MiB).
MAX_FILE_SIZE = 64 * 2**20
#: The only classes a model file can name (``kind``): nothing else is ever instantiated.
KINDS: dict[str, type] = {"LinearRegression": LinearRegression, "LogisticRegression": LogisticRegression}
#: The only schedule classes a ``learning_rate`` parameter can name.
SCHEDULES: dict[str, type] = {c.__name__: c for c in (Constant, ExponentialDecay, InverseDecay, StepDecay)}
_FITTED = ("n_iter_", "converged_", "stop_reason_", "best_iteration_", "solver_")
_HEADER = {"format", "format_version", "gdlearn_version", "kind", "params", "n_features_in", "feature_names"}
_HEADER |= {"target_ndim", "classes", "fitted"}
_LABEL_DTYPE = re.compile(r"[<>|=]([biuf][1-8]|U[1-9][0-9]{0,5})|\|O")
_LEGACY = (
    "Re-create it: load it with gdlearn 0.1 ('pip install \"gdlearn<0.2\"') to read its coefficients, or refit "
    "the model and save it with this gdlearn"
)


class ModelFileError(FileError):
    """A model file cannot be loaded: truncated, corrupted, tampered with, or not a gdlearn model."""

    action = "load model file"


# ================================================================== saving
def save(model: LinearRegression | LogisticRegression, path: str | os.PathLike) -> None:
    """Save a fitted estimator, atomically.

    Parameters
    ----------
    model : LinearRegression or LogisticRegression
        A fitted gdlearn estimator (not a subclass, not a pipeline).
    path : str or path-like
        Replaced atomically: until the new file is complete on disk, ``path``
        keeps its previous contents.  A symbolic link's target is written.

    Raises
    ------
    TypeError
        If ``model`` is not a gdlearn estimator.
    sklearn.exceptions.NotFittedError
        If it is not fitted.
    ValueError
        If its coefficients are not finite, or a parameter or label has no
        representation in a model file.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from gdlearn import LinearRegression
    >>> from gdlearn.persistence import save, load
    >>> X = np.array([[0.0], [1.0], [2.0]]); y = np.array([1.0, 3.0, 5.0])
    >>> model = LinearRegression().fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.gdlearn")
    >>> save(model, path)
    >>> bool(np.array_equal(load(path).predict(X), model.predict(X)))
    True
    """
    path = os.fspath(path)
    kind = type(model).__name__
    if KINDS.get(kind) is not type(model):
        raise TypeError(f"save() supports gdlearn's {' and '.join(KINDS)}; got {type(model).__qualname__}.")
    check_is_fitted(model, "_theta")
    theta = np.asarray(model._theta, dtype=np.float64)
    if not np.all(np.isfinite(theta)):
        raise ValueError(
            f"Cannot save model to {path!r}: its coefficients contain NaN or infinity (a diverged fit?); "
            "such a model predicts nothing useful. Refit it with a smaller learning rate."
        )
    names = getattr(model, "feature_names_in_", None)
    classifier = kind == "LogisticRegression"
    try:
        header = {
            "kind": kind,
            "params": {k: _encode_param(k, v) for k, v in model.get_params(deep=False).items()},
            "n_features_in": int(model.n_features_in_),
            "feature_names": None if names is None else [str(n) for n in names],
            "target_ndim": None if classifier else int(model._y_ndim),
            "classes": _encode_labels(model.classes_) if classifier else None,
            "fitted": {
                "n_iter_": int(model.n_iter_),
                "converged_": bool(model.converged_),
                "stop_reason_": str(model.stop_reason_),
                "best_iteration_": None if model.best_iteration_ is None else int(model.best_iteration_),
                "solver_": str(model.solver_),
            },
        }
        arrays = {"coef": theta[:-1].T, "intercept": theta[-1]}
        arrays.update({f"history/{k}": np.asarray(v, dtype=np.float64) for k, v in model.history_.items()})
        for name in ("learning_rate", "lipschitz"):
            if getattr(model, name + "_") is not None:
                arrays[name] = np.array(float(getattr(model, name + "_")))
        if hasattr(model, "path_"):
            arrays["path"] = np.asarray(model.path_, dtype=np.float64)
        write(path, FORMAT, FORMAT_VERSION, header, arrays)
    except ValueError as exc:
        raise ValueError(f"Cannot save model to {path!r}: {exc}.") from None


def _encode_param(key: str, value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value):
        return float(value)
    if isinstance(value, Schedule) and SCHEDULES.get(type(value).__name__) is type(value):
        fields = {f.name: _encode_param(key, getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"schedule": type(value).__name__, **fields}
    if isinstance(value, os.PathLike):
        return os.fsdecode(value)
    if isinstance(value, np.random.RandomState):
        _, mt_key, pos, has_gauss, cached = value.get_state(legacy=True)
        return {"random_state": [mt_key.tolist(), int(pos), int(has_gauss), float(cached)]}
    raise ValueError(f"parameter {key}={value!r} ({type(value).__name__}) cannot be represented in a model file")


def _encode_labels(classes) -> dict:
    classes = np.asarray(classes)
    values = [v.item() if isinstance(v, np.generic) else v for v in classes.tolist()]
    if classes.dtype.kind not in "biufUO" or not all(type(v) in (bool, int, float, str) for v in values):
        raise ValueError(f"class labels {values[:3]!r}... of dtype {classes.dtype} cannot be represented")
    return {"dtype": classes.dtype.str, "values": values}


# ================================================================= loading
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
        model, from another format version, or describes an invalid model
        (unknown kind, invalid parameters, wrong shapes, non-finite coefficients...).
    OSError
        If the file cannot be read (missing, permissions).
    """
    path = os.fspath(path)
    others = {
        CHECKPOINT_FORMAT: "it is a training checkpoint, not a model; continue the fit with fit(X, y, resume=True) "
        "and checkpoint set to this file (or 'gdlearn train ... --resume')"
    }
    header, arrays = read(
        path, ModelFileError, formats={FORMAT: FORMAT_VERSION}, max_size=MAX_FILE_SIZE, others=others, legacy=_LEGACY
    )

    def fail(problem: str):
        raise ModelFileError(path, problem)

    try:
        return _model(header, arrays, fail)
    except (KeyError, TypeError, ValueError, IndexError, OverflowError, AttributeError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        fail(f"its contents are malformed ({type(exc).__name__}: {exc})")


def _model(header: dict, arrays: dict, fail):
    from ._params import validate_params

    if set(header) != _HEADER:
        fail(f"its header has the fields {sorted(header)}, expected {sorted(_HEADER)}")
    cls = KINDS.get(header["kind"]) if isinstance(header["kind"], str) else None
    if cls is None:
        fail(f"unknown model kind {header['kind']!r}; this gdlearn knows {', '.join(map(repr, KINDS))}")
    params = header["params"]
    if not isinstance(params, dict):
        fail(f"params must be a JSON object, found {params!r:.80}")
    unknown = set(params) - set(cls().get_params(deep=False))
    if unknown:
        fail(f"params has unknown parameter(s) {', '.join(map(repr, sorted(unknown)))} for {cls.__name__}")
    model = cls(**{k: _decode_param(v) for k, v in params.items()})
    try:
        validate_params(model)
    except ValueError as exc:
        fail(f"invalid parameters: {exc}")
    p, names = header["n_features_in"], header["feature_names"]
    if type(p) is not int or p < 1:
        fail(f"n_features_in must be a positive integer, found {p!r}")
    if names is not None and not (isinstance(names, list) and len(names) == p and all(type(n) is str for n in names)):
        fail(f"feature_names must be null or {p} strings")
    if "coef" not in arrays or "intercept" not in arrays or "history/loss" not in arrays:
        fail("the arrays 'coef', 'intercept' and 'history/loss' are required")
    if cls is LinearRegression:
        ndim, k = header["target_ndim"], arrays["coef"].shape[0] if arrays["coef"].ndim == 2 else 0
        if header["classes"] is not None or ndim not in (1, 2) or type(ndim) is not int:
            fail(f"a LinearRegression has classes null and target_ndim 1 or 2; found {ndim!r}")
        if k < 1 or (ndim == 1 and k != 1):
            fail(f"coef must have shape (k, p) with k = 1 for target_ndim 1; found {arrays['coef'].shape}")
        model._y_ndim = ndim
    else:
        if header["target_ndim"] is not None:
            fail("target_ndim must be null for LogisticRegression")
        model.classes_ = _decode_labels(header["classes"], fail)
        k = 1 if len(model.classes_) == 2 else len(model.classes_)
    fitted = header["fitted"]
    if set(fitted) != set(_FITTED):
        fail(f"fitted has the fields {sorted(fitted)}, expected {sorted(_FITTED)}")
    n_iter, best = fitted["n_iter_"], fitted["best_iteration_"]
    if type(n_iter) is not int or n_iter < 0 or not (best is None or (type(best) is int and best >= 0)):
        fail("fitted.n_iter_ and fitted.best_iteration_ must be non-negative integers")
    if type(fitted["converged_"]) is not bool or type(fitted["stop_reason_"]) is not str:
        fail("fitted.converged_ must be a boolean and fitted.stop_reason_ a string")
    if fitted["solver_"] not in SOLVERS[1:]:
        fail(f"fitted.solver_ must be one of {', '.join(map(repr, SOLVERS[1:]))}, found {fitted['solver_']!r}")
    _check_arrays(arrays, k, p, fail)
    theta = np.vstack([arrays["coef"].T, arrays["intercept"][None, :]])
    model.n_features_in_ = p
    if names is not None:
        model.feature_names_in_ = np.asarray(names, dtype=object)
    model._theta = theta
    model._set_coef(theta[:-1], theta[-1])
    for name in _FITTED:
        setattr(model, name, fitted[name])
    model.history_ = {k[8:]: a.tolist() for k, a in arrays.items() if k.startswith("history/")}
    model.loss_curve_ = list(model.history_["loss"])
    model.learning_rate_ = float(arrays["learning_rate"]) if "learning_rate" in arrays else None
    model.lipschitz_ = float(arrays["lipschitz"]) if "lipschitz" in arrays else None
    if "path" in arrays:
        model.path_ = arrays["path"].copy()
    return model


def _check_arrays(arrays: dict, k: int, p: int, fail) -> None:
    """Every array is one a model has, float64, of its shape; coefficients finite."""
    path_shape = (p + 1,) if k == 1 else (k, p + 1)
    for name, a in arrays.items():
        if name in ("coef", "intercept"):
            ok = a.shape == ((k, p) if name == "coef" else (k,))
            if ok and a.dtype == np.float64 and not np.all(np.isfinite(a)):
                fail(f"{name} contains NaN or infinity; a model predicts nothing useful with non-finite coefficients")
        elif name == "path":
            ok = a.ndim == len(path_shape) + 1 and a.shape[1:] == path_shape
        else:
            ok = a.ndim == (1 if name.startswith("history/") else 0) and name.count("/") <= 1
            ok = ok and (name.startswith("history/") or name in ("learning_rate", "lipschitz"))
        if not ok or a.dtype != np.float64:
            fail(f"array {name!r} ({a.dtype}, shape {a.shape}) is not part of a model with {k} output(s), {p} features")


def _decode_param(value):
    if isinstance(value, dict) and set(value) == {"random_state"}:
        mt_key, pos, has_gauss, cached = value["random_state"]
        if not (len(mt_key) == 624 and type(pos) is int and 0 <= pos <= 624 and has_gauss in (0, 1)):
            raise ValueError("the RandomState must have 624 key words, a position in [0, 624] and has_gauss 0 or 1")
        rs = np.random.RandomState()
        rs.set_state(("MT19937", np.array(mt_key, dtype=np.uint32), pos, has_gauss, cached))
        return rs
    if isinstance(value, dict) and value.get("schedule") in SCHEDULES:
        return SCHEDULES[value["schedule"]](**{f: v for f, v in value.items() if f != "schedule"})
    if isinstance(value, (dict, list)):
        raise ValueError(f"a parameter has an unsupported value {value!r:.80}")
    return value


def _decode_labels(value, fail) -> np.ndarray:
    if not (isinstance(value, dict) and set(value) == {"dtype", "values"} and isinstance(value["values"], list)):
        fail("classes must be {'dtype': ..., 'values': [...]}")
    dtype_str, values = value["dtype"], value["values"]
    if not isinstance(dtype_str, str) or not _LABEL_DTYPE.fullmatch(dtype_str):
        fail(f"classes.dtype {dtype_str!r} is not an allowed label dtype (bool, int, uint, float, str, object)")
    if np.dtype(dtype_str).itemsize * len(values) > MAX_FILE_SIZE or len(values) < 2:
        fail(f"classes must hold from two labels to {MAX_FILE_SIZE:,} bytes of them, found {len(values)}")
    if not all(type(v) in (bool, int, float, str) for v in values) or len({type(v) for v in values}) > 1:
        fail("classes.values must be labels of one type (bool, int, float or str)")
    try:
        labels = np.array(values, dtype=dtype_str)
        ordered = labels.ndim == 1 and labels.tolist() == values and all(a < b for a, b in zip(values, values[1:]))
    except (OverflowError, ValueError, TypeError):
        ordered = False
    if not ordered:
        fail(f"classes.values must fit dtype {dtype_str!r} exactly and be sorted and distinct")
    return labels


# ==================================================================== text
def show(path: str | os.PathLike) -> str:
    """A model or a checkpoint as JSON text: its header and every array's dtype, shape and values."""
    formats = {FORMAT: FORMAT_VERSION, CHECKPOINT_FORMAT: CHECKPOINT_FORMAT_VERSION}
    header, arrays = read(path, ModelFileError, formats=formats, max_size=2**30, legacy=_LEGACY)

    def values(a):  # strict JSON: non-finite numbers as the strings "nan", "inf", "-inf"
        out = a.astype(object)
        if a.dtype.kind == "f":
            bad = ~np.isfinite(a)
            out[bad] = a[bad].astype(str)
        return out.tolist()

    described = {k: {"dtype": a.dtype.name, "shape": list(a.shape), "values": values(a)} for k, a in arrays.items()}
    return json.dumps({"header": header, "arrays": dict(sorted(described.items()))}, indent=1, allow_nan=False)
