"""The training state of a fit as checkpoint JSON, and its strict decoding.

* **Tagged trees** (optimizer state: dicts of arrays and numbers): arrays as
  ``{"__array__": "<f8", "shape": [...], "data": [...]}`` (flattened, C order),
  numpy scalars as ``{"__scalar__": dtype, "value": ...}``, tuples as
  ``{"__tuple__": [...]}``, floats at ``repr`` precision.
* **Snapshots** of a completed iteration's :class:`~gdlearn.solver.SolverState`,
  held by reference (:func:`capture`) and encoded when written
  (:func:`encode_snapshot`); :func:`decode_state` rebuilds the state, checked
  against the data's shape, a fresh ``optimizer.init`` and the fit's settings.
* **The session** (resolved solver, L, preconditioning, step size):
  :func:`encode_session` and :func:`restore_session`.

Every decoder reads through a :class:`gdlearn._safejson.Reader`, so failures
raise :class:`gdlearn.checkpoint.CheckpointError`.  The file around these
pieces (header, checks that it belongs to this fit, when to write) is
:mod:`gdlearn.checkpoint`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._safejson import Reader, encode_float, encode_floats
from .solver import SolverState

_SESSION_FIELDS = ("solver", "lipschitz", "coords", "schedule_lr")
_COORD_FIELDS = ("mean", "matrix", "inverse", "scale", "target_scale", "frozen", "unit")
_ARRAY_DTYPE_RE = re.compile(r"[<>|=][biuf][1-8]")
_MAX_TREE_DEPTH = 32


# ====================================================== tagged tree encoding
def _encode_array(a: np.ndarray) -> dict:
    a = np.asarray(a)
    if a.dtype.kind not in "biuf" or a.dtype.itemsize > 8:
        raise TypeError(f"cannot checkpoint an array of dtype {a.dtype}")
    flat = a.ravel()
    data = encode_floats(flat) if a.dtype.kind == "f" else flat.tolist()
    return {"__array__": a.dtype.str, "shape": list(a.shape), "data": data}


def _encode_tree(value):
    """Optimizer state (dicts of arrays and numbers) as JSON, keeping numpy types."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, np.generic):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"cannot checkpoint a value of type {type(value).__name__}")
        item = encode_float(value) if value.dtype.kind == "f" else value.item()
        return {"__scalar__": value.dtype.str, "value": item}
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return encode_float(value)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or k.startswith("__"):
                raise TypeError(f"cannot checkpoint a dict key {k!r}")
            out[k] = _encode_tree(v)
        return out
    if isinstance(value, list):
        return [_encode_tree(v) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [_encode_tree(v) for v in value]}
    raise TypeError(f"cannot checkpoint a value of type {type(value).__name__}")


def _decode_array(r: Reader, value: dict, where: str) -> np.ndarray:
    r.fields(value, ("__array__", "shape", "data"), where)
    dtype_str = r.text(value["__array__"], f"{where} dtype")
    if not _ARRAY_DTYPE_RE.fullmatch(dtype_str):
        r.fail(f"{where} has a disallowed dtype {dtype_str!r}")
    try:
        dtype = np.dtype(dtype_str)
    except TypeError:
        r.fail(f"{where} has an invalid dtype {dtype_str!r}")
    shape = [r.integer(d, f"{where} shape", minimum=0) for d in r.items(value["shape"], f"{where} shape")]
    if len(shape) > 8:
        r.fail(f"{where} has {len(shape)} dimensions")
    data = r.items(value["data"], f"{where} data")
    size = 1
    for d in shape:
        size *= d
    if size != len(data):
        r.fail(f"{where} has shape {tuple(shape)} but {len(data)} values")
    if dtype.kind == "f":
        if not all(type(v) is float for v in data):
            data = [r.number(v, f"{where} data") for v in data]
    elif dtype.kind == "b":
        data = [r.flag(v, f"{where} data") for v in data]
    else:
        data = [r.integer(v, f"{where} data") for v in data]
    try:
        arr = np.array(data, dtype=dtype)
    except (OverflowError, ValueError):
        r.fail(f"{where} values do not fit dtype {dtype_str!r}")
    return arr.reshape(shape)


