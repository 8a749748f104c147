"""Shared by the sweep and notebook tests: tiny model configs, shrink overrides, CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent

# Four CPU steps per job (16 samples of 32x32, one epoch, constant lr: enough for the losses to differ).
SHRINK = (
    "trainer.max_epochs=1",
    "trainer.accelerator=cpu",
    "trainer.log_every_n_steps=1",
    "scheduler=constant",
    "optim.lr=0.01",
    "data.dataset.length=16",
    "data.dataset.size=[32,32]",
    "data.transforms.train.crop_size=[32,32]",
    "data.batch_size=4",
    "data.val_batch_size=8",
    "logger=[csv]",
    "callbacks.overlays.num_images=1",
    "callbacks.lr_monitor=false",
)

# The two architectures of the test grids, narrowed for CPU (same code as unet / deeplabv3plus).
TINY_MODELS = {
    "tiny_unet": "defaults: [unet, _self_]\nbase_channels: 8\n",
    "tiny_deeplabv3plus": (
        "defaults: [deeplabv3plus, _self_]\nencoder: resnet10t\naspp_channels: 16\nlow_level_channels: 8\n"
    ),
}


def tiny_model_searchpath(root: Path) -> str:
    """Write the tiny model configs under ``root/model`` and return the Hydra override that finds them."""
    (root / "model").mkdir(parents=True, exist_ok=True)
    for name, text in TINY_MODELS.items():
        (root / "model" / f"{name}.yaml").write_text(text)
    return f"hydra.searchpath=[file://{root}]"


def run_cli(command: str, *args: str, output: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run a console script of the venv in ``output`` (its working dir, outputs and caches);
    stdout and stderr merged."""
    output.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SEGLIGHTNING_OUTPUT": str(output), "SEGLIGHTNING_CACHE": str(output / "cache")}
    return subprocess.run(
        [str(BIN / command), *args],
        cwd=output,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
