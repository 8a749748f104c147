"""Training end to end with every loss config on the synthetic default (a few steps each): the
``train`` config composed as ``seglightning-train loss=<name>`` does, run in process; plus one run
of the console script itself."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seglightning import train as train_mod
from tests.conftest import train_config

CONF = Path(__file__).resolve().parents[2] / "conf" / "loss"
BINARY_ONLY = {"bce", "lovasz_hinge"}  # Mask R-CNN's mask head (model.mask_loss), not a semantic loss
SEMANTIC = sorted(p.stem for p in CONF.glob("*.yaml") if p.stem not in BINARY_ONLY)
FEW_STEPS = ("trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
             "trainer.limit_test_batches=1", "test_after_fit=false")


def logged_terms(run_dir: Path) -> set[str]:
    header = next(csv.reader(open(run_dir / "metrics.csv")))
    return {name for name in header if name.startswith("train/loss/")}


@pytest.mark.parametrize("name", SEMANTIC)
def test_train_a_few_steps(name: str, tmp_path: Path) -> None:
    result = train_mod.train(train_config(tmp_path, f"loss={name}", *FEW_STEPS))
    assert result["status"] == "complete"
    assert result["final"]["val/loss"] == result["final"]["val/loss"]  # not NaN
    assert logged_terms(tmp_path)  # every term logged as train/loss/<term>


@pytest.mark.slow
def test_console_script_with_scheduled_boundary_loss(tmp_path: Path) -> None:
    # the real entry point: the loop asks the datamodule for dist_map from the loss's `requires`
    script = Path(sys.executable).with_name("seglightning-train")
    overrides = [
        "loss=dice_boundary_scheduled", "data.dataset.length=8", "data.batch_size=4", "model.base_channels=4",
        "trainer.accelerator=cpu", "callbacks.progress_bar=none", "callbacks.overlays.num_images=1",
        "logger=[csv]", f"run_dir={tmp_path}", *FEW_STEPS,
    ]
    env = {**os.environ, "SEGLIGHTNING_OUTPUT": str(tmp_path / "outputs")}
    done = subprocess.run([str(script), *overrides], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "complete"
    assert {"train/loss/generalized_dice", "train/loss/boundary"} <= logged_terms(tmp_path)
