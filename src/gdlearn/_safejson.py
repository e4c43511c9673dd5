"""Format-independent machinery of gdlearn's JSON files (model files and checkpoints).

* **Canonical JSON and checksums**: :func:`canonical_json` (sorted keys, no
  spaces, ASCII, no NaN) is what :func:`checksum` hashes; :func:`dump_document`
  writes a document with its checksum, one top-level field per line.
* **Atomic writes**: :func:`atomic_write` writes a temporary file in the target's
  directory, fsyncs it, renames it over the target and fsyncs the directory;
  temporary files of killed writers are removed on the next write.
* **Strict reading**: :class:`Reader` parses untrusted bytes (size limit, no
  pickles, no duplicate keys, no ``NaN``/``Infinity`` constants), checks format,
  version and checksum, and gives typed access to fields; every failure raises
  the file-specific error class it was given (``error(path, problem)``).
* **Floats**: :func:`encode_float` and :func:`encode_floats` write non-finite
  values as ``{"__float__": "nan" | "inf" | "-inf"}``; :meth:`Reader.number`
  reads them back.

Nothing here knows a file format or an estimator: :mod:`gdlearn.persistence`
and :mod:`gdlearn.checkpoint` build on it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from typing import Any, NoReturn

import numpy as np

from ._version import __version__

_MAX_EXACT_INT = 2**53
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_CHECKSUM_RE = re.compile(r"sha256:[0-9a-f]{64}")


def canonical_json(obj: Any) -> bytes:
    """The canonical encoding hashed by checksums: sorted keys, no spaces, ASCII, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def checksum(doc: dict) -> str:
    """``"sha256:<hex>"`` of the canonical JSON of ``doc`` without its ``checksum`` field."""
    body = {k: v for k, v in doc.items() if k != "checksum"}
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()


def dump_document(doc: dict) -> bytes:
    """Serialise ``doc`` (checksum added) with one top-level field per line.

    Each value is encoded once, canonically; the same pieces, in sorted order,
    are exactly :func:`canonical_json` of the document, whose hash is the checksum.
    """
    parts = {
        k: json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
        for k, v in doc.items()
        if k != "checksum"
    }
    body = "{" + ",".join(f"{json.dumps(k)}:{parts[k]}" for k in sorted(parts)) + "}"
    parts["checksum"] = json.dumps("sha256:" + hashlib.sha256(body.encode("ascii")).hexdigest())
    lines = [f"{json.dumps(k)}: {v}" for k, v in parts.items()]
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode("ascii")


