"""``gdlearn train`` on data that stays where it is: files streamed block by block, or a Dask cluster.

``gdlearn train big.parquet --target y`` streams when the data (a file or a
folder) is larger than ``--stream-above`` (default 1 GiB) or with ``--stream``:
the model learns from a :class:`~gdlearn.data.ParquetSource` or
:class:`~gdlearn.data.CSVSource`, ``--test-size`` holds out rows by a seeded
hash of their position (no file is loaded or rewritten), and the metrics are
computed in one more pass over each part.  ``--dask local`` starts a
``LocalCluster`` on this machine; ``--dask tcp://host:8786`` connects to a
running scheduler; the files are read by the cluster's workers
(``dask.dataframe``) and the model learns from the Dask collections
(``docs/scaling.md``).  Checkpoints, ``--resume`` and ``--plot`` are for
in-memory data.
"""

from __future__ import annotations

import os
import re
import sys
import time
import warnings

import numpy as np

from ._cli_common import make_model, print_table, progress_bar
from ._cli_data import CLIError, is_parquet, open_source

__all__ = ["STREAM_ABOVE", "parse_size", "wants_streaming", "train_streamed"]

#: Data files (or folders) larger than this are streamed by default.
STREAM_ABOVE = 1 << 30


def parse_size(text: str) -> int:
    """Bytes from '1G', '500M', '64k' or a number."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)i?[bB]?\s*", str(text))
    if not found:
        raise ValueError(f"expected a size such as 500M or 2G, got {text!r}")
    power = " KMGT".index(found.group(2).upper() or " ")
    return int(float(found.group(1)) * 1024**power)


def _size(path: str) -> int:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    return os.path.getsize(path)


def wants_streaming(args) -> bool:
    """Whether ``gdlearn train`` streams DATA: ``--stream``, ``--dask``, or a file above ``--stream-above``."""
    if args.stream or args.dask:
        return True
    return os.path.exists(args.data) and _size(args.data) > args.stream_above


def _guess_task(source, task, note) -> str:
    """As for data in memory: text labels or two distinct whole numbers are classes, other numbers a measurement."""
    if task == "regression":
        return task
    try:
        classes = source.target_classes()
    except ValueError:
        if task == "classification":
            raise
        return "regression"
    if task is not None:
        return task
    numeric = source.target_is_numeric
    labels = not numeric or (classes.size == 2 and np.array_equal(classes, np.round(classes)))
    if classes.size < 2:
        raise CLIError(f"{source!r}: the target column {source.target!r} has a single value; nothing to learn.")
    if labels and numeric:
        note(
            f"the target {source.target!r} has two values ({', '.join(map(str, classes))}): treating them as class "
            "labels; give --task regression to fit them as numbers."
        )
    return "classification" if labels else "regression"


def _client(address: str):
    """A Dask client: a new LocalCluster on this machine ('local'), or the scheduler at ``address``."""
    from ._optional import import_optional

    distributed = import_optional("distributed", extra="dask", purpose="--dask")
    if address == "local":
        return distributed.Client(distributed.LocalCluster(dashboard_address=None))
    try:
        return distributed.Client(address, timeout="20s")
    except OSError as exc:
        raise CLIError(f"--dask {address}: cannot reach the Dask scheduler ({exc}).") from None


def _dask_frames(source, args):
    """(X, y) train and test Dask collections of the source's files, read by the cluster's workers."""
    import dask.dataframe as dd

    columns = source.feature_names + [source.target]
    read = dd.read_parquet if is_parquet(args.data) else dd.read_csv
    frame = read(source.files, columns=columns) if read is dd.read_parquet else read(source.files, usecols=columns)
    parts = [frame]
    if args.test_size > 0:
        parts = frame.random_split([1 - args.test_size, args.test_size], random_state=args.seed)
    out = [(p[source.feature_names].astype("float64"), p[source.target]) for p in parts]
    return out[0], (out[1] if len(out) > 1 else None)


def _stream_metrics(model, task, train, test) -> list:
    """The in-memory command's metrics, computed in one pass over each part (a source or Dask (X, y))."""
    rows = []

    def loss_of(part):
        problem = model.get_objective(part) if not isinstance(part, tuple) else model.get_objective(*part)
        return float(problem.value(model.theta_))

    rows.append(("train loss J", f"{loss_of(train):.6g}"))
    if test is not None:
        rows.append(("test loss J", f"{loss_of(test):.6g}"))
        sums = _dask_sums(model, task, test) if isinstance(test, tuple) else _source_sums(model, task, test)
        n = sums["n"]
        if task == "regression":
            rows.append(("test R²", f"{1 - sums['sse'] / (sums['y2'] - sums['y'] ** 2 / n):.4f}"))
            rows.append(("test RMSE", f"{np.sqrt(sums['sse'] / n):.6g}"))
        else:
            rows.append(("test accuracy", f"{sums['right'] / n:.4f}"))
    return rows


