"""Parameter and attribute documentation shared by the estimators' docstrings."""

__all__ = ["COMMON_PARAMS_DOC", "COMMON_ATTRS_DOC"]

COMMON_PARAMS_DOC = """
    Parameters
    ----------
    solver : {"auto", "gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "fista", "lbfgs"}, default="auto"
        The optimizer.  ``"gd"`` is the tutorial's update W ← W − α dW,
        b ← b − α db.  ``"auto"`` picks L-BFGS for full-batch fits, FISTA with
        an L1 penalty, and ``"gd"`` when ``learning_rate`` is a number or a
        schedule or ``batch_size`` is set.  See ``docs/optimizers.md``.
    learning_rate : float, "auto", "backtracking" or Schedule, default="auto"
        The step size α.  ``"auto"`` is 1/L, L the Lipschitz constant of the
        gradient (estimated by power iteration), so gradient descent cannot
        diverge; ``"backtracking"`` is an Armijo line search; a
        :mod:`gdlearn.schedules` object varies α with the step count.  A fixed
        α above 2/L makes gradient descent diverge, and ``fit`` raises
        :class:`~gdlearn.DivergenceError` saying so.
    max_iter : int, default=1000
        Maximum number of iterations (epochs with mini-batches).
    tol : float, default=1e-4
        Stop when the norm of the gradient (with L1, of the minimum-norm
        subgradient) falls to ``tol``; measured in the solver's unit-free
        coordinates when preconditioning.
    fit_intercept : bool, default=True
        Learn the bias b.  It is never penalised.
    l2 : float, default=0.0
        λ₂ of the penalty λ₂/(2m)‖W‖² (``Ridge(alpha=l2)``, ``C = 1/l2``).
    l1 : float, default=0.0
        λ₁ of the penalty λ₁/m‖W‖₁, applied by soft-thresholding (exact zeros).
    batch_size : int or None, default=None
        None: full-batch gradient descent, as in the tutorial.  An integer:
        mini-batch descent with a fresh seeded shuffle each epoch; 1 is SGD.
    shuffle : bool, default=True
        Shuffle the samples each epoch (mini-batches only).
    average : "auto" or bool, default="auto"
        Stochastic runs (``batch_size`` set, or ``partial_fit``): the model is
        the polynomial-decay average of the iterates after the first epoch
        (:mod:`gdlearn.optim.averaging`; scikit-learn's ``average=True``), while
        each step keeps its constant α.  "auto": average when gdlearn chose α
        (``learning_rate="auto"``) and ``l1 == 0`` (an average of sparse
        iterates is not sparse); a number α you set runs the tutorial's
        update unchanged.  True: average any stochastic run.  Full-batch fits
        never average (``average=True`` with ``batch_size=None`` is refused by ``fit``).
    momentum : float, default=0.9
        β for ``solver="momentum"`` and ``"nesterov"``.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates.
    epsilon : float, default=1e-8
        ε of the adaptive methods.
    rho : float, default=0.9
        γ, RMSProp's decay rate.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (0.1 if None), stop when
        the validation objective has not improved for ``n_iter_no_change``
        iterations and restore the best parameters.
    validation_fraction : float or None, default=None
        Fraction held out to record validation loss and score in ``history_``.
    n_iter_no_change : int, default=10
        Patience of early stopping and of the mini-batch stopping rule.
    warm_start : bool, default=False
        Start ``fit`` from the previous solution.
    precondition : "auto", bool, "diagonal" or "dense", default="auto"
        Solve in better-conditioned coordinates (the answer is unchanged; see
        :mod:`gdlearn.preconditioning`): "dense" whitens correlated features
        with the Gram matrix of X, "diagonal" standardises each column.
        "auto": dense for full-batch fits on dense X with at most 512 features
        and no L1 penalty, diagonal otherwise, and none when ``learning_rate``
        fixes α (a number, or a schedule with a numeric ``lr``), so that α keeps
        the tutorial's meaning on the data as given.  True: "auto" even with a
        fixed α.  False: the data's own coordinates.
    record_path : bool, default=False
        Record the parameters after every iteration in ``path_``.
    checkpoint : str or path-like, default=None
        File to save the training state to (see ``docs/reliability.md``).
    checkpoint_every : int, default=100
        Iterations between checkpoints.
    checkpoint_seconds : float or None, default=None
        Also checkpoint when this many seconds have passed since the last one.
    random_state : int, RandomState or None, default=None
        Seeds shuffling, the validation split and the power iteration; the
        same data and seed give bit-identical results.
    verbose : int, default=0
        Print progress (1: every tenth of ``max_iter``, 2: every iteration).
"""

COMMON_ATTRS_DOC = """
    Attributes
    ----------
    n_iter_ : int
        Iterations (epochs) run.
    converged_ : bool
        True if a stopping rule other than ``max_iter`` ended the fit.
    loss_curve_ : list of float
        J (penalties included) after k iterations, k = 0 .. n_iter_; the first
        entry is the starting loss.
    history_ : dict of lists
        ``"loss"``, ``"grad_norm"``, and with validation ``"val_loss"``,
        ``"val_score"``, ``"score"``, one entry per iteration from k = 0.
    path_ : ndarray of shape (n_iter_ + 1, n_features + 1)
        With ``record_path=True``: [W, b] after each iteration, in the user's
        units ((n_iter_ + 1, n_outputs, n_features + 1) for several outputs).
    solver_ : str
        The solver that ran (``"auto"`` resolved).
    learning_rate_ : float or None
        The initial step size α used (None for L-BFGS and line searches).
    lipschitz_ : float or None
        The Lipschitz constant L, when it was needed (solver coordinates).
    stop_reason_ : str
    best_iteration_ : int or None
        With early stopping, the iteration whose parameters were restored.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X is a DataFrame with string column names.
"""
