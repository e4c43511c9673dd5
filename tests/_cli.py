"""Running the installed ``gdlearn`` command in a subprocess, as a user would (shared by the CLI test files)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXE = shutil.which("gdlearn") or str(Path(sys.executable).parent / "gdlearn")


def run(*args, cwd, check=True, columns=120):
    """``gdlearn *args`` in ``cwd`` with a terminal ``columns`` wide; asserts success unless ``check=False``."""
    env = {**os.environ, "COLUMNS": str(columns)}
    proc = subprocess.run([EXE, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc
