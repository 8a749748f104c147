"""Bad masks are found before training (``data.validate: masks``, the default), and a bad file met
in a loader worker reaches the user as one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torch.utils.data import DataLoader

from seglightning.data import build_dataset
from seglightning.data.io import DatasetError
from tests.conftest import compose_config

BIN = Path(sys.executable).parent


@pytest.fixture
def cityscapes(written, tmp_path) -> Path:
    root = tmp_path / "cityscapes"
    shutil.copytree(written("cityscapes"), root)
    return root


def _labels(root: Path) -> list[Path]:
    return sorted((root / "gtFine" / "train").rglob("*_gtFine_labelIds.png"))


def _out_of_range(label: Path) -> None:
    arr = np.asarray(Image.open(label)).copy()
    arr[3, 3] = 40  # Cityscapes labelIds are 0-33
    Image.fromarray(arr).save(label)


def _truncate(label: Path) -> None:
    data = label.read_bytes()
    label.write_bytes(data[: len(data) // 2])  # the header still reads; decoding fails


@pytest.mark.parametrize(("damage", "match"), [(_out_of_range, "label values 40"), (_truncate, "cannot read label")])
def test_default_validation_decodes_every_mask(cityscapes, datamodule, damage, match):
    label = _labels(cityscapes)[-1]
    damage(label)
    datamodule("cityscapes", cityscapes, validate="header")  # the old default let it through to training
    with pytest.raises(DatasetError, match=match) as err:
        datamodule("cityscapes", cityscapes)
    assert str(label) in str(err.value)


def test_threads_find_the_same_problems_in_order(cityscapes):
    for label in _labels(cityscapes)[::2]:
        _out_of_range(label)
    ds = build_dataset("cityscapes", root=cityscapes, split="train")
    serial = ds.problems("masks", workers=1)
    assert len(serial) == len(_labels(cityscapes)[::2])
    assert ds.problems("masks", workers=4) == serial
    assert ds.problems("masks", limit=1, workers=4) == serial[:1]
    assert ds.problems("header") == []


@pytest.mark.parametrize("name", ["voc", "voc_aug", "cityscapes", "camvid", "camvid32", "folder"])
def test_masks_is_the_configured_default(name):
    assert compose_config("train", [f"data={name}"]).data.validate == "masks"


class _Bad:
    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> int:
        raise DatasetError("/data/x.png: label values 40 outside the valid set; fix or regenerate this mask")


def test_worker_error_keeps_its_message():
    with pytest.raises(DatasetError) as err:
        next(iter(DataLoader(_Bad(), num_workers=1)))
    assert "Original Traceback" in str(err.value)
    assert err.value.reason() == "/data/x.png: label values 40 outside the valid set; fix or regenerate this mask"
    assert DatasetError("plain").reason() == "plain"


@pytest.mark.slow
def test_bad_mask_met_in_a_worker_is_one_line(cityscapes, tmp_path):
    label = _labels(cityscapes)[0]
    _out_of_range(label)
    args = [
        "data=cityscapes", f"data.root={cityscapes}", "data.validate=none", "data.num_workers=1",
        "data.batch_size=2", "data.transforms.train.crop_size=[48,64]", "model.base_channels=4",
        "trainer.max_steps=4", "trainer.accelerator=cpu", "callbacks.progress_bar=none", "logger=[csv]",
    ]  # fmt: skip
    env = {**os.environ, "SEGLIGHTNING_OUTPUT": str(tmp_path / "outputs")}
    proc = subprocess.run(
        [str(BIN / "seglightning-train"), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"seglightning-train: {label}: label values 40 outside the valid set"), proc.stderr
    assert "fix or regenerate this mask" in last
