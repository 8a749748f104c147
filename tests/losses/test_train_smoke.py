"""Training end to end with every loss config on the synthetic default (a few steps each): the
``train`` config composed as ``seglightning-train loss=<name>`` does, run in process; plus one run
of the console script itself."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from seglightning import train as train_mod
from seglightning.losses.spec import normalize_loss_spec
from tests.conftest import train_config

CONF = Path(__file__).resolve().parents[2] / "conf" / "loss"
BINARY_ONLY = {"bce", "lovasz_hinge"}  # Mask R-CNN's mask head (model.mask_loss), not a semantic loss
SEMANTIC = sorted(p.stem for p in CONF.glob("*.yaml") if p.stem not in BINARY_ONLY)
FEW_STEPS = ("trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
             "trainer.limit_test_batches=1", "test_after_fit=false")


def logged_terms(run_dir: Path) -> set[str]:
    header = next(csv.reader(open(run_dir / "metrics.csv")))
    return {name for name in header if name.startswith("train/loss/")}


def epoch_row(run_dir: Path) -> dict[str, str]:
    """The metrics.csv row with the first epoch's training-loss means."""
    (row,) = [r for r in csv.DictReader(open(run_dir / "metrics.csv")) if r.get("train/loss_epoch")]
    return row


def first_epoch_weights(spec) -> dict[str, float]:
    """Each term's weight at epoch 0, keyed as the loop logs it (``train/loss/<name>``)."""
    terms = normalize_loss_spec(OmegaConf.to_container(spec, resolve=True))
    return {f"train/loss/{t['name']}": t["schedule"]["start"] if "schedule" in t else t["weight"] for t in terms}


@pytest.mark.parametrize("name", SEMANTIC)
def test_train_a_few_steps(name: str, tmp_path: Path) -> None:
    cfg = train_config(tmp_path, f"loss={name}", *FEW_STEPS)
    result = train_mod.train(cfg)
    assert result["status"] == "complete"
    assert math.isfinite(result["final"]["val/loss"])
    weights = first_epoch_weights(cfg.loss)
    assert logged_terms(tmp_path) == set(weights)  # every term of the spec, and only those
    row = epoch_row(tmp_path)
    means = {k: float(row[k]) for k in weights}
    assert all(math.isfinite(v) for v in means.values()), means
    # the epoch's loss is the weighted sum of its terms' epoch means (means are linear)
    assert float(row["train/loss_epoch"]) == pytest.approx(sum(weights[k] * means[k] for k in weights), rel=1e-5)


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
