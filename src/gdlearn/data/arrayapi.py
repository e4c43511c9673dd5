"""Training data of another array library (PyTorch, CuPy, …): X stays on its device.

:class:`ArrayAPISource` is an :class:`~gdlearn.data.source.ArraySource` whose X
is read by :mod:`gdlearn.kernels.arrayapi`.  The encoded targets and the
sample weights are kept twice: on the host, for the one-off passes of the
statistics (they are m numbers, read once), and on X's device, for the sums
of every iteration, so that each iteration sends only W and b (p × k + k
numbers) to the device and brings back the sums (as many).
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from ..kernels.arrayapi import to_device
from .source import ArraySource

__all__ = ["ArrayAPISource"]


class ArrayAPISource(ArraySource):
    """X of any array API library on its device, with targets and weights on both sides.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        float32 or float64, of any array API library (e.g. a PyTorch tensor on a GPU); never copied.
    Y : ndarray of shape (n_samples, n_outputs)
        Targets encoded for the loss (float64, host); a copy in X's dtype goes to X's device.
    sample_weight : ndarray of shape (n_samples,), optional
        On the host; a copy goes to X's device.
    """

    def __init__(self, X, Y: np.ndarray, sample_weight: np.ndarray | None = None) -> None:
        super().__init__(X, Y, sample_weight)
        self.n_samples, self.n_features = (int(d) for d in X.shape)
        self._Y = to_device(Y, X)
        self._sw = None if sample_weight is None else to_device(sample_weight, X)

    def loss_sums(self, loss, W, b, *, rows=None, need_grad: bool = True, hessian=None):
        return kernels.loss_sums(self.X, self._Y, self._sw, W, b, loss, rows=rows, need_grad=need_grad, hessian=hessian)

    def curvature_sums(self, W, b):
        return kernels.loss_sums(self.X, None, self._sw, W, b, None)[1:]

    def hessian_sums(self, loss, W, b, shift, inv):
        return kernels.hessian_sums(self.X, self._sw, W, b, loss, shift, inv)
