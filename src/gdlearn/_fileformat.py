"""The one container of gdlearn's files, models and checkpoints: named arrays and a small JSON header.

A file is a `safetensors <https://github.com/huggingface/safetensors>`_ file
whose metadata holds one string, ``"gdlearn"``: our header as canonical JSON
(sorted keys, ASCII, finite numbers) with ``format``, ``format_version``,
``gdlearn_version``, what the format adds, and ``sha256`` (of the rest of the
header and of every array's name, dtype, shape and bytes).  A header text that
is not exactly canonical is refused, so every edit, down to one flipped bit,
is detected; the same state gives the same bytes.  Every number that is state
is an array, stored bit for bit.  Nothing is executed on load: the bytes are
parsed by safetensors (Rust, fuzzed) and JSON, never unpickled.

:func:`flatten` and :func:`unflatten` turn nested state (dicts of arrays and
numbers, as ``optimizer.init`` makes them) into ``"a/b/c"``-named arrays and
back, checking every name, dtype and shape against a template;
:func:`check_fields` checks a header against a schema of types.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import os
from typing import NoReturn

import numpy as np

from ._atomic import atomic_write
from ._version import __version__
from .optim.schedules import Constant, ExponentialDecay, InverseDecay, Schedule, StepDecay

__all__ = [
    "FileError",
    "write",
    "read",
    "flatten",
    "unflatten",
    "digest",
    "check_fields",
    "encode_param",
    "decode_param",
]


class FileError(ValueError):
    """A gdlearn file cannot be used; ``path`` names it and ``problem`` says what is wrong."""

    action = "use file"

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"Cannot {self.action} {path!r}: {problem}")


# ================================================================= writing
def _little_endian(a) -> np.ndarray:
    a = np.asarray(a)  # not ascontiguousarray, which makes 0-d arrays 1-d
    return a.astype(a.dtype.newbyteorder("<"), order="C", copy=False)


def digest(header_text: str, arrays: dict) -> str:
    """SHA-256 (hex) of the header text and of every array's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256(b"gdlearn-file\0" + header_text.encode("ascii"))
    for name in sorted(arrays):
        a = _little_endian(arrays[name])
        h.update(f"\0{name}\0{a.dtype.str}{a.shape}\0".encode())
        h.update(memoryview(a).cast("B") if a.size else b"")  # the same bytes as tobytes(), without a copy
    return h.hexdigest()


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def write(path: str | os.PathLike, fmt: str, version: int, header: dict, arrays: dict) -> None:
    """Write ``header`` and ``arrays`` to ``path`` atomically (see :func:`atomic_write`).

    Raises
    ------
    ValueError
        If the header has no JSON form (a non-finite number, an unknown type).
    """
    from safetensors.numpy import save

    header = {"format": fmt, "format_version": version, "gdlearn_version": __version__, **header}
    arrays = {name: _little_endian(a) for name, a in arrays.items()}
    sealed = {**header, "sha256": digest(_canonical(header), arrays)}  # one metadata entry: the same bytes every time
    atomic_write(path, save(arrays, metadata={"gdlearn": _canonical(sealed)}))


# ================================================================= reading
def read(
    path: str | os.PathLike,
    error: type[FileError],
    *,
    formats: dict[str, int],
    max_size: int,
    others: dict[str, str] | None = None,
    legacy: str = "",
    schema: dict | None = None,
) -> tuple[dict, dict]:
    """Read and authenticate a gdlearn file: ``(header, arrays)``.

    Parameters
    ----------
    path : str or path-like
    error : type
        Raised as ``error(path, problem)``.
    formats : dict
        The formats accepted, each with the newest version this gdlearn reads.
    max_size : int
        Larger files are refused before they are read.
    others : dict, optional
        Formats that are gdlearn's but not accepted here, with what to say.
    legacy : str
        What to do with a file of gdlearn 0.1 (JSON, no longer read).
    schema : dict, optional
        The header's fields besides ``format``, ``format_version`` and
        ``gdlearn_version`` (see :func:`check_fields`); ``None`` accepts any.

    Raises
    ------
    OSError
        If the file cannot be opened (missing, permissions).
    """
    path = os.fspath(path)

    def fail(problem: str) -> NoReturn:
        raise error(path, problem)

    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size > max_size:  # a regular file: refused before it is read
            fail(f"the file is larger than the limit of {max_size:,} bytes")
        data = f.read(max_size + 1)  # bounded: a pipe or /dev/zero cannot exhaust memory
    if len(data) > max_size:
        fail(f"the file is larger than the limit of {max_size:,} bytes")
    if not data:
        fail("the file is empty (truncated by a crash?)")
    size = int.from_bytes(data[:8], "little")
    if len(data) < 8 or size > len(data) - 8:  # not a container: say what it is
        if data[:1] == b"\x80":
            fail("it looks like a Python pickle; gdlearn never loads pickles (they can run code)")
        if data.lstrip()[:1] == b"{":
            try:
                old = json.loads(data)
                written = f"gdlearn {old['gdlearn_version']} ({old['format']} format {old['format_version']}, JSON)"
            except (ValueError, TypeError, KeyError, RecursionError):
                fail("it is JSON, not a gdlearn file (or an older gdlearn's file, truncated)")
            fail(f"it was written by {written}, which this gdlearn ({__version__}) no longer reads. {legacy}")
        fail(f"it is truncated or not a gdlearn file ({len(data):,} bytes, header of {size:,} announced)")
    try:
        meta = json.loads(data[8 : 8 + size]).get("__metadata__")
        if not isinstance(meta, dict) or set(meta) != {"gdlearn"}:
            fail("it is not a gdlearn file (its header has no gdlearn metadata)")
        from safetensors.numpy import load

        arrays = load(data)
        header = json.loads(meta["gdlearn"])  # duplicate keys, NaN or 1e999 are not canonical: refused below
        if not isinstance(header, dict):
            fail("its gdlearn header is not a JSON object")
        canonical = _canonical(header) == meta["gdlearn"]  # so that no two texts (1e-05, 1E-05) read the same
        stored = header.pop("sha256", None)
        intact = canonical and digest(_canonical(header), arrays) == stored
    except FileError:
        raise
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        fail(f"it is corrupted or truncated ({exc})")
    except Exception as exc:  # safetensors.SafetensorError: offsets, dtypes or sizes that do not add up
        fail(f"its arrays are corrupted ({exc})")
    if not intact:
        fail("checksum mismatch: the file was modified or corrupted after it was written")
    found, version = header.get("format"), header.get("format_version")
    if not (isinstance(found, str) and found in formats):
        found = found if isinstance(found, str) else repr(found)
        fail((others or {}).get(found, f"it is a {found!r} file, not {' or '.join(map(repr, formats))}"))
    if type(version) is not int or version < 1:
        fail(f"format_version must be a positive integer, found {version!r}")
    if version > formats[found]:
        fail(
            f"it has format version {version}, written by a newer gdlearn ({header.get('gdlearn_version')!r}); "
            f"this gdlearn ({__version__}) reads versions up to {formats[found]}. Upgrade gdlearn to load it"
        )
    if schema is not None:
        check_fields(header, {"format": str, "format_version": int, "gdlearn_version": str, **schema}, fail)
    return header, arrays


