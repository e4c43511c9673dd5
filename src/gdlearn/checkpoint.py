"""Checkpoints: save the training state during a fit, and resume it bit for bit.

With ``checkpoint="run.ckpt"`` an estimator writes its complete training state
every ``checkpoint_every`` iterations (and every ``checkpoint_seconds``, at the
last iteration, when it converges, and when the fit is interrupted by Ctrl-C).
``fit(X, y, resume=True)`` then continues from the file for the remaining
``max_iter − iteration`` iterations, and ends with exactly the coefficients,
loss curve and history that one uninterrupted fit would have produced.

Why the result is bit-identical
-------------------------------
The solver loop is a deterministic function of its :class:`~gdlearn.solver.SolverState`
(θ, the optimizer's state, the iteration, the history, the early-stopping
counters), of the session (the change of variables, the optimizer spec with
its step size, the seed) and of the data.  The checkpoint stores the state
and the session as named arrays, byte for byte (:mod:`gdlearn._fileformat`);
the mini-batch order depends only on (seed, epoch), so the seed suffices.  On
resume every array is checked against the template that this fit's own
``optimizer.init`` and settings produce (names, dtypes, shapes), as orbax
restores checkpoints.  What cannot be stored, the data, is fingerprinted
(:func:`data_fingerprint`); a checkpoint is refused for another estimator,
other parameters (except :data:`RESUMABLE_CHANGES`), other data or labels.

Consistency on Ctrl-C
---------------------
The solver calls the checkpointer after each *completed* iteration, which
remembers the state by reference (θ and the optimizer state are replaced,
never modified in place, by every step; the history only grows).  When a
``KeyboardInterrupt`` arrives mid-iteration, the solver calls
:meth:`Checkpointer.interrupted`, which writes the last completed iteration it
was handed, never the half-updated state.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
from dataclasses import dataclass

import numpy as np

from ._fileformat import FileError, flatten, read, unflatten, write
from .solver import SolverState

__all__ = [
    "Checkpointer",
    "CheckpointError",
    "CheckpointInfo",
    "read_checkpoint",
    "data_fingerprint",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FORMAT_VERSION",
    "MAX_CHECKPOINT_SIZE",
]

CHECKPOINT_FORMAT = "gdlearn-checkpoint"
#: The version this gdlearn writes and reads (earlier ones are refused: start the fit again).
CHECKPOINT_FORMAT_VERSION = 3
#: Checkpoint files larger than this are refused before being read (1 GiB).
MAX_CHECKPOINT_SIZE = 2**30
#: Parameters that may change between the interrupted fit and the resumed one.
RESUMABLE_CHANGES = ("max_iter", "verbose", "checkpoint", "checkpoint_every", "checkpoint_seconds")
#: Rows of X sampled by the data fingerprint (evenly spaced, first and last included).
FINGERPRINT_ROWS = 1024
_COUNTERS = ("best_iteration", "no_improve", "no_improve_train", "rising")


class CheckpointError(FileError):
    """A checkpoint cannot be used: corrupted, from another gdlearn, or written for another fit."""

    action = "resume from checkpoint"


def data_fingerprint(data) -> str:
    """SHA-256 (hex) identifying the training data of an :class:`~gdlearn.data.source.ArraySource`.

    Hashes X's dtype and shape, :data:`FINGERPRINT_ROWS` evenly spaced rows of
    X (and, when sparse, its row pointers), all of the encoded targets Y and
    the sample weights: a small fraction of one pass, copying nothing but the
    sampled rows.  A change confined to rows that are not sampled is not seen.
    """
    X, n = data.X, data.n_samples
    rows = np.unique(np.linspace(0, n - 1, min(n, FINGERPRINT_ROWS)).round().astype(np.int64))
    h = hashlib.sha256(f"gdlearn-data-v2\0{X.dtype.str}{X.shape}".encode())
    sample = X[rows]
    parts = (X.indptr, sample.indices, sample.data) if data.sparse else (sample,)
    weights = np.zeros(0) if data.sample_weight is None else data.sample_weight
    for a in (*parts, data.Y, weights):
        a = np.ascontiguousarray(a)
        h.update(f"\0{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B") if a.size else b"")
    return h.hexdigest()


def _comparable(params: dict) -> dict[str, str]:
    """The parameters that must not change on resume, each as text that compares exactly."""
    out = {}
    for key, value in params.items():
        if isinstance(value, np.random.RandomState):
            value = "RandomState"  # the seed drawn from it is checkpointed
        elif isinstance(value, os.PathLike):
            value = os.fspath(value)
        elif isinstance(value, np.generic):
            value = value.item()
        if key not in RESUMABLE_CHANGES:
            out[key] = repr(value)
    return out


def _identity(estimator) -> dict:
    classes = getattr(estimator, "classes_", None) if estimator._is_classifier else None
    labels = None if classes is None else repr((classes.dtype.str, classes.tolist()))
    return {"kind": type(estimator).__name__, "params": _comparable(estimator.get_params(deep=False)), "labels": labels}


# ================================================================= reading
@dataclass
class CheckpointInfo:
    """A checkpoint read and authenticated by :func:`read_checkpoint`.

    Attributes
    ----------
    path, kind, gdlearn_version : str
    seed, iteration, n_samples, n_features, n_outputs : int
    header : dict
    arrays : dict of ndarray
    """

    path: str
    kind: str
    gdlearn_version: str
    seed: int
    iteration: int
    n_samples: int
    n_features: int
    n_outputs: int
    header: dict
    arrays: dict

    def fail(self, problem: str):
        raise CheckpointError(self.path, problem)


_SCHEMA = {  # the header's fields and their types (dicts: nested fields)
    "format": str,
    "format_version": int,
    "gdlearn_version": str,
    "kind": str,
    "params": dict,
    "labels": (str, type(None)),
    "seed": int,
    "data": {"n_samples": int, "n_features": int, "n_outputs": int, "fingerprint": str},
    "session": {"solver": str, "coords": (str, type(None))},
    "state": {"iteration": int, "stopped": (str, type(None))},
}


def _check_schema(value, schema, where: str, fail) -> None:
    if isinstance(schema, dict):
        if not isinstance(value, dict) or set(value) != set(schema):
            fail(f"{where} must have the fields {sorted(schema)}, found {value!r:.200}")
        for key, sub in schema.items():
            _check_schema(value[key], sub, f"{where}.{key}" if where else key, fail)
    elif not isinstance(value, schema) or (schema is int and isinstance(value, bool)):
        fail(f"{where} has the wrong type: {value!r:.80}")


def read_checkpoint(path: str | os.PathLike) -> CheckpointInfo:
    """Read and authenticate a checkpoint file: format, version, checksum and header fields.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If it is not a valid gdlearn checkpoint.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(
            errno.ENOENT,
            "resume=True, but the checkpoint file does not exist. Fit without resume=True to start a new "
            "run; it writes the checkpoint as it goes",
            path,
        )
    header, arrays = read(
        path,
        CheckpointError,
        formats={CHECKPOINT_FORMAT: CHECKPOINT_FORMAT_VERSION},
        max_size=MAX_CHECKPOINT_SIZE,
        others={"gdlearn-model": "it is a saved model, not a checkpoint; load it with gdlearn.load"},
        legacy="Start the fit again without resume=True.",
    )

    def fail(problem: str):
        raise CheckpointError(path, problem)

    _check_schema(header, _SCHEMA, "", fail)
    data = header["data"]
    return CheckpointInfo(
        path,
        header["kind"],
        header["gdlearn_version"],
        header["seed"],
        header["state"]["iteration"],
        data["n_samples"],
        data["n_features"],
        data["n_outputs"],
        header,
        arrays,
    )


