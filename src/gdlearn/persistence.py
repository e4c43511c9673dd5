"""Save and load fitted models: named arrays and a JSON header, checked on load, never executed.

A model file is a gdlearn container (:mod:`gdlearn._fileformat`, a safetensors
file with a checksummed header; format in ``docs/reliability.md``):

* header: ``format="gdlearn-model"``, ``format_version``, ``gdlearn_version``,
  ``kind`` (the estimator's class), ``params`` (``get_params()`` as JSON:
  schedules as ``{"schedule": name, fields...}``, a ``RandomState`` with its
  Mersenne-Twister state), ``n_features_in``, ``feature_names``, ``target_name``,
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

import json
import os
import re

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._fileformat import FileError, check_fields, decode_param, encode_param, read, unflatten, write
from .checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_VERSION
from .estimators import LinearRegression, LogisticRegression
from .optim.factory import SOLVERS

__all__ = ["save", "load", "show", "ModelFileError", "FORMAT", "FORMAT_VERSION", "MAX_FILE_SIZE"]

FORMAT = "gdlearn-model"
#: The version this gdlearn writes and reads (0.1's JSON format 1 is refused with advice).
FORMAT_VERSION = 2
#: Files larger than this are refused before being read (64 MiB).
MAX_FILE_SIZE = 64 * 2**20
#: The only classes a model file can name (``kind``): nothing else is ever instantiated.
KINDS: dict[str, type] = {"LinearRegression": LinearRegression, "LogisticRegression": LogisticRegression}
_FITTED = {"n_iter_": int, "converged_": bool, "stop_reason_": str, "best_iteration_": (int, None), "solver_": str}
_SCHEMA = {  # the header besides format and versions (types; values are checked in _model)
    "kind": str,
    "params": dict,
    "n_features_in": int,
    "feature_names": (list, None),
    "target_name": (str, None),
    "target_ndim": (int, None),
    "classes": (dict, None),
    "fitted": _FITTED,
}
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
            "params": {k: encode_param(k, v) for k, v in model.get_params(deep=False).items()},
            "n_features_in": int(model.n_features_in_),
            "feature_names": None if names is None else [str(n) for n in names],
            "target_name": getattr(model, "target_name_", None),
            "target_ndim": None if classifier else int(model._y_ndim),
            "classes": _encode_labels(model.classes_) if classifier else None,
            "fitted": {name: encode_param(name, getattr(model, name)) for name in _FITTED},
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
    formats = {FORMAT: FORMAT_VERSION}
    header, arrays = read(path, ModelFileError, formats=formats, max_size=MAX_FILE_SIZE, others=others, legacy=_LEGACY)

    def fail(problem: str):
        raise ModelFileError(path, problem)

    header.setdefault("target_name", None)  # written by gdlearn since 0.2.0.dev0's command-line changes
    check_fields(header, {"format": str, "format_version": int, "gdlearn_version": str, **_SCHEMA}, fail)

    try:
        return _model(header, arrays, fail)
    except (KeyError, TypeError, ValueError, IndexError, OverflowError, AttributeError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        fail(f"its contents are malformed ({type(exc).__name__}: {exc})")


def _model(header: dict, arrays: dict, fail):
    from ._params import validate_params

    cls = KINDS.get(header["kind"])
    if cls is None:
        fail(f"unknown model kind {header['kind']!r}; this gdlearn knows {', '.join(map(repr, KINDS))}")
    params = header["params"]
    unknown = set(params) - set(cls().get_params(deep=False))
    if unknown:
        fail(f"params has unknown parameter(s) {', '.join(map(repr, sorted(unknown)))} for {cls.__name__}")
    model = cls(**{k: decode_param(v) for k, v in params.items()})
    try:
        validate_params(model)
    except ValueError as exc:
        fail(f"invalid parameters: {exc}")
    p, names = header["n_features_in"], header["feature_names"]
    if p < 1:
        fail(f"n_features_in must be a positive integer, found {p!r}")
    if names is not None and not (len(names) == p and all(type(n) is str for n in names)):
        fail(f"feature_names must be null or {p} strings")
    if cls is LinearRegression:
        ndim, coef = header["target_ndim"], arrays.get("coef", np.zeros(0))
        if header["classes"] is not None or ndim not in (1, 2):
            fail(f"a LinearRegression has classes null and target_ndim 1 or 2; found {ndim!r}")
        k = coef.shape[0] if ndim == 2 and coef.ndim == 2 and coef.shape[0] >= 1 else 1
        model._y_ndim = ndim
    else:
        if header["target_ndim"] is not None:
            fail("target_ndim must be null for LogisticRegression")
        model.classes_ = _decode_labels(header["classes"], fail)
        k = 1 if len(model.classes_) == 2 else len(model.classes_)
    fitted = header["fitted"]
    if fitted["n_iter_"] < 0 or (fitted["best_iteration_"] or 0) < 0:
        fail("fitted.n_iter_ and fitted.best_iteration_ must be non-negative integers")
    if fitted["solver_"] not in SOLVERS[1:]:
        fail(f"fitted.solver_ must be one of {', '.join(map(repr, SOLVERS[1:]))}, found {fitted['solver_']!r}")
    history = {n[8:]: np.zeros(0) for n in arrays if n.startswith("history/") and n.count("/") == 1}
    template = {"coef": np.zeros((k, p)), "intercept": np.zeros(k), "history": {"loss": np.zeros(0), **history}}
    template.update({name: 0.0 for name in ("learning_rate", "lipschitz") if name in arrays})
    if "path" in arrays:
        template["path"] = np.zeros((0, p + 1) if k == 1 else (0, k, p + 1))
    tree = unflatten(template, arrays, "", fail)
    if not (np.all(np.isfinite(tree["coef"])) and np.all(np.isfinite(tree["intercept"]))):
        fail("coef or intercept contains NaN or infinity; a model predicts nothing useful with them")
    theta = np.vstack([tree["coef"].T, tree["intercept"][None, :]])
    model.n_features_in_ = p
    if names is not None:
        model.feature_names_in_ = np.asarray(names, dtype=object)
    if header["target_name"] is not None:
        model.target_name_ = header["target_name"]
    model._theta = theta
    model._set_coef(theta[:-1], theta[-1])
    for name in _FITTED:
        setattr(model, name, fitted[name])
    model.history_ = {k: a.tolist() for k, a in tree["history"].items()}
    model.loss_curve_ = list(model.history_["loss"])
    model.learning_rate_, model.lipschitz_ = tree.get("learning_rate"), tree.get("lipschitz")
    if "path" in tree:
        model.path_ = tree["path"]
    return model


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
