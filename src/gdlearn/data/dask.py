"""Dask arrays and data frames as a data source: every sum is one small graph, reduced on the cluster.

A fit on Dask data never brings X to the client.  X (and the encoded targets Y
and weights s) are persisted where they live, with one chunk of rows per task
and all columns in it.  Each evaluation of J and ∇J runs the block function
(the same kernel call an in-memory fit makes, e.g.
:func:`gdlearn.kernels.loss_sums`) on every chunk and adds the parts down to
one small result (Σ sℓ, Xᵀr, Σr): the parameters (n floats) go out, a few
(p + 1)·k sums come back.  On a ``distributed`` cluster each worker sums the
chunks it holds, one group per thread (:func:`_worker_groups`), in an actor
that holds them (:class:`_ChunkHolder`), so an evaluation is one call per
worker, client to worker and back, without the scheduler and whatever the
number of chunks (tasks, if a worker is lost); with a local scheduler, one
graph of a task per chunk and a tree of additions (fan-in :data:`FAN_IN`).
Column statistics and the Gram matrix are reductions of the same kind
(:meth:`DaskSource.reduce`), so the whole fit is a handful of passes plus one
pass per iteration, and the fitted model is an ordinary in-memory model.

Mini-batch solvers take one chunk at a time to the client, in a seeded
shuffled order each epoch, and step through its rows there (as a file's record
batches are walked): memory is bounded by a chunk, but every chunk crosses the
network once per epoch.  On a cluster, prefer the full-batch solvers
(``solver="auto"``, L-BFGS, Newton, gd), whose steps move only parameters.

``predict``, ``decision_function`` and ``predict_proba`` map the fitted model
over X's chunks and return Dask arrays (:func:`map_rows`).

Requires the ``dask`` extra: ``pip install "gdlearn[dask]"``.
"""

from __future__ import annotations

import functools
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._optional import import_optional
from .source import BlockSource, add_parts

__all__ = ["DaskSource", "DaskTable", "is_dask", "map_rows", "FAN_IN"]

#: How many partial results each addition task of the tree reduction takes.
FAN_IN = 8


def is_dask(obj) -> bool:
    """True for a Dask collection (array, data frame, series); never imports Dask."""
    if "dask" not in sys.modules or obj is None:
        return False
    import dask

    return dask.is_dask_collection(obj)


def _dask():
    return import_optional("dask", extra="dask", purpose="Dask arrays and data frames")


def _array(obj, name: str, est: str):
    """A Dask array of ``obj`` (array, data frame, series) with known chunk sizes, and its column names."""
    import dask.array as da

    names = None
    if hasattr(obj, "dtypes") and hasattr(obj, "to_dask_array"):  # a data frame or a series
        if obj.ndim == 2:  # a data frame
            names = [str(c) for c in obj.columns] if all(isinstance(c, str) for c in obj.columns) else None
            bad = [str(c) for c, t in obj.dtypes.items() if t.kind not in "biuf"]
            if bad and name == "X":
                raise ValueError(
                    f"{est}: X holds non-numeric columns ({', '.join(bad)}); gradient descent needs numbers. Encode "
                    "text or categorical columns as numbers (e.g. one 0/1 column per category) or drop them."
                )
        if obj.ndim == 1 and not isinstance(obj.dtype, np.dtype):  # pandas' string (extension) dtype: as objects
            obj = obj.astype(object)
        obj = obj.to_dask_array(lengths=True)
    elif not isinstance(obj, da.Array):
        obj = da.asarray(np.asarray(obj))
    if any(np.isnan(c) for c in obj.chunks[0]):
        obj = obj.compute_chunk_sizes()
    return obj, names