def _source_sums(model, task, source) -> dict:
    """Σ over the test rows of what the metrics need, block by block."""
    data, _ = model._source_data(source, None, None, reset=False, resume=False, first_call=False)
    sums = dict(n=0, sse=0.0, y=0.0, y2=0.0, right=0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        for X, Y, _ in data.blocks():
            sums["n"] += len(X)
            if task == "regression":
                y = Y[:, 0]
                sums["sse"] += float(np.sum((model.predict(X) - y) ** 2))
                sums["y"] += float(y.sum())
                sums["y2"] += float(y @ y)
            else:
                truth = Y[:, 0] if Y.shape[1] == 1 else np.argmax(Y, axis=1)
                z = model.decision_function(X)
                sums["right"] += int(np.sum(((z > 0) if z.ndim == 1 else np.argmax(z, axis=1)) == truth))
    return sums


def _dask_sums(model, task, part) -> dict:
    import dask
    import dask.array as da

    X, y = part
    if not isinstance(y.dtype, np.dtype):  # pandas' string dtype: compared as objects
        y = y.astype(object)
    y = y.to_dask_array(lengths=True)
    pred = model.predict(X)
    if task == "regression":
        y = y.astype(float)
        n, sse, s1, s2 = dask.compute(y.shape[0], ((pred - y) ** 2).sum(), y.sum(), (y * y).sum())
        return dict(n=n, sse=sse, y=s1, y2=s2)
    n, right = dask.compute(y.shape[0], da.sum(pred == y))
    return dict(n=n, right=int(right))


def train_streamed(args) -> int:
    """``gdlearn train`` on streamed files or on Dask (see the module docstring); returns the exit status."""
    from .exceptions import ConvergenceWarning

    for flag, value in (("--plot", args.plot), ("--resume", args.resume), ("--checkpoint", args.checkpoint)):
        if value:
            raise CLIError(f"{flag} is for data in memory; it cannot be combined with streaming or --dask.")
    if not 0 <= args.test_size < 1:
        raise CLIError(f"--test-size must be in [0, 1), got {args.test_size}.")
    if args.data in ("housing", "breast-cancer") or not os.path.exists(args.data):
        raise CLIError(f"--stream and --dask read files: {args.data!r} is not a file or folder.")

    def note(text: str) -> None:
        if not args.quiet:
            print(f"gdlearn: {text}", file=sys.stderr)

    try:
        source = open_source(args.data, args.target, features=args.features, drop=args.drop, note=note)
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    task = _guess_task(source, args.task, note)
    model = make_model(args, task)
    client = _client(args.dask) if args.dask else None
    try:
        if client is not None:
            train, test = _dask_frames(source, args)
            how = f"on Dask ({args.dask})"
            n_rows = None
        else:
            train, test = source.split(args.test_size, args.seed) if args.test_size > 0 else (source, None)
            how = "streamed"
            n_rows = source.n_samples  # a pass reads every row of the files, held-out ones included
        before = source.passes

        def passes() -> int:
            return source.passes - before

        progress, callback = progress_bar(args.quiet, args.max_iter, rows=n_rows, passes=passes)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            fit_args = train if isinstance(train, tuple) else (train,)
            if progress is not None:
                with progress:
                    model.fit(*fit_args, callback=callback)
                    progress.update(progress.task_ids[0], total=model.n_iter_, completed=model.n_iter_)
            else:
                model.fit(*fit_args, callback=callback)
        seconds = time.perf_counter() - start
        read = passes()
        if args.out:
            from .persistence import save

            model.target_name_ = source.target
            save(model, args.out)
        rows = _stream_metrics(model, task, train, test)
    finally:
        if client is not None:
            cluster = client.cluster if args.dask == "local" else None
            client.close()
            if cluster is not None:
                cluster.close()
    rows += [
        ("iterations", str(model.n_iter_)),
        ("converged", "yes" if model.converged_ else f"no: max_iter={model.max_iter} reached"),
        ("solver", model.solver_),
        ("training time", f"{seconds:.3g} s"),
    ]
    if n_rows is not None and seconds > 0:
        rows.append(("passes over the files", str(read)))
        rows.append(("rows per second", f"{n_rows * read / seconds:,.0f}"))
    print_table(f"gdlearn {task} of {source.target!r} on {args.data} ({how})", rows)
    for w in caught:
        print(f"gdlearn: warning: {w.message}", file=sys.stderr)
    if args.out and not args.quiet:
        print(f"model saved to {args.out}")
    return 0
