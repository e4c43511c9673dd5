"""The tutorial notebook runs top to bottom without errors, and is committed without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat  # required test dependencies (the test extra): a missing one must fail, not skip
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "learning-through-gradient-descent.ipynb"


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.slow
def test_notebook_runs_without_errors(tmp_path):
    import nbclient  # imported here: only the worker that runs the notebook pays for it

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    # the story the notebook tells actually happened
    assert "diverged at iteration" in text
    assert "largest difference of the loss curves" in text
    images = [o for o in outputs if "data" in o and "image/png" in o["data"]]
    assert len(images) >= 6
    assert list(tmp_path.iterdir()) == []  # the notebook writes no files
