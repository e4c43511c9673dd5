"""Replacing a file atomically: a crash at any point leaves the old file or the new one, never a mixture.

Used for every file gdlearn writes: model files, checkpoints and the command
line's outputs (predictions).
"""

from __future__ import annotations

import os
import secrets

__all__ = ["atomic_write"]


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
    tmp = os.path.join(directory, f"{prefix}{os.getpid()}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open(path, "w")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if os.path.exists(path):  # an existing file keeps its permissions
                os.fchmod(f.fileno(), os.stat(path).st_mode & 0o777)
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
