"""The picture-drawing subcommands of ``gdlearn``: ``sweep``, ``surface`` and ``explore``.

:func:`add_commands` registers them on the subparsers of :mod:`gdlearn.cli`.
Each handler returns an exit status; errors are raised as exceptions that
``gdlearn.cli.main`` prints as one line (``gdlearn: error: ...``, status 2).

``gdlearn sweep DATA``
    Fits plain gradient descent with several fixed learning rates α (by
    default 0.1/L … 3/L, L the Lipschitz constant of the gradient on the data
    as given), prints each run's final loss in a table, marking the runs that
    diverged, and with ``--plot DIR`` writes ``DIR/learning_rate_sweep.png``.
    ``--standardize`` standardises the features first (recommended for raw
    data such as ``housing``, whose condition number is about 10⁸).

``gdlearn surface MODEL DATA``
    Draws the loss J over two parameters (``--params w0,b``) as contour and
    3-D PNGs in ``--plot DIR``, J measured on all of DATA.  The path drawn is
    the path of the model shown, to its end: a model saved with its recorded
    path (``record_path=True``) is drawn with that path; otherwise a clone of
    the saved model is refitted on DATA with ``solver="gd"``,
    ``learning_rate="auto"``, ``precondition="auto"`` and ``record_path=True``
    until it converges, the
    picture is drawn around the refit, and the saved model is marked beside
    it when it sits elsewhere (it may have been trained on a split).  Both are
    said on standard error.  ``--no-path`` draws around the saved model
    without a path; ``--standardize`` draws in standardised coordinates (the
    saved parameters mapped to them); ``--learning-rates auto|A,B,...``
    overlays plain gradient descent on the drawn surface at those step sizes.

``gdlearn explore DATA``
    Writes one self-contained HTML page (``--out``, default ``explore.html``)
    to play with gradient descent on the loss surface of two parameters: see
    :func:`gdlearn.explorer.explore`.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from ._cli_data import CLIError, add_data_options, add_quiet, load_data, model_columns, need_matplotlib

__all__ = ["add_commands"]

MIN_GRID, MAX_GRID = 10, 1000  # as gdlearn.plotting.surface (tests/test_cli_plots.py checks)


def add_commands(subparsers) -> None:
    """Register the ``sweep``, ``surface`` and ``explore`` subcommands.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``parser.add_subparsers(dest="command")``; each subcommand sets
        ``func`` to its handler ``handler(args) -> int``.
    """
    s = subparsers.add_parser(
        "sweep",
        help="fit gradient descent with several learning rates and compare the loss curves",
        description="Fit plain gradient descent (solver='gd') with several fixed learning rates α on the data as "
        "given and print the final loss of each; runs with α above 2/L (L: Lipschitz constant of the gradient) "
        "diverge and are marked.",
        epilog="Examples: gdlearn sweep housing --standardize --plot plots | "
        "gdlearn sweep breast-cancer --standardize --learning-rates 0.1,1,5,10 --plot plots",
    )
    s.add_argument("data", metavar="DATA", help="'housing', 'breast-cancer', or a CSV file with a header row")
    add_data_options(s)
    s.add_argument(
        "--learning-rates",
        metavar="A,B,...",
        help="comma-separated learning rates (default: 0.1, 0.3, 1, 1.5, 1.9, 2.1, 3 times 1/L)",
    )
    s.add_argument("--max-iter", type=int, default=200, metavar="N", help="iterations per run (default 200)")
    s.add_argument("--l2", type=float, default=0.0, help="L2 penalty λ₂ (default 0)")
    s.add_argument("--standardize", action="store_true", help="standardise the features before the sweep")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--plot", metavar="DIR", help="write learning_rate_sweep.png to this directory")
    add_quiet(s)
    s.set_defaults(func=_cmd_sweep)

    f = subparsers.add_parser(
        "surface",
        help="draw the loss surface around a saved model, with a gradient-descent path",
        description="Draw the loss J over two parameters (a slice through the others, unless the model has only "
        "these two) as contour and 3-D pictures, with the path of gradient descent to its end: the model's recorded "
        "path, or a refit on DATA with solver='gd' to convergence, drawn around the refit (see docs/plotting.md).",
        epilog="Example: gdlearn surface model.safetensors housing --params LSTAT,b --learning-rates auto --plot plots",
    )
    f.add_argument("model", metavar="MODEL", help="a model file written by 'gdlearn train --out'")
    f.add_argument("data", metavar="DATA", help="'housing', 'breast-cancer', or a CSV file with the model's columns")
    f.add_argument(
        "--params",
        default="w0,b",
        metavar="P,Q",
        help="two parameters: w0 .. w{p-1}, a feature name, or b (default w0,b); w3[1], b[1] for several outputs",
    )
    add_data_options(f, task=False)  # the task is the saved model's
    grid_help = f"grid points per axis, {MIN_GRID}-{MAX_GRID} (default 60)"
    f.add_argument("--grid-size", type=int, default=60, metavar="N", help=grid_help)
    f.add_argument("--span", type=float, default=None, help="half-width of the grid around the saved values")
    f.add_argument("--no-path", action="store_true", help="draw around the saved model, without a descent path")
    f.add_argument(
        "--standardize", action="store_true", help="draw in standardised coordinates (features scaled on DATA)"
    )
    f.add_argument(
        "--learning-rates",
        metavar="auto|A,B,...",
        help="overlay gradient descent on the drawn surface at these step sizes ('auto': 0.5, 0.95, 1.1 times 2/L)",
    )
    f.add_argument("--plot", metavar="DIR", required=True, help="directory for the PNG files")
    add_quiet(f)
    f.set_defaults(func=_cmd_surface)

    e = subparsers.add_parser(
        "explore",
        help="write an interactive page: gradient descent on a loss surface, step by step, in the browser",
        description="Write one self-contained HTML page (works offline, no server) showing the loss surface of two "
        "parameters (exact for one feature and b, a labelled slice through the fitted model otherwise), with a slider "
        "for the step size α in units of 2/L, a choice of solver, a click to pick the start, and the descent replayed "
        "step by step beside its loss curve (see docs/explore.md).",
        epilog="Examples: gdlearn explore housing --features LSTAT --out explore.html | "
        "gdlearn explore housing --standardize --params RM,LSTAT --out rm-lstat.html",
    )
    e.add_argument("data", metavar="DATA", help="'housing', 'breast-cancer', or a CSV file with a header row")
    add_data_options(e)
    e.add_argument("--params", default="w0,b", metavar="P,Q", help="the two parameters (default w0,b)")
    e.add_argument("--l2", type=float, default=0.0, help="L2 penalty λ₂ (default 0)")
    e.add_argument("--standardize", action="store_true", help="standardise the features first")
    e.add_argument("--out", metavar="PAGE.html", default="explore.html", help="page to write (default explore.html)")
    add_quiet(e)
    e.set_defaults(func=_cmd_explore)


# ------------------------------------------------------------------ helpers
def _parse_rates(text: str | None):
    if text is None:
        return None
    try:
        rates = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise CLIError(
            f"--learning-rates: expected comma-separated numbers such as 0.01,0.1,1; got {text!r}."
        ) from None
    if not rates or any(not (r > 0) or r == float("inf") for r in rates):
        raise CLIError(f"--learning-rates: every learning rate must be a positive number; got {text!r}.")
    return rates


def _print(renderable) -> None:
    from rich.console import Console

    Console().print(renderable)


# -------------------------------------------------------------------- sweep
def _cmd_sweep(args) -> int:
    from .estimators import LinearRegression, LogisticRegression
    from .plotting import learning_rate_sweep, save_sweep_plot

    if args.max_iter < 1:
        raise CLIError(f"--max-iter must be at least 1, got {args.max_iter}.")
    rates = _parse_rates(args.learning_rates)
    if args.plot:
        need_matplotlib()
    data = load_data(
        args.data, target=args.target, task=args.task, features=args.features, drop=args.drop, quiet=args.quiet
    )
    X, y, task = data.X, data.y, data.task
    Model = LogisticRegression if task == "classification" else LinearRegression
    estimator = Model(l2=args.l2, random_state=args.seed)
    if args.standardize:
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        estimator = make_pipeline(StandardScaler(), estimator)
    sweep = learning_rate_sweep(estimator, X, y, rates, max_iter=args.max_iter)

    from rich.table import Table

    scaled = " (standardised features)" if args.standardize else ""
    table = Table(
        title=f"Learning-rate sweep: {Model.__name__} of {data.target!r} on {args.data}{scaled}",
        caption=f"L = {sweep.lipschitz:.6g}; gradient descent is stable "
        + ("exactly for" if sweep.quadratic else "(guaranteed) for")
        + f" α < 2/L = {sweep.max_stable_lr:.6g}",
    )
    table.add_column("learning rate α", justify="right")
    table.add_column("α·L", justify="right")
    table.add_column("outcome")
    table.add_column("iterations", justify="right")
    table.add_column("final loss J", justify="right")
    for run in sweep.runs:
        if run.diverged:
            outcome = "[bold red]DIVERGED[/]"
        elif run.converged:
            outcome = "[green]converged[/]"
        else:
            outcome = "max_iter reached"
        table.add_row(
            f"{run.learning_rate:.6g}",
            f"{run.learning_rate * sweep.lipschitz:.3g}",
            outcome,
            str(run.n_iter),
            f"{run.final_loss:.6g}",
        )
    _print(table)
    if args.plot:
        path = save_sweep_plot(sweep, args.plot)
        if not args.quiet:
            print(f"wrote {path}")
    return 0


# ------------------------------------------------------------------ surface
def _descent_path(model, X, y):
    """Refit a clone with solver='gd' to convergence, recording its path; return (refit or None, note)."""
    from sklearn.base import clone

    from .exceptions import ConvergenceWarning, DivergenceError

    refit = clone(model).set_params(
        solver="gd", learning_rate="auto", precondition="auto", record_path=True,
        max_iter=max(int(model.max_iter), 20000), batch_size=None, early_stopping=False, checkpoint=None,
        warm_start=False, verbose=0,
    )  # fmt: skip
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            refit.fit(X, y)
    except DivergenceError as err:
        return None, f"the refit with solver='gd' diverged, so no path is drawn ({' '.join(str(err).split())})"
    if hasattr(model, "feature_names_in_"):
        refit.feature_names_in_ = model.feature_names_in_
    status = "converged" if refit.converged_ else "stopped at max_iter before converging"
    steps = f"{refit.n_iter_} iteration{'s' if refit.n_iter_ != 1 else ''}"
    return refit, (
        f"descent path: the saved model has none, so a clone was refitted on all {len(y)} rows with solver='gd', "
        f"learning_rate='auto', precondition='auto' ({steps}, {status}); the picture is drawn around the refit"
    )


def _standardized_theta(theta, mean, scale):
    """θ of the same model on (X − mean)/scale: W·scale, b + meanᵀW."""
    W, b = theta[:-1], theta[-1]
    return np.vstack([W * scale[:, None], b + mean @ W])


def _cmd_surface(args) -> int:
    from sklearn.base import is_classifier

    from .persistence import load
    from .plotting import _resolve_params, save_surface_plots

    need_matplotlib()
    if not MIN_GRID <= args.grid_size <= MAX_GRID:
        raise CLIError(
            f"--grid-size must be from {MIN_GRID} to {MAX_GRID} (fewer points draw the grid rather than J), "
            f"got {args.grid_size}."
        )
    if args.span is not None and not args.span > 0:
        raise CLIError(f"--span must be positive, got {args.span}.")
    rates = args.learning_rates
    if rates is not None and rates.strip() != "auto":
        rates = _parse_rates(rates)
    elif rates is not None:
        rates = "auto"
    params = [p.strip() for p in args.params.split(",") if p.strip()]
    if len(params) != 2:
        raise CLIError(f"--params: give two parameter names separated by a comma, e.g. w0,b; got {args.params!r}.")
    model = load(args.model)
    _resolve_params(model, params)  # unknown names fail here, before the refit
    task = "classification" if is_classifier(model) else "regression"
    data = load_data(args.data, target=args.target, task=task, features=args.features, drop=args.drop, quiet=True)
    X, y = model_columns(model, data.X, data.names, args.data), data.y
    theta = model.theta_
    recorded = getattr(model, "path_", None)
    if args.standardize:
        mean, scale = X.mean(axis=0), X.std(axis=0)
        scale[scale == 0] = 1.0
        X = (X - mean) / scale
        theta = _standardized_theta(theta, mean, scale)
        if recorded is not None:
            steps = np.asarray(recorded, dtype=float)
            flat = steps.reshape(len(steps), -1, X.shape[1] + 1)
            recorded = np.stack([_standardized_theta(t.T, mean, scale).T for t in flat]).reshape(steps.shape)
    shown, path, points, note = model, False, None, None
    if recorded is not None and not args.no_path:
        path = recorded
        note = f"descent path: the model's own recorded path ({len(recorded) - 1} steps)"
    elif not args.no_path:
        refit, note = _descent_path(model, X, y)
        if refit is not None:
            shown, path = refit, True
            gap = float(np.max(np.abs(refit.theta_ - theta)))
            if gap > 1e-6 * (1.0 + float(np.max(np.abs(theta)))):
                points = {"saved model": theta}
                note += f"; the saved model (largest difference {gap:.3g}) is marked beside it"
            theta = None
    if note and not args.quiet:
        print(note, file=sys.stderr)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        files = save_surface_plots(
            shown, X, y, params, args.plot, path=path, grid_size=args.grid_size, span=args.span,
            learning_rates=rates, theta=theta, points=points,
        )  # fmt: skip
    if not args.quiet:
        for f in files:
            print(f"wrote {f}")
    return 0


# ------------------------------------------------------------------ explore
def _cmd_explore(args) -> int:
    from .estimators import LinearRegression, LogisticRegression
    from .explorer import explore

    if not args.l2 >= 0:
        raise CLIError(f"--l2 must be at least 0, got {args.l2}.")
    data = load_data(
        args.data, target=args.target, task=args.task, features=args.features, drop=args.drop, quiet=args.quiet
    )
    Model = LogisticRegression if data.task == "classification" else LinearRegression
    try:
        page = explore(
            data.X, data.y, args.params, args.out, estimator=Model(l2=args.l2), standardize=args.standardize,
            feature_names=data.names, title=f"{Model.__name__} of {data.target!r} on {args.data}",
        )  # fmt: skip
    except OSError as exc:
        raise CLIError(f"--out {args.out}: {exc.strerror or exc}") from None
    if not args.quiet:
        print(f"wrote {page} (open it in a browser; it works offline)")
    return 0