class DaskTable:
    """Validated Dask X, raw targets y and weights s: what ``fit`` turns into a :class:`DaskSource`.

    Construction checks shapes and dtypes lazily, persists the arrays, and
    makes one pass (one ``dask.compute``) for everything the checks need of
    the values: X finite, the targets' range (regression) or their distinct
    labels (classification), and the weights' sign and sum.

    Parameters
    ----------
    X : dask array or data frame of shape (n_samples, n_features)
    y : dask array or series of shape (n_samples,) or (n_samples, n_targets)
        NumPy arrays are accepted too, chunked as X.
    sample_weight : dask array or series of shape (n_samples,), optional
    estimator : str
        The estimator's name, for messages.
    classifier : bool
        Find the distinct labels of y (:attr:`classes`) instead of checking its range.
    """

    def __init__(self, X, y, sample_weight, *, estimator: str, classifier: bool) -> None:
        dask = _dask()
        import dask.array as da

        if y is None:
            raise ValueError(f"{estimator} requires y to be passed, but the target y is None: fit(X, y).")
        X, self.feature_names = _array(X, "X", estimator)
        if X.ndim != 2:
            raise ValueError(
                f"{estimator}: X must be 2-D (n_samples, n_features); got a Dask array of shape {X.shape}."
            )
        if X.dtype.kind == "c":
            raise ValueError(f"Complex data not supported: {estimator} was given complex numbers in X.")
        if X.dtype.kind not in "biuf":
            raise ValueError(
                f"{estimator}: X holds non-numeric values (dtype {X.dtype}); gradient descent needs numbers."
            )
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        X = X.rechunk({1: -1})  # a task holds whole rows: the kernel sees (rows, all features)
        rows = X.chunks[0]
        n = X.shape[0]
        if n < 2:
            raise ValueError(f"{estimator} needs at least 2 samples to learn from, got {n}. Add data.")
        y, _ = _array(y, "y", estimator)
        sw = None if sample_weight is None else _array(sample_weight, "sample_weight", estimator)[0]
        for name, a in (("y", y), ("sample_weight", sw)):
            if a is not None and a.shape[0] != n:
                raise ValueError(
                    f"{estimator}: X has {n} rows but {name} has {a.shape[0]}; give one value per row of X."
                )
        if y.ndim not in (1, 2) or (classifier and y.ndim != 1):
            raise ValueError(f"{estimator}: y must be 1-D (one target per row); got a Dask array of shape {y.shape}.")
        if not classifier and y.dtype.kind not in "biuf":
            raise ValueError(
                f"{estimator}: y holds non-numeric values (dtype {y.dtype}); a regression target must be "
                "numbers. For class labels use LogisticRegression."
            )
        y = y.rechunk((rows,) + ((-1,) if y.ndim == 2 else ()))
        if sw is not None:
            if sw.ndim != 1 or sw.dtype.kind not in "biuf":
                raise ValueError(f"{estimator}: sample_weight must be a 1-D array of numbers, one per row of X.")
            sw = sw.astype(np.float64).rechunk((rows,))
        X, y, sw = dask.persist(X, y, sw)
        checks = {"x_finite": da.isfinite(X).all()}
        if classifier:
            checks["classes"] = da.unique(y)
        else:
            yf = y.astype(np.float64)
            checks.update(y_finite=da.isfinite(yf).all(), y_max=abs(yf).max(), y_spread=(yf.max(0) - yf.min(0)).max())
        if sw is not None:
            checks.update(w_min=sw.min(), w_sum=sw.sum(), w_max=sw.max())
        (found,) = dask.compute(checks)
        if not found["x_finite"]:
            raise ValueError(
                f"Input X contains NaN or infinity: {estimator} needs finite values. Fill or drop missing values "
                "first (e.g. X.fillna(...) or X[da.isfinite(X).all(axis=1)])."
            )
        if not classifier:
            if not found["y_finite"]:
                raise ValueError(f"Input y contains NaN or infinity: {estimator} needs finite target values.")
            if found["y_max"] > 1e150:
                raise ValueError(
                    f"{estimator}: y reaches {found['y_max']:.3g}; squared errors of targets beyond 1e150 overflow "
                    "double precision. Rescale y (e.g. divide it by a power of ten) and scale the predictions back."
                )
            if 0 < found["y_spread"] < 1e-140:
                raise ValueError(f"{estimator}: y varies by only {found['y_spread']:.3g}; rescale y.")
        self.weight_sum = float(n)
        if sw is not None:
            if not found["w_min"] >= 0:
                raise ValueError("sample_weight: negative values are not allowed; weights must be ≥ 0.")
            if not found["w_sum"] > 0:
                raise ValueError("sample_weight: all weights are zero; give at least one sample a positive weight.")
            if not np.isfinite(found["w_sum"]):
                raise ValueError("sample_weight: the weights sum to more than double precision holds; divide them.")
            self.weight_sum = float(found["w_sum"])
            if found["w_min"] == 1.0 and found["w_max"] == 1.0:
                sw = None  # all ones: no weights, as for in-memory data
        self.X, self.y, self.sample_weight = X, y, sw
        self.classes = found.get("classes")
        self.n_samples, self.n_features = X.shape
        self.target_ndim = y.ndim
        self.target_width = 1 if y.ndim == 1 else y.shape[1]

    def target_classes(self) -> np.ndarray:
        """The distinct labels of y (classification), found in the construction's pass."""
        return self.classes

    def with_targets(self, encode, n_outputs: int) -> DaskSource:
        """The training source: Y = ``encode``(y) chunk by chunk (a module-level function), persisted."""
        dask = _dask()

        y = self.y
        kw = {"new_axis": 1} if y.ndim == 1 else {}
        Y = y.map_blocks(encode, dtype=np.float64, chunks=(y.chunks[0], (n_outputs,)), **kw)
        (Y,) = dask.persist(Y)
        return DaskSource(self.X, Y, self.sample_weight, weight_sum=self.weight_sum)


