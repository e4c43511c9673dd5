"""Every shell and Python example of the README and docs/ runs as written, so the docs and the code cannot drift.

The examples are read from the Markdown (```bash and ```python blocks) and run in order, file by file, in a
directory holding a copy of ``examples/`` (the README's commands run from the repository's root). Shell lines run
through ``gdlearn.cli.main``; the lines that install packages or run the test and mutation tools are not run here
(CI runs them), and the test checks that they are exactly those, so no gdlearn example is ever skipped.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from gdlearn.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = re.compile(r"^(\w+=\S* )*(pip install|pytest|mutmut)\b")  # installers and the test tools: CI runs those


def blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.S | re.M)


def shell_lines(path: Path) -> list[str]:
    lines = [line.split("  #")[0].strip() for block in blocks(path, "bash") for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_docs_have_examples_and_only_installers_and_test_tools_are_not_run():
    skipped = [line for path in DOCS for line in shell_lines(path) if not line.startswith("gdlearn ")]
    assert skipped and all(NOT_RUN.match(line) for line in skipped), skipped
    assert sum(len(blocks(p, "python")) for p in DOCS) >= 10 and sum(len(shell_lines(p)) for p in DOCS) >= 10


@pytest.mark.parametrize(
    "path",
    [p for p in DOCS if any(s.startswith("gdlearn ") for s in shell_lines(p))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_shell_example_runs_as_written(workdir, path):
    for line in (s for s in shell_lines(path) if s.startswith("gdlearn ")):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(shlex.split(line)[1:])
        assert status == 0, f"{path.name}: {line}\n{err.getvalue()}"


@pytest.mark.parametrize("path", [p for p in DOCS if blocks(p, "python")], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_example_runs_as_written(workdir, path):
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some examples stop at max_iter on purpose
        for block in blocks(path, "python"):
            exec(compile(block, f"{path.name} example", "exec"), namespace)  # noqa: S102 - our own docs
    plt.close("all")
