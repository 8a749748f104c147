"""Both notebooks execute top to bottom (nbclient, a kernel of this interpreter): the quickstart on
the synthetic data, compare_sweep on a tiny sweep made here with seglightning-train -m."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.sweeps.helpers import SHRINK, run_cli, tiny_model_searchpath

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL = "seglightning-tests"


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec for this interpreter in a temporary Jupyter path (nothing installed for the user)."""
    from ipykernel.kernelspec import write_kernel_spec

    write_kernel_spec(tmp_path / "jupyter" / "kernels" / KERNEL)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return KERNEL


def execute(name: str, parameters: str, kernel: str, workdir: Path) -> nbformat.NotebookNode:
    """Run a notebook with its ``parameters`` cell replaced; the executed copy is saved in ``workdir``."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = parameters
    NotebookClient(nb, kernel_name=kernel, timeout=600, resources={"metadata": {"path": str(workdir)}}).execute()
    nbformat.write(nb, workdir / name)
    return nb


def outputs(nb: nbformat.NotebookNode, mime: str) -> list[str]:
    return [o["data"][mime] for c in nb.cells if c.cell_type == "code" for o in c.outputs if mime in o.get("data", {})]


def test_quickstart_trains_and_shows_overlays_and_metrics(kernel, tmp_path):
    nb = execute("quickstart.ipynb", f'model = "unet"\nloss = "ce_dice"\nmax_epochs = 1\ndataset_length = 8\n'
                 f'accelerator = "cpu"\noutput_dir = "{tmp_path / "run"}"', kernel, tmp_path)
    assert (tmp_path / "run" / "metrics.json").is_file()
    tables = outputs(nb, "text/markdown")
    assert any(t.startswith("| metric | final | best | test |") and "| mIoU |" in t for t in tables)
    assert len(outputs(nb, "image/png")) == 4 + 1  # the default 4 overlay panels + the learning curves


def test_compare_sweep_on_a_tiny_sweep(kernel, tmp_path):
    proc = run_cli(
        "seglightning-train",
        "-m",
        "experiment=loss_ablation",
        "sweep_name=nb",
        "loss=ce,dice",
        "model=tiny_unet",
        "seed=0,1",
        tiny_model_searchpath(tmp_path / "conf"),
        *SHRINK,
        output=tmp_path / "out",
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    sweep = tmp_path / "out" / "sweeps" / "nb"
    nb = execute("compare_sweep.ipynb", f'sweep_dir = "{sweep}"\nmetrics_from = "best"', kernel, tmp_path)
    text = "\n".join(outputs(nb, "text/markdown"))
    assert "| ce | tiny_unet | 2 |" in text and "| dice | tiny_unet | 2 |" in text
    assert "| class | ce/tiny_unet | dice/tiny_unet |" in text
    assert len(outputs(nb, "image/png")) == 4  # heatmap, bars, per class, learning curves
