"""Shared fixtures: the bundled data sets, split as the README and issues state."""

import os
import tempfile

# Run (rather than skip) scikit-learn's array-API dispatch check with NumPy input;
# it needs SciPy's array-API mode, which must be set before SciPy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# Under xdist each worker's BLAS gets its share of the CPUs (as scikit-learn's own suite does), set before NumPy is
# imported and inherited by the processes tests start. OpenBLAS's threads wait for each other by spinning: two workers
# with a thread per CPU each made BLAS-heavy tests up to 50 times slower (scikit-learn's lbfgs on digits: 10 s, not
# 0.15 s). gdlearn's own kernel threads (GDLEARN_NUM_THREADS, OMP_NUM_THREADS) are left as they are.
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0):
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(max(1, cpus // workers)))

import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

matplotlib.use("Agg")

pytest_plugins = ["pytester"]  # tests/test_lint.py runs the suite's conftest on a test that skips

# Property tests explore new inputs on every local run (that is how the fuzzers keep finding
# bugs); CI (CI set in the environment) replays a fixed sequence, so a landing never depends on luck.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def housing():
    from gdlearn.datasets import load_housing

    return load_housing(return_X_y=True)


@pytest.fixture(scope="session")
def housing_std(housing):
    X, y = housing
    return (X - X.mean(0)) / X.std(0), y


@pytest.fixture(scope="session")
def breast_cancer():
    from gdlearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="session")
def breast_cancer_std(breast_cancer):
    X, y = breast_cancer
    return (X - X.mean(0)) / X.std(0), y


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def _working_directories(tmp_path_factory):
    return tmp_path_factory.mktemp("cwd")


@pytest.fixture(autouse=True)
def _outside_the_repository(_working_directories, monkeypatch):
    """Every test runs in an empty directory of its own, so that no relative path (``--out p.csv``) writes into the
    repository; tests name the repository's files by absolute path. (``tempfile.mkdtemp``: a numbered
    ``tmp_path_factory.mktemp`` lists every directory made before it, a cost that grows with each test.)"""
    monkeypatch.chdir(tempfile.mkdtemp(prefix="test-", dir=_working_directories))


# A skipped test did not run: the run fails on any skip, so that a missing dependency or a broken install cannot
# pass as green (the suite has no skip markers; this catches the ones a dependency or a platform would raise).
_SKIPPED: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPPED.append(report.nodeid)


def pytest_terminal_summary(terminalreporter):
    if _SKIPPED:
        terminalreporter.write_line(
            f"{len(_SKIPPED)} test(s) skipped, which fails the run: a skip hides what did not run. "
            'Install the test extra (pip install -e ".[test]") and Debian\'s chromium, or fix the cause:',
            red=True,
        )
        for nodeid in _SKIPPED:
            terminalreporter.write_line(f"  {nodeid}", red=True)


def pytest_sessionfinish(session, exitstatus):
    if _SKIPPED and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
