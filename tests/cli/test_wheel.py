"""A plain, non-editable install works from any directory: the wheel carries the configs and the
experiment recipes, the console scripts train, evaluate and report from an unrelated directory,
a user's own config directory adds a dataset config, and a run's stderr is free of noise.

The wheel is built once and installed with ``--no-deps`` into a fresh virtual environment whose
dependencies come from the project environment (a ``.pth`` line naming its site-packages, so
nothing is downloaded); the installed package itself is the wheel's copy, not the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from seglightning.testing import write_folder

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "model.base_channels=4",
    "trainer.max_epochs=1",
    "data.batch_size=4",
    "logger=[csv]",
    "callbacks.progress_bar=none",
    "callbacks.overlays.num_images=1",
    "trainer.log_every_n_steps=1",
]
NOISE = ("will be deleted", "Tip:", "DeprecationWarning", "FutureWarning", "is deprecated")

pytestmark = pytest.mark.slow


def _uv() -> list[str]:
    uv = shutil.which("uv")
    if uv:
        return [uv]
    return ["python3", "-m", "uv"]  # the Makefile installs uv with pip when it is missing


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed (no editable link to the checkout); its bin dir."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [*_uv(), "build", "--wheel", "--quiet", "--out-dir", str(tmp / "dist"), str(ROOT)],
        check=True,
    )
    wheel = next((tmp / "dist").glob("seglightning-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "seglightning/conf/train.yaml" in names and "seglightning/conf/data/folder.yaml" in names
    assert (
        "seglightning/conf/experiment/loss_ablation.yaml" in names
    )  # recipes ship (experiments/ links here)
    venv = tmp / "venv"
    subprocess.run([*_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            *_uv(),
            "pip",
            "install",
            "--quiet",
            "--offline",
            "--no-deps",
            "--python",
            str(python),
            str(wheel),
        ],
        check=True,
    )
    return venv / "bin"


def _run(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGLIGHTNING_", "PYTHON"))}
    env.update(HF_HUB_OFFLINE="1", SEGLIGHTNING_CACHE=str(cwd / "cache"))
    result = subprocess.run(
        [str(bin_dir / args[0]), *args[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    return result


def test_installed_wheel_trains_evaluates_and_reports_from_any_directory(installed, tmp_path):
    where = _run(
        installed, tmp_path, "python", "-c", "import seglightning; print(seglightning.__file__)"
    ).stdout
    assert (
        str(installed.parent) in where and str(ROOT) not in where
    )  # the wheel's copy, not the checkout

    train = _run(
        installed,
        tmp_path,
        "seglightning-train",
        *TINY,
        "data.dataset.length=8",
        "hydra.run.dir=runs/synthetic",
    )
    noise = [line for line in train.stderr.splitlines() if any(n in line for n in NOISE)]
    assert not noise, noise
    assert (
        json.loads((tmp_path / "runs/synthetic/metrics.json").read_text())["status"] == "complete"
    )

    _run(
        installed,
        tmp_path,
        "seglightning-eval",
        "ckpt=runs/synthetic/checkpoints/best.ckpt",
        "hydra.run.dir=eval",
        "trainer.accelerator=cpu",
        "inference.mode=slide",
        "inference.crop=[48,48]",
        "inference.stride=[32,32]",
    )
    evaluated = json.loads((tmp_path / "eval/metrics.json").read_text())
    assert evaluated["inference"] == {
        "mode": "slide",
        "crop": [48, 48],
        "stride": [32, 32],
        "scales": [1.0],
        "flip": False,
    }
    assert 0.0 <= evaluated["metrics"]["val/mIoU"] <= 1.0

    # a user's config directory adds a dataset config next to the shipped ones (README example)
    data = write_folder(tmp_path / "my_images", counts={"train": 4, "val": 2}, size=(48, 64))
    user = tmp_path / "my_conf" / "data"
    user.mkdir(parents=True)
    (user / "my_data.yaml").write_text(
        f"defaults:\n  - folder\n  - _self_\nroot: {data}\nnum_workers: 0\n"
        "transforms:\n  train: {preset: train_default, crop_size: [48, 48]}\n"
    )
    shown = _run(
        installed,
        tmp_path,
        "seglightning-train",
        "--config-dir",
        "my_conf",
        "data=my_data",
        "--cfg",
        "job",
    ).stdout
    assert f"root: {data}" in shown and "inference:" in shown
    _run(
        installed,
        tmp_path,
        "seglightning-train",
        "--config-dir",
        "my_conf",
        "data=my_data",
        *TINY,
        "hydra.run.dir=runs/folder",
    )
    assert json.loads((tmp_path / "runs/folder/metrics.json").read_text())["status"] == "complete"

    report = _run(installed, tmp_path, "seglightning-report", "runs", "--metrics", "final")
    assert (tmp_path / "runs" / "results-final.csv").is_file(), report.stdout  # --metrics final: suffixed
