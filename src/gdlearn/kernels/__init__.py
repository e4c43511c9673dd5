"""One reader of X: every pass over the data goes through this module.

A pass turns rows of X (with their targets Y and sample weights s) into the
few sums the rest of gdlearn needs:

=====================  ========================================================  ===================
function               returns                                                   used for
=====================  ========================================================  ===================
``loss_sums``          Σ sᵢℓᵢ, Xᵀr and Σr with r = s ⊙ (h(XW + b) − y)            J and ∇J, every step
``loss_sums(Y=None)``  Xᵀ(s ⊙ z), Σ s ⊙ z with z = XW + b                        the curvature bound
``column_moments``     max |xⱼ| and Σ sᵢxᵢⱼ                                      centring and scaling
``column_variance``    Σ sᵢ(xᵢⱼ − aⱼ)²                                           diagonal scaling
``gram``               Σ sᵢaᵢaᵢᵀ, aᵢ = [xᵢ − a, yᵢ − ȳ] (scaled)                  whitening; the squared
                                                                                 loss without X
``hessian_sums``       Σ sᵢ ∂²ℓᵢ/∂z² ⊗ aᵢaᵢᵀ, aᵢ = [xᵢ − a, 1] (scaled)           Newton's method
``max_row_norm``       max sᵢ‖xᵢ − a‖² (scaled)                                  mini-batch step sizes
=====================  ========================================================  ===================

Two implementations give the same numbers: the compiled one-pass kernel
(:mod:`gdlearn.kernels.compiled`, Numba, threaded) and the readable NumPy one
(:mod:`gdlearn.kernels.reference`).  :func:`use_compiled` picks the compiled
kernel for dense, C-ordered float32/float64 X of at least
:data:`COMPILED_MIN_BYTES` (8 MiB; below that X sits in cache, NumPy's BLAS
calls are about as fast, and a fit need not pay Numba's start-up of about half
a second), and for mini-batches of X from 1 MiB (a batch of 32 rows costs
NumPy 10-15 µs of call overhead, the compiled kernel 2-3 µs); everything else
(sparse X, other layouts, custom losses) takes the NumPy path.  Arrays of other
libraries (PyTorch, CuPy, …) are read where they live by
:mod:`gdlearn.kernels.arrayapi`, written against the array API standard; host
arrays handed with them (targets, weights) are sent to their device.  The Gram matrix is
always formed by BLAS on centred blocks.  Set ``GDLEARN_KERNEL`` to
``"reference"`` or ``"compiled"`` to force one path (benchmarks, tests).

Every full pass is counted (:func:`count_passes`), so tests can check how
often a fit reads X.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager

import numpy as np

from . import arrayapi, reference

__all__ = [
    "COMPILED_MIN_BYTES",
    "use_compiled",
    "count_passes",
    "loss_sums",
    "column_moments",
    "column_variance",
    "gram",
    "hessian_sums",
    "max_row_norm",
    "scores",
]

#: X of at least this many bytes is read by the compiled kernel (BENCHMARKS.md, "kernel crossover");
#: mini-batches (``rows=``) from X of at least :data:`COMPILED_MIN_BYTES_BATCHES`.
COMPILED_MIN_BYTES = 8 << 20
COMPILED_MIN_BYTES_BATCHES = 1 << 20

_compiled_module = None
_compiled_failed = False


def _load_compiled():
    global _compiled_module, _compiled_failed
    if _compiled_module is None and not _compiled_failed:
        try:
            from . import compiled
        except ImportError as exc:  # a broken or partial install: stay correct, say why it is slow
            _compiled_failed = True
            warnings.warn(
                f"gdlearn's compiled kernel is unavailable ({exc}); using the NumPy kernel. "
                "Reinstall gdlearn with its dependencies (pip install --force-reinstall gdlearn numba).",
                stacklevel=3,
            )
        else:
            _compiled_module = compiled
    return _compiled_module


def use_compiled(X, loss=None, *, batches: bool = False) -> bool:
    """True when the compiled kernel will read X (for this loss; for mini-batches of it)."""
    mode = os.environ.get("GDLEARN_KERNEL", "auto")
    if mode == "reference":
        return False
    if not (isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype in (np.float32, np.float64)):
        return False
    if not X.flags.c_contiguous or (loss is not None and getattr(loss, "kernel_id", None) is None):
        return False
    if mode != "compiled" and X.nbytes < (COMPILED_MIN_BYTES_BATCHES if batches else COMPILED_MIN_BYTES):
        return False
    return _load_compiled() is not None


class PassCounter:
    """How many full passes over X were made (see :func:`count_passes`)."""

    def __init__(self) -> None:
        self.passes = 0
        self.by_kind: dict[str, int] = {}


_counters: list[PassCounter] = []


@contextmanager
def count_passes():
    """Count the full passes over X made inside the ``with`` block.

    >>> with count_passes() as counter:            # doctest: +SKIP
    ...     LinearRegression().fit(X, y)
    >>> counter.passes                              # doctest: +SKIP
    2
    """
    counter = PassCounter()
    _counters.append(counter)
    try:
        yield counter
    finally:
        _counters.remove(counter)


def _count(kind: str) -> None:
    for c in _counters:
        c.passes += 1
        c.by_kind[kind] = c.by_kind.get(kind, 0) + 1


def _on(a, X):
    """A host array ``a`` (targets, weights) on the device of the foreign array X; None stays None."""
    return a if a is None or not isinstance(a, np.ndarray) else arrayapi.to_device(a, X)


def loss_sums(X, Y, sw, W, b, loss, *, rows=None, need_grad: bool = True, hessian=None):
    """(Σ sᵢℓᵢ, Xᵀr of shape (p, k), Σr of shape (k,)), r = s ⊙ (h(XW + b) − y).

    With ``Y=None`` the loss is taken as zero and r = s ⊙ z: the product
    [X 1]ᵀS[X 1]θ behind the curvature bound.  ``rows`` restricts the pass to a
    mini-batch (not counted as a pass over X).  ``hessian=(shift, inv)`` adds
    :func:`hessian_sums` from the same pass, as a fourth item.
    """
    if rows is None:
        _count("loss" if Y is not None else "curvature")
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if arrayapi.is_foreign(X):
        kind = getattr(loss, "kernel_id", None)  # (no loss: the curvature pass)
        out = arrayapi.loss_sums(X, _on(Y, X), _on(sw, X), W, b, kind, rows=rows, need_grad=need_grad)
        return out if hessian is None else (*out, arrayapi.hessian_sums(X, _on(sw, X), W, b, kind, *hessian))
    if hessian is None and use_compiled(X, loss, batches=rows is not None):
        from .compiled import CURVATURE

        kind = CURVATURE if Y is None else loss.kernel_id
        return _compiled_module.loss_sums(X, Y, sw, W, b, kind, rows=rows, need_grad=need_grad)
    return reference.loss_sums(X, Y, sw, W, b, loss, rows=rows, need_grad=need_grad, hessian=hessian)


def column_moments(X, sw, inv):
    """(max |x| of each column, Σ sᵢxᵢⱼ·invⱼ): one pass."""
    _count("moments")
    if arrayapi.is_foreign(X):
        return arrayapi.column_moments(X, _on(sw, X), inv)
    if use_compiled(X):
        return _compiled_module.column_moments(X, sw, inv)
    return reference.column_moments(X, sw, inv)


def column_variance(X, sw, shift, inv):
    """Σ sᵢ((xᵢⱼ − shiftⱼ)·invⱼ)² of each column: one pass."""
    _count("variance")
    if arrayapi.is_foreign(X):
        return arrayapi.column_variance(X, _on(sw, X), shift, inv)
    if use_compiled(X):
        return _compiled_module.column_variance(X, sw, shift, inv)
    return reference.column_variance(X, sw, shift, inv)


def gram(X, Y, sw, shift, inv, y_shift=None, y_inv=None):
    """Σ sᵢaᵢaᵢᵀ with aᵢ = [(xᵢ − shift)·inv, (yᵢ − y_shift)·y_inv]: one pass (dense X)."""
    _count("gram")
    if arrayapi.is_foreign(X):
        return arrayapi.gram(X, _on(Y, X), _on(sw, X), shift, inv, y_shift, y_inv)
    return reference.gram(X, Y, sw, shift, inv, y_shift, y_inv)


def hessian_sums(X, sw, W, b, loss, shift, inv):
    """Σ sᵢ ∂²ℓᵢ/∂zₖ∂zₗ · aᵢaᵢᵀ, aᵢ = [(xᵢ − shift)·inv, 1], shape (k, k, p + 1, p + 1): one pass (BLAS)."""
    _count("hessian")
    if arrayapi.is_foreign(X):
        return arrayapi.hessian_sums(X, _on(sw, X), W, b, loss.kernel_id, shift, inv)
    return reference.hessian_sums(
        X, sw, np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64), loss, shift, inv
    )


def max_row_norm(X, sw, shift, inv) -> float:
    """max over rows of sᵢ‖(xᵢ − shift)·inv‖²: one pass."""
    _count("row_norms")
    if arrayapi.is_foreign(X):
        return arrayapi.max_row_norm(X, _on(sw, X), shift, inv)
    if use_compiled(X):
        return _compiled_module.max_row_norm(X, sw, shift, inv)
    return reference.max_row_norm(X, sw, shift, inv)


def scores(X, W, b) -> np.ndarray:
    """z = XW + b of shape (n_samples, k) in float64, computed in row blocks (no float64 copy of X).

    For X of another array library: z in X's namespace, dtype and device.
    """
    W = np.asarray(W, dtype=np.float64)
    if arrayapi.is_foreign(X):
        return arrayapi.scores(X, W, b)
    if X.shape[0] * X.shape[1] <= (1 << 16) or (isinstance(X, np.ndarray) and X.dtype == np.float64):
        return np.asarray(X @ W) + b
    out = np.empty((X.shape[0], W.shape[1]))
    for blk in reference.row_blocks(X.shape[0], X.shape[1]):
        out[blk] = np.asarray(X[blk] @ W)
    out += b
    return out