def _apply(func, X, Y, sw, args):
    return func(X, Y, sw, *args)


def _combine_all(combine, *parts):
    return functools.reduce(combine, parts)


def _group_part(chunks, fn, args, combine):
    """``fn`` on each (X, Y, sw) chunk of a worker's group, combined: what one task returns."""
    return functools.reduce(combine, (fn(X, Y, sw, *args) for X, Y, sw in chunks))


class _ChunkHolder:
    """A worker's groups of chunks, held by a Dask actor on that worker: evaluations without the scheduler.

    An actor's method call goes from the client to its worker and back (two
    messages), where a task goes through the scheduler both ways; the chunks are
    the worker's own arrays (no copy).  One holder per worker; its groups (one
    per worker thread) run on a pool of as many threads, since a worker runs an
    actor's calls one at a time.
    """

    def __init__(self, groups) -> None:
        self.groups = groups
        self.pool = None

    def reduce(self, fn, args, combine):
        """``combine`` over every chunk of this worker of ``fn(X, Y, sw, *args)``."""
        if len(self.groups) == 1:
            return _group_part(self.groups[0], fn, args, combine)
        if self.pool is None:
            self.pool = ThreadPoolExecutor(len(self.groups), thread_name_prefix="gdlearn-chunks")
        return functools.reduce(combine, self.pool.map(lambda g: _group_part(g, fn, args, combine), self.groups))


def _copy(a):
    return a