# ============================================================== templates
def _coords_tree(c) -> dict:
    names = ("mean", "matrix", "inverse", "scale", "frozen", "unit", "target_scale")
    return {name: getattr(c, name) for name in names}


def _state_tree(fields: dict, history: dict, path) -> dict:
    tree = {k: fields[k] for k in ("theta", "best_theta", "best_val", "best_train", "initial_loss", *_COUNTERS)}
    tree["opt"] = fields["opt_state"]
    tree["history"] = history
    if path is not None:
        tree["path"] = path
    return tree


def _scalar(arrays: dict, name: str, fail) -> float | None:
    if name not in arrays:
        return None
    a = arrays[name]
    if a.dtype != np.float64 or a.shape != () or not np.isfinite(a):
        fail(f"{name} must be a finite float64 number, found {a!r:.80}")
    return float(a)


# ============================================================ the writer
class Checkpointer:
    """Writes a fit's state to a file, and restores it to resume (a solver callback).

    The solver calls ``checkpointer(state, final)`` after each completed
    iteration; it writes when ``state.iteration`` is a multiple of ``every``,
    when ``seconds`` have passed since the last write, at ``max_iter``, when
    ``final`` is true (converged, stopped by the callback), and on Ctrl-C
    (:meth:`interrupted`).

    Parameters
    ----------
    path : str or path-like
    estimator : LinearRegression or LogisticRegression
        Its class, parameters and labels identify the fit.
    session : gdlearn.training.Session
    data : gdlearn.data.source.ArraySource
        The training data (fingerprinted).
    series : tuple of str
        The history series this fit records.
    record_path : bool
    every : int
    seconds : float or None
    max_iter : int

    Raises
    ------
    FileNotFoundError
        If the checkpoint's directory does not exist.
    """

    def __init__(self, path, estimator, session, data, *, series, record_path, every, seconds, max_iter) -> None:
        self.path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise FileNotFoundError(errno.ENOENT, "the directory of the checkpoint file does not exist", directory)
        self.identity = _identity(estimator)
        self.session, self.data = session, data
        self.series, self.record_path = tuple(sorted(series)), record_path
        self.every, self.seconds, self.max_iter = int(every), seconds, int(max_iter)
        self._fingerprint: str | None = None
        self._last: tuple | None = None  # the last completed iteration, by reference
        self.saved_iteration: int | None = None  # what the file holds (written or restored here)
        self._last_write = time.monotonic()

    # ------------------------------------------------------------- writing
    def __call__(self, state: SolverState, final: bool = False) -> str | None:
        """Remember the completed iteration in ``state``; write it if due. Returns the path when written."""
        fields = dict(vars(state))
        self._last = (fields, {k: (v, len(v)) for k, v in state.history.items()}, state.path and len(state.path))
        it = state.iteration
        timed = self.seconds is not None and time.monotonic() - self._last_write >= self.seconds
        if final or it % self.every == 0 or it >= self.max_iter or timed:
            return self._write()
        return None

    def interrupted(self) -> tuple[str | None, int | None]:
        """On Ctrl-C: write the last completed iteration if the file does not hold it yet.

        Returns
        -------
        (path or None, iteration or None)
            Where the state is saved and which iteration it holds.
        """
        if self._last is not None and self._last[0]["iteration"] != self.saved_iteration:
            self._write()
        return (self.path if self.saved_iteration is not None else None), self.saved_iteration

    def _write(self) -> str:
        fields, history, path_len = self._last
        if self._fingerprint is None:
            self._fingerprint = data_fingerprint(self.data)
        session, data = self.session, self.data
        history = {k: np.array(lst[:n], dtype=np.float64) for k, (lst, n) in history.items()}
        path = None if not path_len else np.stack(fields["path"][:path_len])
        arrays = flatten(_state_tree(fields, history, path), "state")
        if session.coords is not None:
            arrays.update(flatten(_coords_tree(session.coords), "session/coords"))
        scalars = {"lipschitz": session.lipschitz, "lr": session.spec.lr}
        arrays.update(flatten({k: float(v) for k, v in scalars.items() if v is not None}, "session"))
        header = {
            **self.identity,
            "seed": int(session.seed),
            "data": {
                "n_samples": data.n_samples,
                "n_features": data.n_features,
                "n_outputs": data.n_outputs,
                "fingerprint": self._fingerprint,
            },
            "session": {"solver": session.solver, "coords": session.coords and session.coords.kind},
            "state": {"iteration": int(fields["iteration"]), "stopped": fields["stopped"]},
        }
        write(self.path, CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_VERSION, header, arrays)
        self.saved_iteration = int(fields["iteration"])
        self._last_write = time.monotonic()
        return self.path

    # ------------------------------------------------------------ restoring
    def restore(self) -> SolverState:
        """Check that the file belongs to this fit, adopt its session, and return its state.

        Where this machine computed the change of variables, L or 1/L
        differently, the checkpoint's values replace the session's (the
        optimizer is rebuilt from the spec with the saved step), so the resumed
        fit continues in the same coordinates.

        Raises
        ------
        FileNotFoundError
            If the checkpoint file does not exist.
        CheckpointError
            If it is corrupted, or was written by a fit with another estimator
            kind, other parameters (except :data:`RESUMABLE_CHANGES`), other
            data or labels, another seed, solver or preconditioning.
        """
        info = read_checkpoint(self.path)
        header, arrays, fail = info.header, info.arrays, info.fail
        session, data = self.session, self.data
        if info.kind != self.identity["kind"]:
            fail(f"it was written by a {info.kind} fit; this is a {self.identity['kind']}")
        saved, here = header["params"], self.identity["params"]
        diffs = [f"{k}={here.get(k)} here but {saved.get(k)} in the checkpoint" for k in sorted({*saved, *here})]
        diffs = [d for k, d in zip(sorted({*saved, *here}), diffs) if saved.get(k) != here.get(k)]
        if diffs:
            fail(
                f"it was written by a fit with other parameters: {'; '.join(diffs)}. Resume with the same parameters "
                "(only max_iter, verbose and checkpoint* may change), or fit without resume=True to start over"
            )
        for key in ("n_samples", "n_features", "n_outputs"):
            if header["data"][key] != getattr(data, key):
                fail(
                    f"it was written for training data with {key}={header['data'][key]}, this fit has "
                    f"{getattr(data, key)}. Resume with the same X, y, sample_weight and validation settings"
                )
        if header["labels"] != self.identity["labels"]:
            fail("it was written for other class labels; resume with the same y")
        if self._fingerprint is None:
            self._fingerprint = data_fingerprint(data)
        if header["data"]["fingerprint"] != self._fingerprint:
            fail(
                "it was written for different training data (the fingerprint of X, y and sample_weight differs). "
                "Resume with exactly the same data, or fit without resume=True"
            )
        if info.seed != session.seed:
            fail(f"it was written with seed {info.seed}, this fit uses seed {session.seed}")
        self._restore_session(header["session"], arrays, fail)
        return self._restore_state(header["state"], arrays, fail)

    def _restore_session(self, saved: dict, arrays: dict, fail) -> None:
        from .preconditioning import Coordinates

        session = self.session
        if saved["solver"] != session.solver:
            fail(f"it was written by solver {saved['solver']!r}, this fit resolved to {session.solver!r}")
        if saved["coords"] != (session.coords and session.coords.kind):
            fail(f"its preconditioning ({saved['coords']}) differs from this fit's")
        if session.coords is not None:
            c = unflatten(_coords_tree(session.coords), arrays, "session/coords", fail)
            if not all(np.all(np.isfinite(v)) for v in c.values()):
                fail("session/coords contains NaN or infinity")
            if not (np.all(c["scale"] > 0) and c["target_scale"] > 0):
                fail("session/coords must have positive scales")
            current = _coords_tree(session.coords)
            if not all(np.array_equal(current[k], v) for k, v in c.items()):  # another machine's arithmetic
                session.coords = Coordinates(c.pop("mean"), c.pop("matrix"), c.pop("inverse"), **c)
        lipschitz, lr = (_scalar(arrays, f"session/{k}", fail) for k in ("lipschitz", "lr"))
        if lipschitz is not None:
            session.lipschitz = lipschitz
        if lr != session.spec.lr:
            if lr is None or session.spec.lr is None or not session.auto_lr or not lr > 0:
                fail(f"its learning rate {lr!r} differs from this fit's learning rate {session.spec.lr!r}")
            session.spec = session.spec.with_lr(lr)
            session.optimizer = session.spec.build()

    def _restore_state(self, saved: dict, arrays: dict, fail) -> SolverState:
        shape = (self.data.n_features + 1, self.data.n_outputs)
        zeros = np.zeros(shape)
        fields = {"theta": zeros, "best_theta": zeros, "opt_state": self.session.optimizer.init(zeros)}
        fields.update({"best_val": 0.0, "best_train": 0.0, "initial_loss": 0.0, **dict.fromkeys(_COUNTERS, 0)})
        history = {k: np.zeros(0) for k in self.series}
        template = _state_tree(fields, history, np.zeros((0, *shape)) if self.record_path else None)
        if any(k.startswith("state/path") for k in arrays) != self.record_path:
            fail("state/path must be present exactly when record_path=True")
        tree = unflatten(template, arrays, "state", fail)
        it = saved["iteration"]
        if it < 0 or not all(0 <= tree[k] <= it for k in _COUNTERS):
            fail(f"state/iteration ({it}) and the counters {_COUNTERS} must satisfy 0 <= counter <= iteration")
        lengths = {k: len(v) for k, v in tree["history"].items()}
        lengths.update({"path": len(tree["path"])} if "path" in tree else {})
        if any(n != it + 1 for n in lengths.values()):
            fail(f"the history and path must have iteration + 1 = {it + 1} entries, found {lengths}")
        if not np.all(np.isfinite(tree["theta"])):
            fail("state/theta contains NaN or infinity")
        state = SolverState(tree["theta"], tree.pop("opt"), iteration=it, stopped=saved["stopped"])
        state.history = {k: v.tolist() for k, v in tree.pop("history").items()}
        state.path = [row.copy() for row in tree.pop("path")] if self.record_path else None
        for k in ("best_theta", "best_val", "best_train", "initial_loss", *_COUNTERS):
            setattr(state, k, tree[k])
        self.saved_iteration = it
        return state
