"""``seglightning-train data=<name> data.root=<fixture>`` trains two steps and validates for every dataset.

The real ``train`` config is composed with those overrides and handed to the train entry point in
this process (what the console script does after parsing; a subprocess per dataset would spend
most of its time importing torch).
"""

from __future__ import annotations

import json

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from seglightning.cli import CONFIG_DIR
from seglightning.train import train

DATASETS = ["voc", "voc_aug", "cityscapes", "camvid", "camvid32", "coco", "coco_voc", "folder"]
SMALL = [
    "trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.accelerator=cpu", "data.num_workers=0",
    "data.batch_size=2",
    "data.val_batch_size=2", "data.transforms.train.crop_size=[48,64]", "model.base_channels=4",
    "callbacks.progress_bar=none", "callbacks.overlays.num_images=1", "logger=[csv]",
    "trainer.limit_val_batches=1", "test_after_fit=false",
]  # fmt: skip


@pytest.mark.parametrize("name", DATASETS)
def test_train_two_steps(name, written, tmp_path):
    root = written("coco" if name == "coco_voc" else name)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"data={name}", f"data.root={root}", *SMALL])
    with open_dict(cfg):
        cfg.run_dir = str(tmp_path / "run")
    result = train(cfg)
    assert result["status"] == "complete"
    final = json.loads((tmp_path / "run" / "metrics.json").read_text())["final"]
    assert 0.0 <= final["val/mIoU"] <= 1.0 and 0.0 <= final["val/pixel_acc"] <= 1.0
    # mIoU is the mean of the per-class IoUs that are defined (null: class absent from both masks)
    per_class = [v for k, v in final.items() if k.startswith("val/IoU/") and v is not None]
    assert per_class and final["val/mIoU"] == pytest.approx(sum(per_class) / len(per_class), rel=1e-5)

