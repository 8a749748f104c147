"""Every architecture through ``seglightning-train ... data=synthetic trainer.max_steps=2`` on CPU
(the real config tree and training function), then checkpoint -> load -> identical logits."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from seglightning import train as train_mod
from seglightning.checkpointing.load_run import load_module
from seglightning.run import prepare as prepare_mod
from tests.conftest import train_config

COMMON = (
    "data=synthetic",
    "trainer.max_steps=2",
    "trainer.accelerator=cpu",
    "trainer.log_every_n_steps=1",
    "data.batch_size=2",
    "data.val_batch_size=2",
    "data.dataset.length=4",
    "callbacks.progress_bar=none",
    "callbacks.overlays.num_images=1",
    "logger=[csv]",
)

# model selection (small encoders keep CPU time low) and the loss terms the model adds
RUNS = {
    "unet_resnet34": (["model=unet_resnet34", "model.encoder=resnet18", "model.base_channels=4"], []),
    "deeplabv3": (
        ["model=deeplabv3", "model.encoder=resnet18", "model.aux=true"],
        ["ce.aux_logits", "dice.aux_logits"],
    ),
    "deeplabv3plus": (["model=deeplabv3plus", "model.encoder=mobilenetv3_large_100"], []),
    "fastfcn": (
        ["model=fastfcn", "model.encoder=resnet18", "model.jpu_width=32"],
        ["encnet_se.se_logits", "ce.aux_logits"],
    ),
    "gscnn": (["model=gscnn", "model.encoder=resnet18"], ["gscnn_edge", "gscnn_attention", "gscnn_dualtask"]),
    "smp": (["model=smp", "model.arch=fpn", "model.encoder=resnet18"], []),
    "maskrcnn": (
        ["model=maskrcnn", "loss=bce", "model.min_size=64", "model.max_size=64", "+model.box_batch_size_per_image=32"],
        ["loss_mask", "loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"],
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNS))
def test_train_and_reload(name, tmp_path, monkeypatch, one_thread):
    overrides, terms = RUNS[name]
    built = []
    original = prepare_mod.build_module

    def recording_build_module(cfg, dm):
        built.append(original(cfg, dm))
        return built[-1]

    monkeypatch.setattr(prepare_mod, "build_module", recording_build_module)
    result = train_mod.train(train_config(tmp_path, *COMMON, *overrides, fast=False))

    assert result["status"] == "complete"
    assert {"val/mIoU", "val/mDice", "val/bF1"} <= set(result["final"])
    header = next(csv.reader(open(tmp_path / "metrics.csv")))
    assert {"train/loss_step"} | {f"train/loss/{t}" for t in terms} <= set(header)

    # the module after fit+test holds the best checkpoint's weights: reloading that file must
    # give the same logits
    module = built[0].eval()
    ckpt = tmp_path / "checkpoints" / "best.ckpt"
    reloaded = load_module(ckpt)
    assert type(reloaded) is type(module)
    image = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(module(image)["logits"], reloaded(image)["logits"])
    assert json.loads((tmp_path / "metrics.json").read_text())["checkpoints"]["best"]
