"""Code quality gates that must hold on every commit: ruff lint and format."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_check():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks"], cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format():
    proc = subprocess.run([sys.executable, "-m", "ruff", "format", "--check", "src", "tests", "benchmarks"], cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_public_api_has_docstrings_and_annotations():
    import inspect

    import gdlearn

    for name in gdlearn.__all__:
        obj = getattr(gdlearn, name)
        if name.startswith("__"):
            continue
        assert inspect.getdoc(obj), f"gdlearn.{name} has no docstring"
    for cls in (gdlearn.LinearRegression, gdlearn.LogisticRegression):
        for meth in ("fit", "predict", "partial_fit", "get_objective"):
            doc = inspect.getdoc(getattr(cls, meth))
            assert "Parameters" in doc or "Returns" in doc, f"{cls.__name__}.{meth} lacks numpydoc sections"
    sig = inspect.signature(gdlearn.check_gradient)
    assert sig.return_annotation != inspect.Signature.empty