def check_fields(value, schema, fail, where: str = "") -> None:
    """Check a JSON value against ``schema``: a dict (these fields exactly, each checked), a type or tuple of types.

    ``None`` in a tuple allows null; ``int`` excludes ``bool``.  Calls ``fail(problem)`` on the first mismatch.
    """
    if isinstance(schema, dict):
        if not isinstance(value, dict) or set(value) != set(schema):
            fail(f"{where or 'the header'} must have the fields {sorted(schema)}, found {value!r:.200}")
        for key, sub in schema.items():
            check_fields(value[key], sub, fail, f"{where}.{key}" if where else key)
        return
    types = tuple(type(None) if t is None else t for t in (schema if isinstance(schema, tuple) else (schema,)))
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        fail(f"{where} has the wrong type: {value!r:.80}")


# ============================================================= parameters
#: The only schedule classes a ``learning_rate`` parameter can name in a file.
SCHEDULES: dict[str, type] = {c.__name__: c for c in (Constant, ExponentialDecay, InverseDecay, StepDecay)}


def encode_param(key: str, value):
    """An estimator parameter as JSON: numbers, strings, bools, null; a schedule as ``{"schedule": name, fields}``,
    a ``RandomState`` as ``{"random_state": [key, pos, has_gauss, cached]}``; :func:`decode_param` inverts it."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value):
        return float(value)
    if isinstance(value, Schedule) and SCHEDULES.get(type(value).__name__) is type(value):
        fields = {f.name: encode_param(key, getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"schedule": type(value).__name__, **fields}
    if isinstance(value, os.PathLike):
        return os.fsdecode(value)
    if isinstance(value, np.random.RandomState):
        _, mt_key, pos, has_gauss, cached = value.get_state(legacy=True)
        return {"random_state": [mt_key.tolist(), int(pos), int(has_gauss), float(cached)]}
    raise ValueError(f"parameter {key}={value!r} ({type(value).__name__}) cannot be represented in a model file")


def decode_param(value):
    """The inverse of :func:`encode_param`: builds only the schedules of :data:`SCHEDULES` and a ``RandomState``."""
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


# ============================================================ state trees
def _leaf(value) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (bool, np.bool_)):
        return np.array(bool(value))
    if isinstance(value, (int, np.integer)):
        return np.array(int(value), dtype=np.int64)
    return np.array(float(value))


def flatten(tree: dict, prefix: str) -> dict[str, np.ndarray]:
    """``{"a": {"b": x}}`` → ``{"prefix/a/b": array(x)}``; numbers become 0-d int64, float64 or bool arrays."""
    out = {}
    for key, value in tree.items():
        name = f"{prefix}/{key}" if prefix else key
        out.update(flatten(value, name) if isinstance(value, dict) else {name: _leaf(value)})
    return out


def unflatten(template: dict, arrays: dict, prefix: str, fail) -> dict:
    """The inverse of :func:`flatten`, shaped by ``template`` (e.g. a fresh ``optimizer.init`` state).

    Every array under ``prefix`` must be one of the template's leaves with its
    dtype and shape (a template array with an empty first axis, such as
    L-BFGS's pairs or a history, may hold any number of rows); numbers come
    back as the template's Python types, so that arithmetic resumes bit for bit.
    """
    names = flatten(template, prefix)
    found = {k for k in arrays if k.startswith(prefix + "/" if prefix else "")}
    if found != set(names):
        fail(f"the arrays {sorted(found)} are not those expected, {sorted(names)}")
    for name, ref in names.items():
        a = arrays[name]
        grows = ref.ndim >= 1 and ref.shape[0] == 0
        if (
            a.dtype != ref.dtype
            or a.ndim != ref.ndim
            or (a.shape[1:] != ref.shape[1:] if grows else a.shape != ref.shape)
        ):
            fail(f"{name} must be {ref.dtype} of shape {ref.shape}, found {a.dtype} of shape {a.shape}")

    def build(node, name):
        if isinstance(node, dict):
            return {k: build(v, f"{name}/{k}" if name else k) for k, v in node.items()}
        a = arrays[name]
        if isinstance(node, np.ndarray):
            return a.copy()
        return type(node)(a.item()) if isinstance(node, (bool, int, float)) else a[()]

    return build(template, prefix)
