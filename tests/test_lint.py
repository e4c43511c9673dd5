"""Code quality gates that must hold on every commit: ruff lint and format."""

import subprocess
import sys
from pathlib import Path

import pytest

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


def test_a_skipped_test_fails_the_run(pytester):
    """The suite's own conftest turns a skip (here a missing module) into a failed run that names the test."""
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    needs = "import pytest\n\ndef test_needs():\n    pytest.importorskip('no_such_module_gd')\n\n"
    pytester.makepyfile(test_skips=needs + "def test_runs():\n    pass\n")
    skipped = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist")
    assert skipped.ret == pytest.ExitCode.TESTS_FAILED
    skipped.stdout.fnmatch_lines(["*1 test(s) skipped, which fails the run*", "*test_skips.py::test_needs*"])
    ran = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist", "-k", "test_runs")
    assert ran.ret == pytest.ExitCode.OK and "skipped, which fails" not in ran.stdout.str()
