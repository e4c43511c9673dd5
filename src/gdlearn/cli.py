"""The ``gdlearn`` command: train, predict, and watch gradient descent learn.

Examples
--------
::

    gdlearn train housing
    gdlearn train breast-cancer --solver gd --learning-rate 0.1
    gdlearn train prices.csv --target price --out model.json
    gdlearn predict model.json new_prices.csv --out predictions.csv

Errors are printed as one line (``gdlearn: error: ...``) with exit status 2;
an interrupted training (Ctrl-C) saves a checkpoint, says how to resume and
exits with status 130.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import shlex
import sys
import warnings

import numpy as np

from ._cli_common import make_model, print_table, progress_bar
from ._cli_data import CLIError, add_data_options, add_quiet, load_data, model_columns, need_matplotlib
from ._version import __version__

__all__ = ["main", "load_data", "build_parser", "CLIError"]


# ------------------------------------------------------------------- train
def _metrics(model, task, X_tr, y_tr, X_te, y_te):
    from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score

    rows = []

    def loss_of(X, y):
        return float(model.get_objective(X, y).value(model.theta_))

    rows.append(("train loss J", f"{loss_of(X_tr, y_tr):.6g}"))
    if X_te is not None:
        rows.append(("test loss J", f"{loss_of(X_te, y_te):.6g}"))
        if task == "regression":
            pred = model.predict(X_te)
            rows.append(("test R²", f"{r2_score(y_te, pred):.4f}"))
            rows.append(("test RMSE", f"{np.sqrt(mean_squared_error(y_te, pred)):.6g}"))
        else:
            rows.append(("test accuracy", f"{accuracy_score(y_te, model.predict(X_te)):.4f}"))
            rows.append(("test log loss", f"{log_loss(y_te, model.predict_proba(X_te), labels=model.classes_):.6g}"))
    rows.append(("iterations", str(model.n_iter_)))
    stop = model.stop_reason_ if model.stop_reason_ != "max_iter" else f"max_iter={model.max_iter} reached"
    rows.append(("converged", f"yes: {stop}" if model.converged_ else f"no: {stop}"))
    if model.best_iteration_ is not None:
        rows.append(("best iteration", f"{model.best_iteration_} (its parameters are the model's)"))
    rows.append(("solver", model.solver_))
    session = getattr(model, "_session", None)
    where = " in standardised coordinates" if session is not None and session.coords is not None else ""
    alpha = "by line search" if model.learning_rate_ is None else f"{model.learning_rate_:.6g}"
    rows.append(("learning rate α", alpha + (f" ({where.strip()})" if where else "")))
    if not model.converged_:
        rows.append(("to try", _advice(model)))
    return rows


def _advice(model) -> str:
    """What to try after a run that stopped at max_iter, naming only settings not in use."""
    tips = [f"--max-iter {2 * model.max_iter}"]
    if model.solver_ not in ("lbfgs", "newton") and model.solver != "auto":
        tips.append("--solver auto (L-BFGS or Newton: far fewer iterations)")
    elif model.solver_ not in ("lbfgs", "newton") and model.learning_rate != "auto" and model.batch_size is None:
        tips.append("--learning-rate auto (the automatic solver then picks L-BFGS or Newton)")
    if model.batch_size is not None:
        tips.append("a larger --batch-size")
    return ", or ".join(tips)


def _cmd_train(args) -> int:
    from sklearn.model_selection import train_test_split

    from ._cli_stream import train_streamed, wants_streaming
    from .exceptions import ConvergenceWarning

    if wants_streaming(args):  # a file larger than --stream-above, --stream or --dask: the data stays on disk
        return train_streamed(args)
    if args.plot:  # fail before training, not after, when the plotting extra is missing
        need_matplotlib()
    data = load_data(
        args.data, target=args.target, task=args.task, features=args.features, drop=args.drop, quiet=args.quiet
    )
    X, y, names, task = data.X, data.y, data.names, data.task
    if args.out:
        folder = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(folder):
            raise CLIError(f"--out {args.out}: the directory {folder!r} does not exist; create it or name another.")
    if not 0 <= args.test_size < 1:
        raise CLIError(f"--test-size must be in [0, 1), got {args.test_size}.")
    if args.test_size > 0:
        n_test = math.ceil(args.test_size * len(y))  # as train_test_split rounds
        if n_test < 2 or len(y) - n_test < 2:
            raise CLIError(
                f"--test-size {args.test_size:g} of {len(y)} rows leaves {n_test} for testing and {len(y) - n_test} "
                "for training; each needs at least 2. Use another --test-size, or --test-size 0 to train on all rows."
            )
        stratify = y if task == "classification" else None
        try:
            X_tr, X_te, y_tr, y_te = train_test_split(
                X, y, test_size=args.test_size, random_state=args.seed, stratify=stratify
            )
        except ValueError as exc:
            raise CLIError(f"cannot split off a test set of {args.test_size:g}: {exc}") from None
    else:
        X_tr, y_tr, X_te, y_te = X, y, None, None

    model = make_model(args, task)
    checkpoint = args.checkpoint or (str(args.out) + ".ckpt" if args.out else ".gdlearn-train.ckpt")
    if any(f and _same_file(f, checkpoint) for f in (args.data, args.out)):
        raise CLIError(f"--checkpoint {checkpoint!r} is also the data or the model file; name another file.")
    model.set_params(checkpoint=checkpoint, checkpoint_every=args.checkpoint_every)
    if args.resume and not os.path.exists(checkpoint):
        raise CLIError(f"--resume: no checkpoint file {checkpoint!r} to resume from.")
    progress, callback = progress_bar(args.quiet, args.max_iter)
    fit_kwargs = {"callback": callback, "resume": args.resume}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            if progress is not None:
                with progress:
                    model.fit(X_tr, y_tr, **fit_kwargs)
                    progress.update(progress.task_ids[0], total=model.n_iter_, completed=model.n_iter_)
            else:
                model.fit(X_tr, y_tr, **fit_kwargs)
    except KeyboardInterrupt as exc:
        saved = getattr(exc, "checkpoint", None)
        where = f"the checkpoint is saved in {saved}" if saved else "no checkpoint could be saved"
        argv = [a for a in sys.argv[1:] if a != "--resume"]
        print(
            f"gdlearn: interrupted at iteration {getattr(exc, 'iteration', '?')}; {where}. "
            f"Resume with: gdlearn {shlex.join(argv)} --resume",
            file=sys.stderr,
        )
        return 130
    model.set_params(checkpoint=None)  # the run's own file, not a setting of the model
    if args.out:  # first: nothing after training may lose it
        from .persistence import save

        model.feature_names_in_ = np.asarray(names, dtype=object)  # the CSV's columns, matched at predict time
        model.target_name_ = data.target  # the saved model says what it predicts ('gdlearn show')
        try:
            save(model, args.out)
        finally:  # the metrics and pictures below take arrays
            del model.feature_names_in_
    if os.path.exists(checkpoint):
        os.remove(checkpoint)  # the run finished: the model file is the result
    title = f"gdlearn {task} of {data.target!r} on {args.data}" + (" (target: the last column)" * data.guessed_target)
    print_table(title, _metrics(model, task, X_tr, y_tr, X_te, y_te))
    for w in caught:
        print(f"gdlearn: warning: {w.message}", file=sys.stderr)
    if args.plot:
        from .plotting import save_training_plots

        for f in save_training_plots(model, X_tr, y_tr, X_te, y_te, args.plot):
            print(f"wrote {f}")
    if args.out and not args.quiet:
        print(f"model saved to {args.out}")
    return 0


def _size(text: str) -> int:
    from ._cli_stream import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _same_file(a: str, b: str) -> bool:
    both = os.path.exists(a) and os.path.exists(b)
    return os.path.realpath(a) == os.path.realpath(b) or (both and os.path.samefile(a, b))


# -------------------------------------------------------------------- show
def _cmd_show(args) -> int:
    from .persistence import show

    sys.stdout.write(show(args.file) + "\n")
    return 0


# ----------------------------------------------------------------- predict
def _cmd_predict(args) -> int:
    from ._cli_data import BUILTIN
    from .data import read_csv
    from .persistence import ModelFileError, load

    try:
        model = load(args.model)
    except ModelFileError:
        if args.model.lower().endswith(".csv") or _loads_as_model(args.data):
            raise CLIError(
                f"the model file comes first, then the data: gdlearn predict {args.data} {args.model}"
            ) from None
        raise
    names = getattr(model, "feature_names_in_", None)
    if args.data in BUILTIN and not os.path.exists(args.data):  # a bundled data set: its features, by name
        data = load_data(args.data, quiet=True)
        X = model_columns(model, data.X, data.names, args.data)
    else:
        X = read_csv(args.data, None, require_target=False, columns=None if names is None else list(names)).X
    if X.shape[1] != model.n_features_in_:
        raise CLIError(
            f"{args.data}: {X.shape[1]} columns, but the model was trained on {model.n_features_in_} features."
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        pred = model.predict(X)
        proba = model.predict_proba(X) if hasattr(model, "predict_proba") else None
    header = ["prediction"]
    columns = [pred]
    if proba is not None:
        header += [f"proba_{c}" for c in model.classes_]
        columns += [proba[:, k] for k in range(proba.shape[1])]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")  # quotes labels holding commas, quotes or newlines
    writer.writerow(header)
    writer.writerows(zip(*([_cell(v) for v in col] for col in columns)))
    if args.out:
        from ._atomic import atomic_write

        atomic_write(args.out, buffer.getvalue().encode("utf-8"))  # a full disk keeps the old predictions
        if not args.quiet:
            print(f"wrote {len(pred)} predictions to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(buffer.getvalue())
    return 0


def _loads_as_model(path: str) -> bool:
    from .persistence import load

    try:
        load(path)
    except (ValueError, OSError):
        return False
    return True


def _cell(value) -> str:
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gdlearn`` command."""
    parser = argparse.ArgumentParser(
        prog="gdlearn",
        description="Learning through gradient descent: train linear and logistic regression and watch them learn.",
        epilog="Run 'gdlearn COMMAND --help' for a command's options. Documentation: docs/cli.md",
    )
    parser.add_argument("--version", action="version", version=f"gdlearn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser(
        "train",
        help="train a model on a bundled data set or a CSV file",
        description="Train linear regression (numeric target) or logistic regression (class labels) by gradient "
        "descent, show progress, and print train/test metrics.",
        epilog="Examples: gdlearn train housing | gdlearn train prices.csv --target price --out model.safetensors",
    )
    t.add_argument("data", metavar="DATA", help="'housing', 'breast-cancer', or a CSV file with a header row")
    add_data_options(t)
    t.add_argument(
        "--solver", default="auto", help="auto, gd, momentum, nesterov, adagrad, rmsprop, adam, fista, lbfgs, newton"
    )
    t.add_argument(
        "--learning-rate", default="auto", metavar="ALPHA", help="step size α, 'auto' (1/L) or 'backtracking'"
    )
    t.add_argument("--max-iter", type=int, default=1000, metavar="N", help="maximum iterations (default 1000)")
    t.add_argument("--tol", type=float, default=1e-4, help="stop when the gradient norm falls to this (default 1e-4)")
    t.add_argument("--batch-size", type=int, default=None, metavar="B", help="mini-batch size (default: full batch)")
    t.add_argument("--l2", type=float, default=0.0, help="L2 penalty λ₂ (adds λ₂/(2m)‖W‖²)")
    t.add_argument("--l1", type=float, default=0.0, help="L1 penalty λ₁ (adds λ₁/m‖W‖₁)")
    t.add_argument("--early-stopping", action="store_true", help="hold out 10%% and stop when validation loss stalls")
    t.add_argument("--test-size", type=float, default=0.2, metavar="F", help="held-out fraction (default 0.2; 0: none)")
    t.add_argument("--seed", type=int, default=0, help="random seed of the split and the solver (default 0)")
    t.add_argument("--out", metavar="MODEL", help="save the fitted model to this file (read it with 'gdlearn show')")
    t.add_argument("--plot", metavar="DIR", help="write pictures of the training (PNG) to this directory")
    t.add_argument("--checkpoint", metavar="FILE", help="checkpoint file (default: MODEL.ckpt or .gdlearn-train.ckpt)")
    t.add_argument("--checkpoint-every", type=int, default=100, metavar="N", help="iterations between checkpoints")
    t.add_argument("--resume", action="store_true", help="continue an interrupted run from its checkpoint")
    t.add_argument("--standardize", action="store_true", help="descend on standardised features, as sweep does")
    t.add_argument(
        "--stream", action="store_true", help="read DATA (CSV or Parquet) in blocks instead of loading it (big files)"
    )
    t.add_argument(
        "--stream-above",
        type=_size,
        default="1G",
        metavar="SIZE",
        help="stream files larger than this without --stream (default 1G)",
    )
    t.add_argument(
        "--dask", metavar="ADDRESS", help="train on a Dask cluster: 'local' starts one here, or tcp://host:8786"
    )
    add_quiet(t)
    t.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "predict",
        help="predict with a saved model",
        description="Predict with a model saved by 'gdlearn train --out'. Columns are matched by name.",
        epilog="Example: gdlearn predict model.safetensors new.csv --out predictions.csv",
    )
    p.add_argument("model", metavar="MODEL", help="a model file written by 'gdlearn train --out'")
    p.add_argument(
        "data",
        metavar="DATA",
        help="a CSV file with the model's feature columns (by name), or 'housing', 'breast-cancer'",
    )
    p.add_argument("--out", metavar="FILE.csv", help="write predictions here (default: standard output)")
    add_quiet(p)
    p.set_defaults(func=_cmd_predict)

    s = sub.add_parser(
        "show",
        help="print a model or checkpoint file as text",
        description="Print a model (or checkpoint) file as JSON: its header (estimator, parameters, labels, "
        "diagnostics) and every array's dtype, shape and values.",
        epilog="Example: gdlearn show model.safetensors",
    )
    s.add_argument("file", metavar="FILE", help="a file written by 'gdlearn train --out' or a checkpoint")
    add_quiet(s)
    s.set_defaults(func=_cmd_show)

    try:
        from ._cli_plots import add_commands
    except ImportError:  # pragma: no cover - the module ships with gdlearn
        add_commands = None
    if add_commands is not None:
        add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gdlearn`` command; returns the exit status."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said under the subcommand's own usage, which lists its options
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
        (commands.get(args.command) or parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("gdlearn: interrupted.", file=sys.stderr)
        return 130
    except (CLIError, ValueError, TypeError, FileNotFoundError, IsADirectoryError, PermissionError, ImportError) as exc:
        print(f"gdlearn: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except ArithmeticError as exc:  # DivergenceError and friends
        print(f"gdlearn: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a symbolic-link loop, a device error
        print(f"gdlearn: error: {_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
