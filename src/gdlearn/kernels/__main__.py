"""Compile gdlearn's kernel for every dtype and loss now: ``python -m gdlearn.kernels``.

Numba compiles the kernel the first time a process uses it on this machine
(about 5-10 s in all) and keeps the machine code in its on-disk cache, so
later processes start in about half a second.  Run this once after
installing (or in a container build) to pay that cost up front.
"""

from __future__ import annotations

import time

import numpy as np

from . import compiled


def warm_up() -> float:
    """Call every compiled function once per signature; returns the seconds it took."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        X = rng.standard_normal((64, 3)).astype(dtype)
        sw = rng.random(64)
        rows = np.arange(0, 64, 2)
        for k, loss in (
            (1, compiled.SQUARED),
            (1, compiled.LOGISTIC),
            (3, compiled.MULTINOMIAL),
            (2, compiled.SQUARED),
        ):
            Y = np.zeros((64, k))
            W, b = np.zeros((3, k)), np.zeros(k)
            for weights in (None, sw):
                compiled.loss_sums(X, Y, weights, W, b, loss)
                compiled.loss_sums(X, Y, weights, W, b, loss, rows=rows)
        compiled.loss_sums(X, None, sw, np.zeros((3, 1)), np.zeros(1), compiled.CURVATURE)
        compiled.column_moments(X, sw, np.ones(3))
        compiled.column_variance(X, sw, np.zeros(3), np.ones(3))
        compiled.max_row_norm(X, sw, np.zeros(3), np.ones(3))
    return time.perf_counter() - t0


if __name__ == "__main__":  # pragma: no cover - a command
    print(f"gdlearn kernel compiled (or loaded from Numba's cache) in {warm_up():.1f} s")