def _temp_prefix(path: str) -> str:
    return f".{os.path.basename(path)}."


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` by ``data`` so that a crash at any point leaves the old file or the new one.

    Writes a temporary file ``.<name>.<pid>.<random>.tmp`` in the same
    directory, flushes and fsyncs it, renames it over ``path`` with
    :func:`os.replace` (atomic on POSIX and Windows), then fsyncs the
    directory so that the rename itself survives a power loss.  Temporary
    files left by writers that were killed are removed on the next write.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    _remove_stale_temps(path, directory)
    fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), _file_mode(path))
            os.fsync(f.fileno())
        if not hasattr(os, "fchmod"):
            os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


_UMASK: int | None = None


def _file_mode(path: str) -> int:
    """The mode a plain ``open(path, "w")`` would give (mkstemp creates files 0600)."""
    global _UMASK
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        pass
    if _UMASK is None:
        try:  # Linux: read it without changing it (os.umask is process-wide, not thread-safe)
            with open("/proc/self/status") as f:
                _UMASK = next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
        except (OSError, StopIteration, ValueError, IndexError):
            _UMASK = os.umask(0o022)
            os.umask(_UMASK)
    return 0o666 & ~_UMASK


def _fsync_directory(directory: str) -> None:
    if os.name != "posix":  # Windows cannot open a directory; NTFS journals the rename
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temps(path: str, directory: str) -> None:
    """Delete temporary files of ``path`` whose writer process no longer exists (POSIX only)."""
    if os.name != "posix":
        return
    prefix = _temp_prefix(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid_text = name[len(prefix) :].split(".", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass
        except (PermissionError, OverflowError, OSError):
            continue


class _DuplicateKey(ValueError):
    pass


class _NonStandardConstant(ValueError):
    pass


def _object_pairs(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _reject_constant(name):
    raise _NonStandardConstant(name)


class Reader:
    """Strict, typed access to an untrusted JSON document; every failure names the file.

    Parameters
    ----------
    path : str
    error : type
        ``error(path, problem)`` is raised (:class:`gdlearn.persistence.ModelFileError`
        or :class:`gdlearn.checkpoint.CheckpointError`).
    """

    def __init__(self, path: str, error: type) -> None:
        self.path = path
        self.error = error

    def fail(self, problem: str) -> NoReturn:
        raise self.error(self.path, problem)

    # ----------------------------------------------------------- reading
    def read_document(self, *, fmt: str, max_version: int, max_size: int, other_formats: dict) -> dict:
        """Read, parse and authenticate the file: format, version and checksum checked."""
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_size:
                self.fail(f"the file is {size:,} bytes, more than the limit of {max_size:,} bytes")
            data = f.read(max_size + 1)
        if len(data) > max_size:
            self.fail(f"the file is more than the limit of {max_size:,} bytes")
        if not data.strip():
            self.fail("the file is empty (truncated by a crash?)")
        if data[:1] == b"\x80":
            self.fail("it looks like a Python pickle; gdlearn never loads pickles (they can run code)")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.fail(f"it is not UTF-8 text (byte {exc.start}): not a gdlearn {fmt} file, or corrupted")
        try:
            doc = json.loads(text, object_pairs_hook=_object_pairs, parse_constant=_reject_constant)
        except _DuplicateKey as exc:
            self.fail(f"the key {exc.args[0]!r} appears twice in one object")
        except _NonStandardConstant as exc:
            self.fail(f"it contains {exc.args[0]}, which JSON does not allow")
        except (ValueError, RecursionError) as exc:
            self.fail(f"it is not valid JSON ({exc}); the file is truncated or corrupted")
        if not isinstance(doc, dict):
            self.fail(f"expected a JSON object, found a JSON {_json_type(doc)}")
        found = doc.get("format")
        if found != fmt:
            if isinstance(found, str) and found in other_formats:
                self.fail(other_formats[found])
            self.fail(f"it is not a {fmt} file (format = {describe(found)}, expected {fmt!r})")
        version = doc.get("format_version")
        if not is_int(version) or version < 1:
            self.fail(f"format_version must be a positive integer, found {describe(version)}")
        if version > max_version:
            self.fail(
                f"it has format version {version}, written by a newer gdlearn; this gdlearn "
                f"({__version__}) reads versions up to {max_version}. Upgrade gdlearn to load it"
            )
        stored = doc.get("checksum")
        if not isinstance(stored, str) or not _CHECKSUM_RE.fullmatch(stored):
            self.fail(f"the checksum field is missing or malformed ({describe(stored)})")
        try:
            actual = checksum(doc)
        except (ValueError, TypeError, RecursionError, OverflowError):
            self.fail("its contents cannot be re-encoded to verify the checksum")
        if actual != stored:
            self.fail("checksum mismatch: the file was modified or corrupted after it was written")
        return doc

    # ------------------------------------------------------------ fields
    def fields(self, obj: dict, required: tuple, where: str, optional: tuple = ()) -> None:
        """Check that ``obj`` has exactly the ``required`` keys (plus any ``optional``)."""
        missing = [k for k in required if k not in obj]
        if missing:
            self.fail(f"{where} lacks the field(s) {', '.join(map(repr, missing))}")
        extra = [k for k in obj if k not in required and k not in optional]
        if extra:
            self.fail(f"{where} has unexpected field(s) {', '.join(map(repr, extra))}")

    def obj(self, value: Any, where: str) -> dict:
        if not isinstance(value, dict):
            self.fail(f"{where} must be a JSON object, found {describe(value)}")
        return value

    def items(self, value: Any, where: str, length: int | None = None) -> list:
        if not isinstance(value, list):
            self.fail(f"{where} must be a list, found {describe(value)}")
        if length is not None and len(value) != length:
            self.fail(f"{where} must have {length} entries, found {len(value)}")
        return value

    def text(self, value: Any, where: str, choices: tuple | None = None) -> str:
        if not isinstance(value, str):
            self.fail(f"{where} must be a string, found {describe(value)}")
        if choices is not None and value not in choices:
            self.fail(f"{where} must be one of {', '.join(map(repr, choices))}, found {describe(value)}")
        return value

    def flag(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            self.fail(f"{where} must be true or false, found {describe(value)}")
        return value

    def integer(
        self, value: Any, where: str, minimum: int | None = None, maximum: int | None = None, none_ok: bool = False
    ) -> int | None:
        if value is None and none_ok:
            return None
        if not is_int(value):
            self.fail(f"{where} must be an integer, found {describe(value)}")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.fail(f"{where} = {value} is out of range [{minimum}, {maximum}]")
        return value

    def number(self, value: Any, where: str, finite: bool = False, none_ok: bool = False) -> float | None:
        """A number, or ``{"__float__": "nan" | "inf" | "-inf"}`` unless ``finite``."""
        if value is None and none_ok:
            return None
        x = self._to_float(value)
        if x is None:
            self.fail(f"{where} must be a number, found {describe(value)}")
        if finite and not math.isfinite(x):
            self.fail(f"{where} must be finite, found {x}")
        return x

    def _to_float(self, value: Any) -> float | None:
        t = type(value)
        if t is float:
            return value
        if t is int:
            return float(value) if -_MAX_EXACT_INT <= value <= _MAX_EXACT_INT else None
        if t is dict and len(value) == 1:
            tag = value.get("__float__")
            if isinstance(tag, str) and tag in _NONFINITE:
                return _NONFINITE[tag]
        return None

    def array(self, value: Any, where: str, shape: tuple, finite: bool = False) -> np.ndarray:
        """A float64 array from nested lists of exactly ``shape`` (None: any length ≥ 1)."""
        flat: list = []
        self._flatten(value, shape, 0, where, flat, finite)
        out = np.array(flat, dtype=np.float64)
        dims = tuple(len(value) if d is None else d for d in shape[:1]) + tuple(shape[1:])
        return out.reshape(dims)

    def _flatten(self, value, shape, depth, where, out, finite) -> None:
        n = shape[depth]
        if not isinstance(value, list) or (n is not None and len(value) != n) or (n is None and not value):
            want = "a non-empty list" if n is None else f"a list of {n}"
            self.fail(f"{where} must be {want} at depth {depth} (shape {_fmt_shape(shape)}), found {describe(value)}")
        if depth + 1 < len(shape):
            for row in value:
                self._flatten(row, shape, depth + 1, where, out, finite)
            return
        if all(type(v) is float for v in value):
            if finite and not all(math.isfinite(v) for v in value):
                self.fail(f"{where} contains a non-finite value")
            out.extend(value)
            return
        for v in value:
            x = self._to_float(v)
            if x is None:
                self.fail(f"{where} must contain numbers, found {describe(v)}")
            if finite and not math.isfinite(x):
                self.fail(f"{where} contains {x}; coefficients must be finite")
            out.append(x)

    def floats(self, value: Any, where: str) -> list[float]:
        """A list of numbers (non-finite allowed, tagged)."""
        return [self.number(v, where) for v in self.items(value, where)]


def is_int(value) -> bool:
    return type(value) is int


def _json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def describe(value) -> str:
    """A short description of an untrusted JSON value, for error messages."""
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        keys = ", ".join(repr(k)[:30] for k in list(value)[:5])
        return f"an object with keys [{keys}{', ...' if len(value) > 5 else ''}]"
    text = repr(value) if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fmt_shape(shape) -> str:
    return "(" + ", ".join("n" if d is None else str(d) for d in shape) + ")"


def encode_float(x: float) -> float | dict:
    """A float as JSON: itself when finite, else ``{"__float__": "nan" | "inf" | "-inf"}``."""
    x = float(x)
    if math.isfinite(x):
        return x
    return {"__float__": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def encode_floats(values: Any) -> list:
    """An array-like of floats as (nested) JSON lists, non-finite values tagged as in :func:`encode_float`."""
    arr = np.asarray(values, dtype=np.float64)
    if np.all(np.isfinite(arr)):
        return arr.tolist()
    return _encode_nested(arr.tolist())


def _encode_nested(value: Any) -> Any:
    if isinstance(value, list):
        return [_encode_nested(v) for v in value]
    return encode_float(value)
