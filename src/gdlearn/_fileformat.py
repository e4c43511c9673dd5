"""The one container of gdlearn's files, models and checkpoints: named arrays and a small JSON header.

A file is a `safetensors <https://github.com/huggingface/safetensors>`_ file
(an 8-byte header length, a JSON header, then the raw little-endian bytes of
each array) whose metadata holds one string, ``"gdlearn"``: our header, as
canonical JSON (sorted keys, ASCII, finite numbers): ``format``,
``format_version``, ``gdlearn_version``, what the format adds (the
estimator's class and parameters, what the arrays mean) and ``sha256``, the
SHA-256 of the rest of the header (canonical) and of every array (name,
dtype, shape, bytes) in name order.  The same state gives the same bytes, and
a header text that is not exactly the canonical encoding of what it says is
refused, so every edit, down to a single flipped bit, is detected.

Every number that is state (coefficients, loss curves, optimizer moments,
counters) is an array, written and read bit for bit; the header holds
settings, names and flags.  :func:`read` refuses, with ``error(path, problem)``:
an oversized file (before reading it), a pickle, a truncated, corrupted or
edited file (the parser's checks, then the digest), another format and a newer
version.  Nothing is executed on load: the bytes are parsed by safetensors
(Rust, fuzzed) and JSON, never unpickled or imported.

:func:`flatten` and :func:`unflatten` turn nested state (dicts of arrays and
numbers, as ``optimizer.init`` makes them) into ``"a/b/c"``-named arrays and
back, checking every name, dtype and shape against a template.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from typing import NoReturn

import numpy as np

from ._version import __version__

__all__ = ["FileError", "write", "read", "atomic_write", "flatten", "unflatten", "digest"]


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


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` by ``data`` so that a crash at any point leaves the old file or the new one.

    A symbolic link is followed: its target is replaced, the link stays.  The
    bytes go to a temporary file ``.<name>.<pid>.<random>.tmp`` in the target's
    directory, which is flushed, fsynced and renamed over the target
    (:func:`os.replace`, atomic on POSIX and Windows); then the directory is
    fsynced so that the rename survives a power loss.  The new file gets the
    old one's permissions (or those ``open`` would give).  Temporary files
    left by killed writers are removed on the next write.
    """
    path = os.path.realpath(os.fspath(path))
    directory = os.path.dirname(path)
    prefix = f".{os.path.basename(path)}."
    _remove_stale_temps(prefix, directory)
    fd, tmp = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), _file_mode(path))
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _file_mode(path: str) -> int:
    """The existing file's mode, or the one a plain ``open(path, "w")`` would give (mkstemp makes 0600)."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        pass
    try:  # Linux: read the umask without changing it (os.umask is process-wide)
        with open("/proc/self/status") as f:
            umask = next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def _remove_stale_temps(prefix: str, directory: str) -> None:
    """Delete temporary files ``prefix<pid>.*.tmp`` whose writer process no longer exists."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        pid = name[len(prefix) :].split(".", 1)[0]
        if not (name.startswith(prefix) and name.endswith(".tmp") and pid.isdigit()) or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass
        except (OSError, OverflowError):
            continue


# ================================================================= reading
def _strict_json(text):
    def pairs(items):
        out = dict(items)
        if len(out) != len(items):
            raise ValueError("a key appears twice in one object")
        return out

    def constant(name):
        raise ValueError(f"{name} is not JSON")

    def finite(literal):  # 1e999 would read as infinity
        value = float(literal)
        if not math.isfinite(value):
            raise ValueError(f"{literal} is beyond double precision")
        return value

    return json.loads(text, object_pairs_hook=pairs, parse_constant=constant, parse_float=finite)


def read(
    path: str | os.PathLike,
    error: type[FileError],
    *,
    formats: dict[str, int],
    max_size: int,
    others: dict[str, str] | None = None,
    legacy: str = "",
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
        meta = _strict_json(data[8 : 8 + size].decode("ascii")).get("__metadata__")
        if not isinstance(meta, dict) or set(meta) != {"gdlearn"}:
            fail("it is not a gdlearn file (its header has no gdlearn metadata)")
        from safetensors.numpy import load

        arrays = load(data)
        header = _strict_json(meta["gdlearn"])
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
    return header, arrays


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
        name = f"{prefix}/{key}"
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
    found = {k for k in arrays if k.startswith(prefix + "/")}
    if found != set(names):
        fail(f"{prefix} does not match this fit's state (arrays {sorted(found)}, expected {sorted(names)})")
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
            return {k: build(v, f"{name}/{k}") for k, v in node.items()}
        a = arrays[name]
        if isinstance(node, np.ndarray):
            return a.copy()
        return type(node)(a.item()) if isinstance(node, (bool, int, float)) else a[()]

    return build(template, prefix)
