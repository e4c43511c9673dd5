"""Mini-batches: which rows each optimizer step sees."""

from __future__ import annotations

import numpy as np

__all__ = ["batch_indices"]


def batch_indices(n: int, batch_size: int, epoch: int, seed: int, shuffle: bool = True):
    """Index arrays of the mini-batches of one epoch.

    The permutation depends only on (seed, epoch), so a run split over
    ``partial_fit`` calls, or resumed from a checkpoint, sees the same batches.
    """
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    return [order[s : s + batch_size] for s in range(0, n, batch_size)]