def _decode_tree(r: Reader, value, where: str, depth: int = 0):
    if depth > _MAX_TREE_DEPTH:
        r.fail(f"{where} is nested too deeply")
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, list):
        return [_decode_tree(r, v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if "__float__" in value:
        return r.number(value, where)
    if "__array__" in value:
        return _decode_array(r, value, where)
    if "__scalar__" in value:
        r.fields(value, ("__scalar__", "value"), where)
        arr = _decode_array(r, {"__array__": value["__scalar__"], "shape": [], "data": [value["value"]]}, where)
        return arr[()]
    if "__tuple__" in value:
        r.fields(value, ("__tuple__",), where)
        return tuple(_decode_tree(r, r.items(value["__tuple__"], where), where, depth + 1))
    for k in value:
        if k.startswith("__"):
            r.fail(f"{where} has a reserved key {k!r}")
    return {k: _decode_tree(r, v, f"{where}.{k}", depth + 1) for k, v in value.items()}


def _check_like(r: Reader, value, template, where: str) -> None:
    """``value`` has the structure of ``template`` (a fresh ``optimizer.init`` state)."""
    if isinstance(template, dict):
        if not isinstance(value, dict) or set(value) != set(template):
            keys = sorted(value) if isinstance(value, dict) else type(value).__name__
            r.fail(f"{where} does not match this optimizer's state (keys {keys}, expected {sorted(template)})")
        for k in template:
            _check_like(r, value[k], template[k], f"{where}.{k}")
    elif isinstance(template, np.ndarray):
        ok = isinstance(value, np.ndarray) and value.dtype == template.dtype and value.ndim == template.ndim
        if ok:  # a history of vectors (L-BFGS pairs) starts empty and grows along axis 0
            grows = template.ndim >= 1 and template.shape[0] == 0
            ok = value.shape[1:] == template.shape[1:] if grows else value.shape == template.shape
        if not ok:
            found = f"shape {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__
            r.fail(f"{where} must be an array of shape {template.shape}, found {found}")
    elif isinstance(template, (bool, np.bool_)):
        if not isinstance(value, (bool, np.bool_)):
            r.fail(f"{where} must be a boolean")
    elif isinstance(template, (int, np.integer)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            r.fail(f"{where} must be an integer")
    elif isinstance(template, (float, np.floating)):
        if not isinstance(value, (float, np.floating)):
            r.fail(f"{where} must be a number")
    elif type(value) is not type(template):
        r.fail(f"{where} must be of type {type(template).__name__}")


# ================================================================ snapshots
@dataclass
class Snapshot:
    """A completed iteration's state, held by reference (no copies)."""

    fields: dict
    history: dict  # name -> (list, length)
    path: tuple | None  # (list, length)

    @property
    def iteration(self) -> int:
        return self.fields["iteration"]


def capture(state: SolverState) -> Snapshot:
    """``state`` as a :class:`Snapshot`: θ and the optimizer state by reference, the history by length."""
    fields = {}
    for f in dataclasses.fields(SolverState):
        if f.name not in ("history", "path"):
            fields[f.name] = getattr(state, f.name)
    history = {k: (v, len(v)) for k, v in state.history.items()}
    path = None if state.path is None else (state.path, len(state.path))
    return Snapshot(fields, history, path)


def encode_snapshot(snap: Snapshot) -> dict:
    """``snap`` as JSON: arrays and numpy scalars tagged, the history and path cut at its iteration."""
    out = {}
    for name, value in snap.fields.items():
        if name in ("theta", "best_theta"):
            out[name] = None if value is None else _encode_array(value)
        elif name == "opt_state":
            out[name] = _encode_tree(value)
        elif isinstance(value, (bool, np.bool_)):
            out[name] = bool(value)
        elif isinstance(value, (int, np.integer)):
            out[name] = int(value)
        elif isinstance(value, (float, np.floating)):
            out[name] = encode_float(value)
        else:
            out[name] = _encode_tree(value)
    out["history"] = {k: encode_floats(lst[:n]) for k, (lst, n) in snap.history.items()}
    if snap.path is None:
        out["path"] = None
    else:
        lst, n = snap.path
        out["path"] = _encode_array(np.stack(lst[:n]))
    return out


# ================================================================ the session
def encode_session(session) -> dict:
    """The parts of ``session`` (a :class:`gdlearn.training.Session`) that a resumed fit must reuse."""
    coords = session.coords
    return {
        "solver": session.solver,
        "lipschitz": None if session.lipschitz is None else encode_float(session.lipschitz),
        "coords": None
        if coords is None
        else {
            "mean": _encode_array(coords.mean),
            "matrix": _encode_array(coords.matrix),
            "inverse": _encode_array(coords.inverse),
            "scale": _encode_array(coords.scale),
            "target_scale": encode_float(coords.target_scale),
            "frozen": _encode_array(coords.frozen),
            "unit": _encode_array(coords.unit),
        },
        "schedule_lr": _schedule_lr(session.optimizer),
    }


def restore_session(r: Reader, value, session, estimator, objective) -> None:
    """Check the saved session against ``session`` and adopt its coordinates, L and step size.

    Where this machine computed the change of variables or 1/L differently,
    the checkpoint's values replace them (and the optimizer is rebuilt with the
    saved step), so that the resumed fit continues in the same coordinates.
    """
    from .optim.factory import make_optimizer
    from .preconditioning import Coordinates

    saved = r.obj(value, "session")
    r.fields(saved, _SESSION_FIELDS, "session")
    if saved["solver"] != session.solver:
        r.fail(f"it was written by solver {saved['solver']!r}, this fit resolved to {session.solver!r}")
    coords = saved["coords"]
    if (coords is None) != (session.coords is None):
        r.fail("its preconditioning setting differs from this fit's")
    if coords is not None:
        coords = r.obj(coords, "session.coords")
        r.fields(coords, _COORD_FIELDS, "session.coords")
        current = session.coords
        arrays = {}
        for name in ("mean", "matrix", "inverse", "scale", "frozen", "unit"):
            arr = _decode_tree(r, coords[name], f"session.coords.{name}")
            ref = getattr(current, name)
            if not isinstance(arr, np.ndarray) or arr.shape != ref.shape or arr.dtype != ref.dtype:
                r.fail(f"session.coords.{name} must be an array of shape {ref.shape} (this fit's preconditioning)")
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                r.fail(f"session.coords.{name} contains NaN or infinity")
            arrays[name] = arr
        tau = r.number(coords["target_scale"], "session.coords.target_scale", finite=True)
        if not (np.all(arrays["scale"] > 0) and tau > 0):
            r.fail("session.coords must have positive scales")
        same = current.target_scale == tau and all(np.array_equal(getattr(current, k), v) for k, v in arrays.items())
        if not same:  # another machine's arithmetic: keep the checkpoint's coordinates
            session.coords = Coordinates(
                arrays["mean"],
                arrays["matrix"],
                arrays["inverse"],
                target_scale=tau,
                scale=arrays["scale"],
                frozen=arrays["frozen"],
                unit=arrays["unit"],
            )
    lipschitz = r.number(saved["lipschitz"], "session.lipschitz", none_ok=True)
    if lipschitz is not None:
        session.lipschitz = lipschitz
    lr = r.number(saved["schedule_lr"], "session.schedule_lr", finite=True, none_ok=True)
    if _schedule_lr(session.optimizer) != lr:  # 1/L computed differently: use the checkpoint's step
        if lr is None:
            r.fail("its optimizer had no step-size schedule, this fit's has one")
        cfg = estimator._config()
        session.optimizer = make_optimizer(
            session.solver,
            cfg.learning_rate,
            auto_lr=lambda: lr,
            momentum=cfg.momentum,
            beta_1=cfg.beta_1,
            beta_2=cfg.beta_2,
            epsilon=cfg.epsilon,
            rho=cfg.rho,
        )
        if _schedule_lr(session.optimizer) != lr:
            r.fail(f"its learning rate {lr!r} differs from this fit's fixed learning rate")


def _schedule_lr(optimizer) -> float | None:
    schedule = getattr(optimizer, "schedule", None)
    lr = getattr(schedule, "lr", None)
    return float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None


# ================================================================ the state
def decode_state(r: Reader, value, optimizer, objective, estimator) -> SolverState:
    """The :class:`~gdlearn.solver.SolverState` of a checkpoint, checked against this fit's shapes and settings."""
    raw = r.obj(value, "state")
    names = tuple(f.name for f in dataclasses.fields(SolverState))
    r.fields(raw, names, "state")
    shape = objective.shape
    iteration = r.integer(raw["iteration"], "state.iteration", minimum=0)
    out: dict[str, Any] = {"iteration": iteration}

    theta = _decode_tree(r, raw["theta"], "state.theta")
    if not isinstance(theta, np.ndarray) or theta.shape != shape or theta.dtype != np.float64:
        r.fail(f"state.theta must be a float array of shape {shape}")
    if not np.all(np.isfinite(theta)):
        r.fail("state.theta contains NaN or infinity")
    out["theta"] = theta

    opt_state = _decode_tree(r, raw["opt_state"], "state.opt_state")
    _check_like(r, opt_state, optimizer.init(np.zeros(shape)), "state.opt_state")
    out["opt_state"] = opt_state

    history = r.obj(raw["history"], "state.history")
    validated = estimator.validation_fraction is not None or estimator.early_stopping
    expected = {"loss", "grad_norm"} | ({"val_loss", "val_score", "score"} if validated else set())
    if set(history) != expected:
        r.fail(f"state.history has the series {sorted(history)}, this fit records {sorted(expected)}")
    out["history"] = {}
    for key in sorted(expected):
        series = r.floats(history[key], f"state.history.{key}")
        if len(series) != iteration + 1:
            r.fail(f"state.history.{key} has {len(series)} entries, expected iteration + 1 = {iteration + 1}")
        out["history"][key] = series

    path = raw["path"]
    if (path is None) != (not estimator.record_path):
        r.fail("state.path must be present exactly when record_path=True")
    if path is not None:
        stacked = _decode_tree(r, path, "state.path")
        if not isinstance(stacked, np.ndarray) or stacked.shape != (iteration + 1, *shape):
            r.fail(f"state.path must be an array of shape {(iteration + 1, *shape)}")
        path = [row.copy() for row in stacked]
    out["path"] = path

    best = _decode_tree(r, raw["best_theta"], "state.best_theta")
    if best is not None and (not isinstance(best, np.ndarray) or best.shape != shape):
        r.fail(f"state.best_theta must be null or an array of shape {shape}")
    out["best_theta"] = best
    for name in ("best_val", "best_train"):
        out[name] = r.number(raw[name], f"state.{name}")
    out["initial_loss"] = r.number(raw["initial_loss"], "state.initial_loss", finite=True)
    for name in ("best_iteration", "no_improve", "no_improve_train", "rising"):
        out[name] = r.integer(raw[name], f"state.{name}", minimum=0, maximum=iteration)
    for name in names:  # fields added to SolverState after this reader was written
        if name not in out:
            out[name] = _decode_tree(r, raw[name], f"state.{name}")
    return SolverState(**out)
