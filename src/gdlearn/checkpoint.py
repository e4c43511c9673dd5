"""Checkpoints: save the solver state during a fit, and resume it bit for bit.

With ``checkpoint="run.ckpt"`` an estimator writes its complete training state
every ``checkpoint_every`` iterations (and every ``checkpoint_seconds``, at the
last iteration, when it converges, and when the fit is interrupted by Ctrl-C).
``fit(X, y, resume=True)`` then continues from the file for the remaining
``max_iter − iteration`` iterations, and ends with exactly the coefficients,
loss curve and history that one uninterrupted fit would have produced.

Why the result is bit-identical
-------------------------------
The solver loop is a deterministic function of its :class:`~gdlearn.solver.SolverState`
(θ, the optimizer state — momentum, Adam moments, L-BFGS pairs, FISTA's
extrapolation point, the step count of the schedule —, the iteration, the
history and the early-stopping counters), of the session (the change of
variables of preconditioning, the step size, the seed), and of the data.  The
checkpoint stores the state and the session with every float written at
``repr`` precision, which reads back to the same double; the mini-batch order
depends only on (seed, epoch) (:func:`gdlearn.data.batch_indices`), so
storing the seed suffices, and ``fit`` takes the seed from the checkpoint (a
``random_state=None`` run resumes identically).  What cannot be stored — the
data — is fingerprinted (SHA-256 of X, the encoded y and the sample weights),
and a checkpoint is refused for a different problem (other estimator kind,
parameters, data).

Consistency on Ctrl-C
---------------------
The solver calls the checkpointer after each *completed* iteration; the
checkpointer remembers that state by reference (θ and the optimizer state are
replaced, never modified in place, by every step, and the history only grows),
which costs nothing.  When a ``KeyboardInterrupt`` arrives in the middle of an
iteration, the solver calls it once more while handling the interrupt; it then
writes the last completed iteration it was handed, never the half-updated
state.

The file format (JSON, atomic write, checksum) is described in
``docs/reliability.md``.  The encoding of the state and the session is in
:mod:`gdlearn._checkpoint_codec`, the JSON machinery shared with model files in
:mod:`gdlearn._safejson`.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._checkpoint_codec import Snapshot, capture, decode_state, encode_session, encode_snapshot, restore_session
from ._params_json import encode_labels, encode_params
from ._safejson import Reader, atomic_write, canonical_json, dump_document
from ._version import __version__
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
CHECKPOINT_FORMAT_VERSION = 2
#: Checkpoint files larger than this are refused before being read (1 GiB).
MAX_CHECKPOINT_SIZE = 2**30
#: Parameters that may change between the interrupted fit and the resumed one.
RESUMABLE_CHANGES = ("max_iter", "verbose", "checkpoint", "checkpoint_every", "checkpoint_seconds")

_TOP_FIELDS = (
    "format",
    "format_version",
    "gdlearn_version",
    "kind",
    "params",
    "seed",
    "problem",
    "session",
    "state",
    "checksum",
)
_PROBLEM_FIELDS = ("n_samples", "n_features", "n_outputs", "classes", "data_sha256")


class CheckpointError(ValueError):
    """A checkpoint cannot be used: corrupted, from a newer gdlearn, or written for another fit.

    Attributes
    ----------
    path : str
    problem : str
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"Cannot resume from checkpoint {path!r}: {problem}")


# ================================================================ the data
def data_fingerprint(objective) -> str:
    """SHA-256 of the training data of ``objective``: X, the encoded targets Y, the sample weights.

    Hashes the raw bytes (about 1 GB/s), once per fit; sparse X is hashed as
    its CSR arrays.

    Parameters
    ----------
    objective : gdlearn.objective.Problem
        The training objective on its in-memory data (an ArraySource).

    Returns
    -------
    str
        ``"sha256:<hex>"``.
    """
    h = hashlib.sha256(b"gdlearn-data-v1\0")
    data = objective.data
    X = data.X
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        h.update(f"csr{X.shape}".encode())
        for part in (X.data.astype(np.float64, copy=False), X.indices.astype(np.int64), X.indptr.astype(np.int64)):
            _hash_array(h, part)
    else:
        h.update(b"dense")
        _hash_array(h, X)  # as stored: float32 X is hashed as float32, never copied to float64
    _hash_array(h, np.asarray(data.Y, dtype=np.float64))
    sw = data.sample_weight
    if sw is None:
        h.update(b"unweighted")
    else:
        _hash_array(h, np.asarray(sw, dtype=np.float64))
    return "sha256:" + h.hexdigest()


def _hash_array(h, a: np.ndarray) -> None:
    a = np.ascontiguousarray(a)
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(memoryview(a).cast("B") if a.size else b"")