def _worker_groups(X, Y, sample_weight):
    """The persisted chunks grouped by the worker that holds them: (client, [(worker, chunks)]), or (None, None).

    When X, Y (and the weights) are persisted on a ``distributed`` cluster,
    chunk i is the futures (X_i, Y_i, s_i or None) and its home the worker that
    holds X_i.  A worker holding more than its share of the chunks (in
    proportion to its threads, rounded up) passes the excess to the workers
    holding fewer; any part of a chunk not at its home (Y_i or s_i put on
    another worker by ``persist``, or a passed chunk) is copied there, once,
    here.  Each worker's chunks are then split into as many groups of
    consecutive chunks as it has threads, so that one task per group, run at
    home, keeps every thread busy and moves no rows.  Without a distributed
    cluster (data persisted by the threaded or synchronous scheduler): (None, None).
    """
    try:
        from distributed import futures_of
        from distributed import wait as futures_wait
    except ImportError:  # pragma: no cover - the dask extra installs distributed
        return None, None
    arrays = [a for a in (X, Y, sample_weight) if a is not None]
    futures = {f.key: f for a in arrays for f in futures_of(a)}
    rows = [[k[0] if isinstance(k, list) else k for k in a.__dask_keys__()] for a in arrays]  # one key per chunk
    if not all(k in futures for keys in rows for k in keys):
        return None, None
    chunks = [tuple(futures[k] for k in keys) + (None,) * (3 - len(arrays)) for keys in zip(*rows)]
    client = chunks[0][0].client
    holders, threads = client.who_has([f for c in chunks for f in c if f is not None]), client.nthreads()
    homes = [(holders.get(c[0].key) or ("",))[0] for c in chunks]
    if not threads:  # pragma: no cover - a cluster without workers: left to the graph path and its errors
        return None, None
    share = {w: -(-len(chunks) * t // sum(threads.values())) for w, t in threads.items()}
    held: dict = {w: [] for w in threads}
    excess = []
    for i, home in enumerate(homes):
        (held[home] if home in held and len(held[home]) < share[home] else excess).append(i)
    for w in threads:
        while excess and len(held[w]) < share[w]:
            held[w].append(excess[-1])
            homes[excess.pop()] = w
    chunks = [
        tuple(
            f
            if f is None or home in holders.get(f.key, ())
            else client.submit(_copy, f, workers=[home], allow_other_workers=True, pure=False)
            for f in c
        )
        for c, home in zip(chunks, homes)
    ]
    futures_wait([f for c in chunks for f in c if f is not None])
    groups = []
    for worker in threads:
        mine = [c for c, home in zip(chunks, homes) if home == worker]
        parts = min(len(mine), threads[worker])
        groups += [(worker, mine[g * len(mine) // parts : (g + 1) * len(mine) // parts]) for g in range(parts)]
    return client, groups


class DaskSource(BlockSource):
    """Persisted Dask X, encoded targets Y and weights s; sums are reductions on the cluster.

    Parameters
    ----------
    X : dask array of shape (n_samples, n_features)
        float32 or float64, one chunk along the columns, known row chunks.
    Y : dask array of shape (n_samples, n_outputs)
        Encoded targets (float64), chunked as X's rows.
    sample_weight : dask array of shape (n_samples,), optional
        Chunked as X's rows; None means all ones.
    weight_sum : float, optional
        m = Σ sᵢ, if known (else one small reduction).
    """

    def __init__(self, X, Y, sample_weight=None, *, weight_sum: float | None = None) -> None:
        dask = _dask()

        self.X, self.Y, self.sample_weight = X, Y, sample_weight
        self.n_samples, self.n_features = X.shape
        self.n_outputs = Y.shape[1]
        self.n_blocks = len(X.chunks[0])
        xs = X.to_delayed().ravel()
        ys = Y.to_delayed().ravel()
        ss = [None] * len(xs) if sample_weight is None else list(sample_weight.to_delayed().ravel())
        self._chunks = list(zip(xs, ys, ss))
        self._client, self._groups = _worker_groups(X, Y, sample_weight)
        self._actors = None  # one per worker, holding that worker's groups (their futures keep them alive)
        if self._groups is not None:
            mine: dict = {}
            for w, chunks in self._groups:
                mine.setdefault(w, []).append(chunks)
            try:
                self._actor_futures = [
                    self._client.submit(_ChunkHolder, g, workers=[w], allow_other_workers=True, actor=True, pure=False)
                    for w, g in mine.items()
                ]
                self._actors = [f.result() for f in self._actor_futures]
            except Exception:  # pragma: no cover - a cluster that refuses actors: the tasks below
                self._actors = None
        if weight_sum is None:
            weight_sum = float(self.n_samples if sample_weight is None else dask.compute(sample_weight.sum())[0])
        self.weight_sum = weight_sum

    def reduce(self, func, *args, combine=add_parts):
        """``combine`` over the chunks of ``func(X, Y, sw, *args)``: at most one small graph per call.

        On a distributed cluster that holds the persisted chunks, each worker
        runs ``func`` on the chunks it already holds, one group per thread, and
        adds their parts (:func:`_worker_groups`): the parameters (``args``: a
        few arrays of n floats) go out, one partial result per worker comes back
        and they are combined here.  The call goes to an actor per worker
        (:class:`_ChunkHolder`), client to worker and back, without the
        scheduler; if an actor fails (its worker lost), the same groups run as
        tasks (one per group, combined in a tree of fan-in :data:`FAN_IN` on the
        workers first if there are more), which recompute lost chunks.
        Otherwise (the threaded or synchronous scheduler) one ``dask.compute`` of
        a graph with one task per chunk and the same tree of additions.
        """
        dask = _dask()

        if self._actors is not None:
            try:
                calls = [actor.reduce(func, args, combine) for actor in self._actors]
                return functools.reduce(combine, [call.result() for call in calls])
            except Exception:  # a worker lost, or func failed: the tasks recompute lost chunks (or raise again)
                self._actors = None
        if self._groups is not None:
            client = self._client
            parts = [
                client.submit(
                    _group_part, chunks, func, args, combine, workers=[w], allow_other_workers=True, pure=False
                )
                for w, chunks in self._groups
            ]
            while len(parts) > FAN_IN:
                parts = [
                    client.submit(_combine_all, combine, *parts[i : i + FAN_IN], pure=False)
                    for i in range(0, len(parts), FAN_IN)
                ]
            return functools.reduce(combine, client.gather(parts))
        shared = dask.delayed(args, traverse=False)
        parts = [dask.delayed(_apply, pure=True)(func, x, y, s, shared) for x, y, s in self._chunks]
        while len(parts) > 1:
            parts = [
                dask.delayed(_combine_all, pure=True)(combine, *parts[i : i + FAN_IN])
                for i in range(0, len(parts), FAN_IN)
            ]
        return dask.compute(parts[0])[0]

    @property
    def block_rows(self) -> list:
        return [int(c) for c in self.X.chunks[0]]

    def block(self, i: int):
        """Chunk ``i`` brought to the client (mini-batches)."""
        dask = _dask()

        sw = None if self.sample_weight is None else self.sample_weight.blocks[i]
        return dask.compute(self.X.blocks[i], self.Y.blocks[i], sw)


def _rows_chunk(chunk, method):
    with warnings.catch_warnings():  # the model's feature names were checked on the data frame's columns
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return method(chunk)


def map_rows(estimator, method, X, n_columns: int | None, dtype):
    """``method`` (e.g. ``estimator.predict``) on each chunk of rows of Dask X: a lazy Dask array.

    Parameters
    ----------
    estimator : fitted estimator
        Its ``n_features_in_`` and ``feature_names_in_`` are checked against X's.
    method : callable
        Maps an (rows, n_features) NumPy array to an array of ``rows`` values
        (``n_columns=None``) or of shape (rows, n_columns).
    X : dask array or data frame of shape (n_samples, n_features)
    n_columns : int or None
    dtype : dtype of the result
    """
    name = type(estimator).__name__
    names = None
    if hasattr(X, "to_dask_array") and X.ndim == 2:
        names = [str(c) for c in X.columns]
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is not None and names is not None and names != [str(c) for c in fitted]:
        raise ValueError(f"{name}: X's columns {names} differ from those seen in fit: {list(map(str, fitted))}.")
    X, _ = _array(X, "X", name)
    if X.ndim != 2 or X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[-1]} features, but {name} is expecting {estimator.n_features_in_} features as input."
        )
    X = X.rechunk({1: -1})
    if n_columns is None:
        return X.map_blocks(_rows_chunk, method, drop_axis=1, dtype=dtype)
    return X.map_blocks(_rows_chunk, method, chunks=(X.chunks[0], (n_columns,)), dtype=dtype)
