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
(θ, the optimizer's state, the iteration, the history, the stopping rules'
states), of the session (the change of variables, the optimizer spec with
its step size, the seed) and of the data.  The checkpoint stores the state
and the session as named arrays, byte for byte (:mod:`gdlearn._fileformat`);
the mini-batch order depends only on (seed, epoch), so the seed suffices.  On
resume every array is checked against the template that this fit's own
``optimizer.init`` and settings produce (names, dtypes, shapes), as orbax
restores checkpoints.  The fit's identity (estimator, parameters except
:data:`RESUMABLE_CHANGES`, labels, seed, solver, preconditioning, the data's
sizes and :func:`data_fingerprint`) must equal the checkpoint's, field by field.

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
import os
import time

import numpy as np

from ._fileformat import FileError, digest, encode_param, flatten, read, unflatten, write
from .solver import SolverState

__all__ = ["Checkpointer", "CheckpointError", "read_checkpoint", "data_fingerprint", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "gdlearn-checkpoint"
#: The version this gdlearn writes and reads (earlier ones are refused: start the fit again).
CHECKPOINT_FORMAT_VERSION = 3
#: Checkpoint files larger than this are refused before being read (1 GiB).
MAX_CHECKPOINT_SIZE = 2**30
#: Parameters that may change between the interrupted fit and the resumed one.
RESUMABLE_CHANGES = ("max_iter", "verbose", "checkpoint", "checkpoint_every", "checkpoint_seconds")
#: Rows of X sampled by the data fingerprint (evenly spaced, first and last included).
FINGERPRINT_ROWS = 1024
_SCHEMA = {  # the header besides format and versions; the identity's fields are compared with this fit's
    "kind": str,
    "params": dict,
    "labels": (str, None),
    "seed": int,
    "data": dict,
    "session": dict,
    "state": {"iteration": int, "stopped": (str, None)},
}


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
    sample = X[rows]
    arrays = {"Y": data.Y, "x": np.zeros((0, *X.shape), X.dtype)}  # an empty array: X's dtype and shape
    sparse = {"indptr": X.indptr, "indices": sample.indices, "rows": sample.data} if data.sparse else None
    arrays.update(sparse or {"rows": sample})
    if data.sample_weight is not None:
        arrays["weight"] = data.sample_weight
    return digest("gdlearn-data", arrays)


def _dotted(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        out.update(_dotted(value, f"{prefix}{key}.") if isinstance(value, dict) and value else {prefix + key: value})
    return out


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict]:
    """Read and authenticate a checkpoint file: ``(header, arrays)``, checked for format, checksum and fields.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If it is not a valid gdlearn checkpoint.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(
            errno.ENOENT,
            "resume=True, but the checkpoint file does not exist. Fit without resume=True to start a new run; "
            "it writes the checkpoint as it goes",
            os.fspath(path),
        )
    return read(
        path,
        CheckpointError,
        formats={CHECKPOINT_FORMAT: CHECKPOINT_FORMAT_VERSION},
        max_size=MAX_CHECKPOINT_SIZE,
        others={"gdlearn-model": "it is a saved model, not a checkpoint; load it with gdlearn.load"},
        legacy="Start the fit again without resume=True.",
        schema=_SCHEMA,
    )


# ============================================================== templates
def _coords_tree(c) -> dict:
    names = ("mean", "matrix", "inverse", "scale", "frozen", "unit", "target_scale")
    return {name: getattr(c, name) for name in names}


def _state_tree(fields: dict, history: dict, path) -> dict:
    tree = {"theta": fields["theta"], "opt": fields["opt_state"], "rules": fields["rules"], "history": history}
    return tree if path is None else {**tree, "path": path}


def _steps(session) -> dict:
    return {k: float(v) for k, v in (("lipschitz", session.lipschitz), ("lr", session.spec.lr)) if v is not None}


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
    rules : list
        The stopping rules (their states are checkpointed by name).
    record_path : bool
    every : int
    seconds : float or None
    max_iter : int

    Raises
    ------
    FileNotFoundError
        If the checkpoint's directory does not exist.
    """

    def __init__(self, path, estimator, session, data, *, series, rules, record_path, every, seconds, max_iter):
        self.path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise FileNotFoundError(errno.ENOENT, "the directory of the checkpoint file does not exist", directory)
        params = estimator.get_params(deep=False)  # a RandomState's seed is checkpointed, not its state:
        params.update({k: "RandomState" for k, v in params.items() if isinstance(v, np.random.RandomState)})
        classes = getattr(estimator, "classes_", None) if estimator._is_classifier else None
        self.identity = {
            "kind": type(estimator).__name__,
            "params": {k: encode_param(k, v) for k, v in params.items() if k not in RESUMABLE_CHANGES},
            "labels": None if classes is None else repr((classes.dtype.str, classes.tolist())),
            "seed": int(session.seed),
            "data": {"n_samples": data.n_samples, "n_features": data.n_features, "n_outputs": data.n_outputs},
            "session": {"solver": session.solver, "preconditioning": session.coords and session.coords.kind},
        }
        self.session, self.data = session, data
        self.series, self.rules, self.record_path = tuple(sorted(series)), rules, record_path
        self.every, self.seconds, self.max_iter = int(every), seconds, int(max_iter)
        self._last: tuple | None = None  # the last completed iteration, by reference
        self.saved_iteration: int | None = None  # what the file holds (written or restored here)
        self._last_write = time.monotonic()

    def _identity(self) -> dict:
        if "fingerprint" not in self.identity["data"]:  # computed once, when first needed
            self.identity["data"]["fingerprint"] = data_fingerprint(self.data)
        return self.identity

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
        history = {k: np.array(lst[:n], dtype=np.float64) for k, (lst, n) in history.items()}
        path = None if not path_len else np.stack(fields["path"][:path_len])
        arrays = flatten(_state_tree(fields, history, path), "state")
        if self.session.coords is not None:
            arrays.update(flatten(_coords_tree(self.session.coords), "session/coords"))
        arrays.update(flatten(_steps(self.session), "session/step"))
        state = {"iteration": int(fields["iteration"]), "stopped": fields["stopped"]}
        write(self.path, CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_VERSION, {**self._identity(), "state": state}, arrays)
        self.saved_iteration = state["iteration"]
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
            If it is corrupted, or its identity differs from this fit's:
            another estimator kind, other parameters (except
            :data:`RESUMABLE_CHANGES`), labels, seed, solver,
            preconditioning, or other data.
        """
        header, arrays = read_checkpoint(self.path)

        def fail(problem: str):
            raise CheckpointError(self.path, problem)

        ours, saved = _dotted(self._identity()), _dotted({k: header[k] for k in self.identity})
        keys = sorted(k for k in {*ours, *saved} if ours.get(k) != saved.get(k))
        diffs = "; ".join(f"{k}: {ours.get(k)!r:.70} here, {saved.get(k)!r:.70} in the checkpoint" for k in keys)
        if diffs:
            fail(
                f"it was written by another fit ({diffs}). Resume with the same estimator, parameters "
                "(only max_iter, verbose and checkpoint* may change), X, y, sample_weight and validation settings, "
                "or fit without resume=True to start over"
            )
        self._restore_session(arrays, fail)
        return self._restore_state(header["state"], arrays, fail)

    def _restore_session(self, arrays: dict, fail) -> None:
        from .preconditioning import Coordinates

        session = self.session
        if session.coords is not None:
            c = unflatten(_coords_tree(session.coords), arrays, "session/coords", fail)
            if not all(np.all(np.isfinite(v)) for v in c.values()):
                fail("session/coords contains NaN or infinity")
            if not (np.all(c["scale"] > 0) and c["target_scale"] > 0):
                fail("session/coords must have positive scales")
            current = _coords_tree(session.coords)
            if not all(np.array_equal(current[k], v) for k, v in c.items()):  # another machine's arithmetic
                session.coords = Coordinates(c.pop("mean"), c.pop("matrix"), c.pop("inverse"), **c)
        steps = unflatten(_steps(session), arrays, "session/step", fail)
        if not all(np.isfinite(v) and v > 0 for v in steps.values()):
            fail(f"session/step must hold positive finite numbers, found {steps}")
        session.lipschitz = steps.get("lipschitz", session.lipschitz)
        if steps.get("lr") != session.spec.lr:
            if not session.auto_lr:
                fail(f"its learning rate {steps['lr']!r} differs from this fit's learning rate {session.spec.lr!r}")
            session.spec = session.spec.with_lr(steps["lr"])
            session.optimizer = session.spec.build()

    def _restore_state(self, saved: dict, arrays: dict, fail) -> SolverState:
        from .stopping import Epoch

        shape = (self.data.n_features + 1, self.data.n_outputs)
        zeros = np.zeros(shape)
        blank = Epoch(0, zeros, 0.0, 0.0, 0.0, {}, None, {})
        fields = {"theta": zeros, "opt_state": self.session.optimizer.init(zeros)}
        fields["rules"] = {rule.name: rule.init(blank) for rule in self.rules}
        history = {k: np.zeros(0) for k in self.series}
        template = _state_tree(fields, history, np.zeros((0, *shape)) if self.record_path else None)
        if any(k.startswith("state/path") for k in arrays) != self.record_path:
            fail("state/path must be present exactly when record_path=True")
        tree = unflatten(template, arrays, "state", fail)
        it = saved["iteration"]
        counters = [v for rule in tree["rules"].values() for v in rule.values() if type(v) is int]
        if it < 0 or not all(0 <= v <= it for v in counters):
            fail(f"state/iteration ({it}) and the rules' counters must satisfy 0 <= counter <= iteration")
        lengths = {k: len(v) for k, v in tree["history"].items()}
        lengths.update({"path": len(tree["path"])} if "path" in tree else {})
        if any(n != it + 1 for n in lengths.values()):
            fail(f"the history and path must have iteration + 1 = {it + 1} entries, found {lengths}")
        if not np.all(np.isfinite(tree["theta"])):
            fail("state/theta contains NaN or infinity")
        state = SolverState(tree["theta"], tree["opt"], iteration=it, rules=tree["rules"], stopped=saved["stopped"])
        state.history = {k: v.tolist() for k, v in tree["history"].items()}
        state.path = [row.copy() for row in tree["path"]] if self.record_path else None
        self.saved_iteration = it
        return state
