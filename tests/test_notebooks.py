"""Every notebook in notebooks/ runs top to bottom in a fresh python3 kernel (nbclient), in a
temporary working directory with wandb disabled, and is stored without outputs.

The notebooks are globbed, so a new notebook is tested as soon as it is added. A failing cell
fails its notebook's test with that cell's source and traceback. The kernel's environment has
ALPHAGO_JAX_REPO set to the checkout's root, for notebooks that read files shipped in the
repository (the working directory is not inside it).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 240  # one cell; a notebook as a whole should take well under a minute on CPU


@pytest.fixture(scope="module")
def jupyter_path(tmp_path_factory) -> Path:
    """A directory holding a `python3` kernelspec that runs *this* interpreter.

    Put first on JUPYTER_PATH, it shadows any installed python3 kernelspec (whose argv is just
    `python`, whichever that is on PATH), so the kernel imports the package under test.
    """
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)",
        "language": "python",
    }))
    return root


def test_notebooks_exist():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} hold outputs; clear them before committing"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, jupyter_path, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("ALPHAGO_JAX_REPO", str(REPO))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    t0 = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f"{path.name} failed:\n{e}", pytrace=False)
    print(f"{path.name}: {time.perf_counter() - t0:.1f} s")
    images = sum("image/png" in out.get("data", {})
                 for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
    assert images >= 1, f"{path.name} drew no figure"
