"""JSON forms of estimator parameters and class labels, shared by model files and checkpoints.

* ``get_params()`` (:func:`encode_params`, :func:`decode_params`): numbers,
  strings and booleans as themselves, learning-rate schedules as
  ``{"schedule": name, fields...}`` (looked up in the fixed table
  :data:`SCHEDULES`, never imported by name), paths as strings, a
  ``RandomState`` with its full Mersenne-Twister state.
* Class labels (:func:`encode_labels`, :func:`decode_labels`) with their dtype,
  so that ints, bools, floats and strings round-trip exactly.

Decoding reads through a :class:`gdlearn._safejson.Reader`, so failures raise
the error class of the file being read.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re

import numpy as np

from ._safejson import Reader, describe, encode_float, is_int
from .optim.schedules import Constant, ExponentialDecay, InverseDecay, Schedule, StepDecay

#: The only schedule classes a ``learning_rate`` parameter can name.
SCHEDULES: dict[str, type] = {
    "Constant": Constant,
    "ExponentialDecay": ExponentialDecay,
    "InverseDecay": InverseDecay,
    "StepDecay": StepDecay,
}
_LABEL_DTYPE_RE = re.compile(r"[<>|=]([biuf][1-8]|U[1-9][0-9]{0,5})|\|O")
_MAX_PARAM_INT = 2**63


# ============================================================ parameters
def encode_params(params: dict, *, random_state_marker: bool = False) -> dict:
    """``get_params()`` as JSON: schedules as ``{"schedule": name, fields...}``, paths as strings.

    Parameters
    ----------
    params : dict
    random_state_marker : bool, default=False
        Encode a ``RandomState`` as ``{"random_state": "RandomState"}`` only
        (for comparisons) instead of its full Mersenne-Twister state.

    Raises
    ------
    ValueError
        For a value that has no JSON form (a callable, a ``Generator``...).
    """
    out = {}
    for key, value in params.items():
        out[key] = _encode_param(key, value, random_state_marker)
    return out


def _encode_param(key, value, marker):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return encode_float(value)
    if isinstance(value, Schedule):
        name = type(value).__name__
        if SCHEDULES.get(name) is not type(value):
            raise ValueError(f"parameter {key}: schedule {name} is not one of {', '.join(SCHEDULES)}")
        fields = {f.name: _encode_param(key, getattr(value, f.name), marker) for f in dataclasses.fields(value)}
        return {"schedule": name, **fields}
    if isinstance(value, os.PathLike):
        return os.fspath(value) if isinstance(os.fspath(value), str) else os.fsdecode(value)
    if isinstance(value, np.random.RandomState):
        if marker:
            return {"random_state": "RandomState"}
        name, key_arr, pos, has_gauss, cached = value.get_state(legacy=True)
        return {
            "random_state": "RandomState",
            "bit_generator": str(name),
            "key": [int(k) for k in key_arr],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": encode_float(cached),
        }
    raise ValueError(f"parameter {key}={value!r} of type {type(value).__name__} cannot be saved as JSON")


def decode_params(r: Reader, value, cls) -> dict:
    """Inverse of :func:`encode_params` for the estimator class ``cls``: only its parameters, each checked."""
    params = r.obj(value, "params")
    allowed = cls().get_params(deep=False)
    unknown = [k for k in params if k not in allowed]
    if unknown:
        r.fail(f"params has unknown parameter(s) {', '.join(map(repr, unknown))} for {cls.__name__}")
    out = {k: _decode_param(r, k, v) for k, v in params.items()}
    rs = out.get("random_state")
    if not (rs is None or is_int(rs) or isinstance(rs, np.random.RandomState)):
        r.fail(
            f"params.random_state must be null, an integer or a RandomState, found {describe(params['random_state'])}"
        )
    if not (out.get("checkpoint") is None or isinstance(out.get("checkpoint"), str)):
        r.fail("params.checkpoint must be null or a file name")
    return out


def _decode_param(r: Reader, key, value):
    where = f"params.{key}"
    if is_int(value) and abs(value) > _MAX_PARAM_INT:
        r.fail(f"{where} = {describe(value)} is out of range")
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, dict) and "__float__" in value:
        return r.number(value, where)
    if isinstance(value, dict) and "schedule" in value:
        name = r.text(value["schedule"], f"{where}.schedule", choices=tuple(SCHEDULES))
        cls = SCHEDULES[name]
        names = tuple(f.name for f in dataclasses.fields(cls))
        r.fields(value, ("schedule",), where, optional=names)
        kwargs = {}
        for f in names:
            if f in value:
                v = value[f]
                if is_int(v) and abs(v) > _MAX_PARAM_INT:
                    r.fail(f"{where}.{f} = {describe(v)} is out of range")
                kwargs[f] = v if isinstance(v, str) or is_int(v) else r.number(v, f"{where}.{f}")
        return cls(**kwargs)
    if isinstance(value, dict) and value.get("random_state") == "RandomState":
        r.fields(value, ("random_state", "bit_generator", "key", "pos", "has_gauss", "cached_gaussian"), where)
        r.text(value["bit_generator"], f"{where}.bit_generator", choices=("MT19937",))
        key_list = r.items(value["key"], f"{where}.key", length=624)
        key_arr = np.array([r.integer(k, f"{where}.key", 0, 2**32 - 1) for k in key_list], dtype=np.uint32)
        pos = r.integer(value["pos"], f"{where}.pos", 0, 624)
        has_gauss = r.integer(value["has_gauss"], f"{where}.has_gauss", 0, 1)
        cached = r.number(value["cached_gaussian"], f"{where}.cached_gaussian", finite=True)
        rs = np.random.RandomState()
        rs.set_state(("MT19937", key_arr, pos, has_gauss, cached))
        return rs
    r.fail(f"{where} has an unsupported value {describe(value)}")


# ============================================================ class labels
def encode_labels(classes: np.ndarray) -> dict:
    """Class labels with their dtype, so that ints, bools, floats and strings round-trip exactly."""
    classes = np.asarray(classes)
    dtype = classes.dtype
    if dtype.kind == "O":
        values = []
        for c in classes.tolist():
            if isinstance(c, (bool, np.bool_)):
                values.append(bool(c))
            elif isinstance(c, (int, np.integer)):
                values.append(int(c))
            elif isinstance(c, (float, np.floating)):
                values.append(encode_float(c))
            elif isinstance(c, str):
                values.append(c)
            else:
                raise ValueError(f"class label {c!r} of type {type(c).__name__} cannot be saved as JSON")
        return {"dtype": "|O", "values": values}
    if dtype.kind not in "biufU":
        raise ValueError(f"class labels of dtype {dtype} cannot be saved as JSON")
    values = classes.tolist()
    if dtype.kind == "f":
        values = [encode_float(v) for v in values]
    return {"dtype": dtype.str, "values": values}


def decode_labels(r: Reader, value, where: str, *, max_bytes: int) -> np.ndarray:
    """Inverse of :func:`encode_labels`, checking that the labels are sorted and distinct.

    Labels that would take more than ``max_bytes`` of memory are refused before they are built.
    """
    value = r.obj(value, where)
    r.fields(value, ("dtype", "values"), where)
    dtype_str = r.text(value["dtype"], f"{where}.dtype")
    if not _LABEL_DTYPE_RE.fullmatch(dtype_str):
        r.fail(f"{where}.dtype {dtype_str!r} is not an allowed label dtype (bool, int, uint, float, str, object)")
    try:
        dtype = np.dtype(dtype_str)
    except TypeError:
        r.fail(f"{where}.dtype {dtype_str!r} is not a valid dtype")
    values = r.items(value["values"], f"{where}.values")
    if dtype.itemsize * len(values) > max_bytes:
        r.fail(f"{where}: {len(values)} labels of dtype {dtype_str!r} would take more than {max_bytes:,} bytes")
    kind = dtype.kind
    items = []
    for v in values:
        if kind == "b":
            items.append(r.flag(v, f"{where}.values"))
        elif kind in "iu":
            items.append(r.integer(v, f"{where}.values"))
        elif kind == "f":
            items.append(r.number(v, f"{where}.values"))
        elif kind == "U":
            items.append(r.text(v, f"{where}.values"))
        else:  # object: JSON keeps str, int, float and bool apart
            if isinstance(v, (str, bool)) or is_int(v):
                items.append(v)
            else:
                items.append(r.number(v, f"{where}.values"))
    try:
        arr = np.array(items, dtype=dtype)
    except (OverflowError, ValueError, TypeError):
        r.fail(f"{where}.values do not fit dtype {dtype_str!r}")
    if arr.ndim != 1 or arr.tolist() != items:
        r.fail(f"{where}.values do not fit dtype {dtype_str!r} exactly")
    if kind == "O" and len({type(v) for v in items}) > 1:
        r.fail(f"{where}.values mix label types")
    if kind in "fO" and any(isinstance(v, float) and math.isnan(v) for v in items):
        r.fail(f"{where}.values contain NaN")
    try:
        ordered = all(a < b for a, b in zip(items, items[1:]))
    except TypeError:
        ordered = False
    if not ordered:
        r.fail(f"{where}.values must be sorted and distinct (as LabelEncoder makes them)")
    return arr