# ================================================================= reading
@dataclass
class CheckpointInfo:
    """What a checkpoint file holds (read and authenticated by :func:`read_checkpoint`).

    Attributes
    ----------
    path : str
    kind : str
        ``"LinearRegression"`` or ``"LogisticRegression"``.
    params : dict
        The estimator's parameters, JSON-encoded.
    seed : int
        The session's seed (shuffling, validation split, power iteration).
    iteration : int
        Iterations completed.
    n_samples, n_features, n_outputs : int
    gdlearn_version : str
    """

    path: str
    kind: str
    params: dict
    seed: int
    iteration: int
    n_samples: int
    n_features: int
    n_outputs: int
    gdlearn_version: str
    _doc: dict = dataclasses.field(repr=False, default_factory=dict)
    _reader: Any = dataclasses.field(repr=False, default=None)


def read_checkpoint(path: str | os.PathLike) -> CheckpointInfo:
    """Read and authenticate a checkpoint file (format, version, checksum, header fields).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    CheckpointInfo

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
    r = Reader(path, CheckpointError)
    doc = r.read_document(
        fmt=CHECKPOINT_FORMAT,
        max_version=CHECKPOINT_FORMAT_VERSION,
        max_size=MAX_CHECKPOINT_SIZE,
        other_formats={"gdlearn-model": "it is a saved model, not a checkpoint; load it with gdlearn.load"},
    )
    r.fields(doc, _TOP_FIELDS, "the checkpoint")
    problem = r.obj(doc["problem"], "problem")
    r.fields(problem, _PROBLEM_FIELDS, "problem")
    state = r.obj(doc["state"], "state")
    return CheckpointInfo(
        path=path,
        kind=r.text(doc["kind"], "kind"),
        params=r.obj(doc["params"], "params"),
        seed=r.integer(doc["seed"], "seed", minimum=-(2**63), maximum=2**63 - 1),
        iteration=r.integer(state.get("iteration"), "state.iteration", minimum=0),
        n_samples=r.integer(problem["n_samples"], "problem.n_samples", minimum=1),
        n_features=r.integer(problem["n_features"], "problem.n_features", minimum=1),
        n_outputs=r.integer(problem["n_outputs"], "problem.n_outputs", minimum=1),
        gdlearn_version=r.text(doc["gdlearn_version"], "gdlearn_version"),
        _doc=doc,
        _reader=r,
    )


# ============================================================ the writer
class Checkpointer:
    """Write a fit's state to ``estimator.checkpoint``, and restore it to resume.

    The solver loop calls ``checkpointer(state, final)`` after each completed
    iteration; it writes when ``state.iteration`` is a multiple of ``every``,
    when ``seconds`` have passed since the last write, at the estimator's
    ``max_iter``, when ``final`` is true (converged, stopped by the callback),
    and on ``KeyboardInterrupt`` (the last completed iteration).

    Parameters
    ----------
    estimator : LinearRegression or LogisticRegression
        Being fitted; its ``checkpoint`` parameter names the file.
    session : gdlearn.training.Session
    every : int
        Iterations between writes.
    seconds : float or None
        Also write when this many seconds have passed since the last write.
    objective : gdlearn.objective.Objective, optional
        The training objective, whose data is fingerprinted (given here or to
        :meth:`restore`).

    Raises
    ------
    FileNotFoundError
        If the checkpoint's directory does not exist.
    """

    def __init__(self, estimator, session, every: int = 100, seconds: float | None = None, objective=None) -> None:
        self.estimator = estimator
        self.session = session
        self.every = int(every)
        self.seconds = seconds
        self.objective = objective
        self.path = os.fspath(estimator.checkpoint)
        self.max_iter = int(estimator.max_iter)
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise FileNotFoundError(errno.ENOENT, "the directory of the checkpoint file does not exist", directory)
        self._params = encode_params(estimator.get_params(deep=False), random_state_marker=True)
        self._fingerprint: str | None = None
        self._last: Snapshot | None = None
        self._written_iteration: int | None = None
        self._last_write = time.monotonic()
        # an exception already being handled when the fit started (fit called from an except block)
        self._ambient = sys.exc_info()[1]

    @property
    def saved_iteration(self) -> int | None:
        """The iteration the checkpoint file holds (written or restored by this object), or None."""
        return self._written_iteration

    # ------------------------------------------------------------- writing
    def __call__(self, state: SolverState, final: bool = False) -> str | None:
        """Record the completed iteration in ``state``; write it if due.

        Returns
        -------
        str or None
            The checkpoint's path when it holds this state, else None.
        """
        exc = sys.exc_info()[1]
        if isinstance(exc, KeyboardInterrupt) and exc is not self._ambient:  # called by the solver's handler
            return self._on_interrupt()
        snap = capture(state)
        self._last = snap
        due = (
            final
            or snap.iteration % self.every == 0
            or snap.iteration >= self.max_iter
            or (self.seconds is not None and time.monotonic() - self._last_write >= self.seconds)
        )
        if not due:
            return None
        return self.write(snap)

    def _on_interrupt(self) -> str | None:
        snap = self._last
        if snap is None:  # no iteration completed in this call: the file holds the state, if we resumed
            return self.path if self._written_iteration is not None else None
        if snap.iteration == self._written_iteration:
            return self.path
        return self.write(snap)

    def write(self, snap: Snapshot) -> str:
        """Write ``snap`` atomically; returns the path."""
        atomic_write(self.path, dump_document(self.document(snap)))
        self._written_iteration = snap.iteration
        self._last_write = time.monotonic()
        return self.path

    def document(self, snap: Snapshot) -> dict:
        """The checkpoint's JSON document for ``snap`` (without the checksum)."""
        objective = self.objective
        if objective is None:
            raise RuntimeError("Checkpointer needs the training objective (pass objective=) to fingerprint the data.")
        if self._fingerprint is None:
            self._fingerprint = data_fingerprint(objective)
        est = self.estimator
        classes = getattr(est, "classes_", None) if est._is_classifier else None
        session = self.session
        return {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "gdlearn_version": __version__,
            "kind": type(est).__name__,
            "params": self._params,
            "seed": int(session.seed),
            "problem": {
                "n_samples": int(objective.n_samples),
                "n_features": int(objective.n_features),
                "n_outputs": int(objective.n_outputs),
                "classes": None if classes is None else encode_labels(classes),
                "data_sha256": self._fingerprint,
            },
            "session": encode_session(session),
            "state": encode_snapshot(snap),
        }

    # ------------------------------------------------------------ restoring
    def restore(self, objective) -> SolverState:
        """Load the checkpoint into ``session.state`` after checking it belongs to this fit.

        Parameters
        ----------
        objective : gdlearn.objective.Problem
            The training objective of the fit being resumed, on its in-memory data.

        Returns
        -------
        SolverState
            Also stored in ``session.state``.

        Raises
        ------
        FileNotFoundError
            If the checkpoint file does not exist.
        CheckpointError
            If it is corrupted, or was written by a fit with another estimator
            kind, other parameters (except ``max_iter``, ``verbose`` and
            ``checkpoint*``), other data or another seed.
        """
        self.objective = objective
        info = read_checkpoint(self.path)
        r, doc = info._reader, info._doc
        est, session = self.estimator, self.session
        if doc["format_version"] < CHECKPOINT_FORMAT_VERSION:
            r.fail(
                f"it was written by gdlearn {info.gdlearn_version} in checkpoint format {doc['format_version']}, "
                f"whose preconditioning this gdlearn no longer uses (format {CHECKPOINT_FORMAT_VERSION}); "
                "start the fit again without resume=True"
            )
        if info.kind != type(est).__name__:
            r.fail(f"it was written by a {info.kind} fit; this is a {type(est).__name__}")
        self._check_params(r, info.params)
        self._check_problem(r, doc["problem"], objective)
        if info.seed != session.seed:
            r.fail(f"it was written with seed {info.seed}, this fit uses seed {session.seed}")
        restore_session(r, doc["session"], session, est, objective)
        state = decode_state(r, doc["state"], session.optimizer, objective, est)
        session.state = state
        self._written_iteration = state.iteration
        return state

    def _check_params(self, r: Reader, saved: dict) -> None:
        current = self._params
        names = sorted((set(saved) | set(current)) - set(RESUMABLE_CHANGES))
        diffs = []
        for name in names:
            a, b = current.get(name, "<absent>"), saved.get(name, "<absent>")
            if canonical_json(a) != canonical_json(b):
                diffs.append(f"{name}={json.dumps(a)} here but {json.dumps(b)} in the checkpoint")
        if diffs:
            r.fail(
                "it was written by a fit with other parameters: "
                + "; ".join(diffs)
                + ". Resume with the same parameters (only max_iter, verbose and checkpoint* may change), "
                "or fit without resume=True to start over"
            )

    def _check_problem(self, r: Reader, problem: dict, objective) -> None:
        est = self.estimator
        for key, here in (
            ("n_samples", objective.n_samples),
            ("n_features", objective.n_features),
            ("n_outputs", objective.n_outputs),
        ):
            if problem[key] != here:
                r.fail(
                    f"it was written for training data with {key}={problem[key]!r}, this fit has {here}. "
                    "Resume with the same X, y, sample_weight and validation settings"
                )
        classes = getattr(est, "classes_", None) if est._is_classifier else None
        expected = None if classes is None else encode_labels(classes)
        if canonical_json(problem["classes"]) != canonical_json(expected):
            r.fail("it was written for other class labels; resume with the same y")
        if self._fingerprint is None:
            self._fingerprint = data_fingerprint(objective)
        if problem["data_sha256"] != self._fingerprint:
            r.fail(
                "it was written for different training data (the SHA-256 fingerprint of X, y and "
                "sample_weight differs). Resume with exactly the same data, or fit without resume=True"
            )
