"""The picture-drawing subcommands of ``gdlearn``: ``sweep`` and ``surface``.

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
    Draws the loss J over two parameters (``--params w0,b``) around a model
    saved by ``gdlearn train --out``, with every other parameter held at the
    saved value, as contour and 3-D PNGs in ``--plot DIR``.  J is measured on
    all of DATA.  The descent path comes from a refit: a clone of the saved
    model with ``solver="gd"``, ``record_path=True`` and otherwise the same
    settings (learning rate, penalties, ``max_iter``, ``tol``) is fitted on
    DATA from the usual start (W = 0, b = the best constant), and its recorded
    parameters are drawn.  The path therefore ends near, but not always
    exactly at, the saved parameters (the saved model may have been trained
    by another solver or on a training split).  ``--no-path`` skips the refit.
"""

from __future__ import annotations

import sys
import warnings

from ._cli_data import CLIError, add_data_options, add_quiet, load_data, model_columns, need_matplotlib

__all__ = ["add_commands"]


def add_commands(subparsers) -> None:
    """Register the ``sweep`` and ``surface`` subcommands.

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
        description="Draw the loss J over two parameters of a saved model (all others held at their saved values) "
        "as contour and 3-D pictures, with the path of gradient descent from a refit of the model with "
        "solver='gd' (see docs/plotting.md).",
        epilog="Example: gdlearn surface model.safetensors housing --params LSTAT,b --plot plots",
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
    f.add_argument("--grid-size", type=int, default=60, metavar="N", help="grid points per parameter (default 60)")
    f.add_argument("--span", type=float, default=None, help="half-width of the grid around the saved values")
    f.add_argument("--no-path", action="store_true", help="do not refit to draw the descent path")
    f.add_argument("--plot", metavar="DIR", required=True, help="directory for the PNG files")
    add_quiet(f)
    f.set_defaults(func=_cmd_surface)


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
    """Refit a clone with solver='gd' and record_path=True; return (path, note)."""
    from sklearn.base import clone

    from .exceptions import ConvergenceWarning, DivergenceError

    refit = clone(model).set_params(solver="gd", record_path=True, checkpoint=None, warm_start=False, verbose=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            refit.fit(X, y)
    except DivergenceError as err:
        return None, f"the refit with solver='gd' diverged, so no path is drawn ({' '.join(str(err).split())})"
    status = "converged" if refit.converged_ else "stopped at max_iter"
    return refit.path_, f"descent path: refit with solver='gd', {refit.n_iter_} iterations ({status})"


def _cmd_surface(args) -> int:
    from sklearn.base import is_classifier

    from .persistence import load
    from .plotting import _resolve_params, save_surface_plots

    need_matplotlib()
    from .plotting.surface import MAX_GRID_SIZE

    if not 2 <= args.grid_size <= MAX_GRID_SIZE:
        raise CLIError(f"--grid-size must be from 2 to {MAX_GRID_SIZE}, got {args.grid_size}.")
    if args.span is not None and not args.span > 0:
        raise CLIError(f"--span must be positive, got {args.span}.")
    params = [p.strip() for p in args.params.split(",") if p.strip()]
    if len(params) != 2:
        raise CLIError(f"--params: give two parameter names separated by a comma, e.g. w0,b; got {args.params!r}.")
    model = load(args.model)
    _resolve_params(model, params)  # unknown names fail here, before the refit
    task = "classification" if is_classifier(model) else "regression"
    data = load_data(args.data, target=args.target, task=task, features=args.features, drop=args.drop, quiet=True)
    X, y = model_columns(model, data.X, data.names, args.data), data.y
    path = False
    if not args.no_path:
        path, note = _descent_path(model, X, y)
        if not args.quiet:
            print(note, file=sys.stderr)
        if path is None:
            path = False
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        files = save_surface_plots(model, X, y, params, args.plot, path=path, grid_size=args.grid_size, span=args.span)
    if not args.quiet:
        for f in files:
            print(f"wrote {f}")
    return 0
