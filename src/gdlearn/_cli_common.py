"""Pieces shared by the training commands, in memory (:mod:`gdlearn.cli`) and streamed (:mod:`gdlearn._cli_stream`).

The estimator built from the command-line options, the progress bar and the results table.
"""

from __future__ import annotations

import time

__all__ = ["make_model", "progress_bar", "print_table"]


def make_model(args, task: str):
    """The estimator that ``gdlearn train``'s options describe, for a ``"regression"`` or a classification task."""
    from .estimators import LinearRegression, LogisticRegression

    lr = args.learning_rate
    try:
        lr = float(lr)
    except ValueError:
        pass
    params = dict(
        solver=args.solver,
        learning_rate=lr,
        max_iter=args.max_iter,
        tol=args.tol,
        l2=args.l2,
        l1=args.l1,
        batch_size=args.batch_size,
        early_stopping=args.early_stopping,
        random_state=args.seed,
    )
    if args.standardize:  # solve in standardised coordinates, whatever the step; the model stays in the data's units
        params["precondition"] = "diagonal"  # the descent of gd on StandardScaler-ed features, as sweep runs
    return LinearRegression(**params) if task == "regression" else LogisticRegression(**params)


def progress_bar(quiet: bool, max_iter: int, rows: int | None = None, passes=None):
    """A rich progress bar on stderr: iteration, loss, gradient norm (streaming: ``passes()`` over ``rows`` rows)."""
    if quiet:
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("‖∇J‖ {task.fields[grad]}"),
        *([TextColumn("{task.fields[speed]}")] if rows else []),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task_id = progress.add_task("fit", total=max_iter, loss="-", grad="-", speed="")
    start = time.perf_counter()

    def callback(info):
        speed = ""
        if rows:  # the passes over the data so far (one per iteration or epoch if not counted by the source)
            done = passes() if passes is not None else info.iteration
            speed = f"passes {done}, {rows * done / (time.perf_counter() - start):,.0f} rows/s"
        progress.update(
            task_id, completed=info.iteration, loss=f"{info.loss:.6g}", grad=f"{info.grad_norm:.2e}", speed=speed
        )

    return progress, callback


def print_table(title, rows):
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in rows:
        table.add_row(k, v)
    Console().print(table)
