"""Every notebook runs top to bottom (on the built-in corpus), so one that breaks fails CI."""

import json
import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="notebook tests need the dev extra")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need the dev extra")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory):
    """One pair of runs for all notebooks, as a user's would be after the first one."""
    return tmp_path_factory.mktemp("notebook-runs")


def test_there_are_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert names == [
        "00_tour.ipynb", "01_cancellation.ipynb", "02_weights.ipynb", "03_probes.ipynb"
    ]  # fmt: skip


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, shared_runs, tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_NOTEBOOK_RUNS", str(shared_runs))
    monkeypatch.setenv("INTERP_NOTEBOOK_OUT", str(tmp_path / "results"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    root = str(Path(__file__).resolve().parents[1])
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    )
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError naming the cell that failed
    seconds = time.perf_counter() - t0
    errors = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors
    print(f"{path.name}: {seconds:.0f} s")
