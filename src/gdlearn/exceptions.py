"""Warnings and errors raised by gdlearn."""

from __future__ import annotations

from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

__all__ = ["ConvergenceWarning", "PerfectSeparationWarning", "DivergenceError", "FitInterrupted"]


class ConvergenceWarning(_SklearnConvergenceWarning):
    """The solver stopped (``max_iter``) before the gradient norm reached ``tol``.

    A subclass of scikit-learn's ``ConvergenceWarning``, so filters written for
    scikit-learn apply to gdlearn too.
    """


class PerfectSeparationWarning(ConvergenceWarning):
    """The classes are perfectly separable in the training data and there is no penalty.

    The unpenalised log loss then has no minimiser: it tends to 0 as ‖W‖ → ∞
    along any separating direction, so the solver stops (at ``tol`` or
    ``max_iter``) with large, finite coefficients whose size reflects only when
    it stopped.  Set ``l2 > 0`` for a finite optimum.
    """


class DivergenceError(ArithmeticError):
    """The loss grew without bound (or stopped being finite) during a fit.

    Attributes
    ----------
    iteration : int
        Iteration at which divergence was detected.
    loss : float
        The objective at that iteration (may be inf or nan).
    learning_rate : float or None
        The step size in use.
    max_stable_learning_rate : float or None
        2/L for plain gradient descent (L: Lipschitz constant of the gradient).
    history : dict of lists or None
        ``"loss"`` and ``"grad_norm"`` up to the iteration of divergence, in
        the user's units, for plotting what happened.
    path : ndarray or None
        With ``record_path=True``: the parameters [W, b] after each iteration
        up to the one that diverged, in the user's units, laid out as
        ``path_`` (the model itself is left as it was before the failed fit),
        for drawing the run that flew off.
    """

    def __init__(
        self,
        message,
        *,
        iteration=None,
        loss=None,
        learning_rate=None,
        max_stable_learning_rate=None,
        history=None,
        path=None,
    ):
        super().__init__(message)
        self.history = history
        self.path = path
        self.iteration = iteration
        self.loss = loss
        self.learning_rate = learning_rate
        self.max_stable_learning_rate = max_stable_learning_rate


class FitInterrupted(KeyboardInterrupt):
    """A fit was interrupted (Ctrl-C); ``checkpoint`` names the file saved, if any."""

    def __init__(self, message, *, checkpoint=None, iteration=None):
        super().__init__(message)
        self.checkpoint = checkpoint
        self.iteration = iteration
