"""An overflow-safe Euclidean norm."""

from __future__ import annotations

import numpy as np


def vector_norm(v: np.ndarray) -> float:
    """‖v‖₂ of all entries, finite whenever the entries are and the norm itself is representable.

    ``np.linalg.norm`` squares the entries, so entries above about 1e154
    overflow; this rescales by the largest entry when that happens (the common
    case costs one ``np.linalg.norm``).
    """
    v = np.asarray(v, dtype=np.float64).ravel()
    with np.errstate(over="ignore"):
        n = float(np.linalg.norm(v))
    if np.isfinite(n) or not np.all(np.isfinite(v)):
        return n
    top = float(np.max(np.abs(v)))
    with np.errstate(over="ignore"):
        return top * float(np.linalg.norm(v / top))
