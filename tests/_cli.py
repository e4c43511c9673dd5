"""Running ``gdlearn`` as a user would (shared by the CLI test files).

``run`` starts the installed ``gdlearn`` command in a subprocess: for what only a process shows (the console script
itself, signals, a missing optional package, a Dask cluster). ``run_inprocess`` calls ``gdlearn.cli.main`` in this
process as that process would (its working directory, terminal width, argv, warning filters, standard streams and
exit status), without the second or so of imports a new interpreter costs; both return a ``CompletedProcess``.
"""

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import traceback
import warnings
from pathlib import Path

EXE = shutil.which("gdlearn") or str(Path(sys.executable).parent / "gdlearn")


def interruptible() -> None:
    """``preexec_fn`` of a child that a test interrupts with SIGINT: the signal back to its default action.

    A shell starts a background command (``pytest &``, a CI step's ``… &``) with SIGINT ignored, and children inherit
    that; a Python child then never raises ``KeyboardInterrupt``, the signal is lost, and the test waits out its
    timeout for a run that does not stop.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(*args, cwd, check=True, columns=120):
    """``gdlearn *args`` in ``cwd`` with a terminal ``columns`` wide; asserts success unless ``check=False``."""
    env = {**os.environ, "COLUMNS": str(columns)}
    proc = subprocess.run([EXE, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def run_inprocess(*args, cwd, check=True, columns=120):
    """``run``, by calling ``gdlearn.cli.main`` here: the same arguments, output, exit status and files.

    As in the process: argparse's exits (usage errors, ``--help``) give their status, an uncaught exception prints its
    traceback on stderr with status 1, and warnings are shown on stderr under Python's default filters (not raised or
    collected under the test's own filters).
    """
    from gdlearn.cli import main

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    old_cwd, old_argv, old_columns = os.getcwd(), sys.argv, os.environ.get("COLUMNS")

    def show(message, category, filename, lineno, file=None, line=None):
        err.write(warnings.formatwarning(message, category, filename, lineno, line))

    os.chdir(cwd)
    sys.argv = [EXE, *argv]
    os.environ["COLUMNS"] = str(columns)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.resetwarnings()  # a new interpreter's filters: these ignored, the rest shown once per place
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                warnings.simplefilter("ignore", category)
            warnings.showwarning = show
            try:
                status = main(argv)
            except SystemExit as exc:  # argparse (or sys.exit): the interpreter's exit status
                if exc.code is None or isinstance(exc.code, int):
                    status = exc.code or 0
                else:
                    print(exc.code, file=sys.stderr)
                    status = 1
            except Exception:  # what the interpreter would print before exiting with status 1
                traceback.print_exc()
                status = 1
    finally:
        os.chdir(old_cwd)
        sys.argv = old_argv
        if old_columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old_columns
    proc = subprocess.CompletedProcess([EXE, *argv], status, out.getvalue(), err.getvalue())
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc
