"""A train crop larger than the images is said once per run; one that would pad more than the image is refused."""

from __future__ import annotations

import warnings

import pytest

from seglightning.data import build_datamodule


def _datamodule(crop, name="synthetic", **kwargs):
    dm = build_datamodule(
        name,
        batch_size=2,
        num_workers=0,
        dataset={"size": [64, 96], "length": 4},
        transforms={"train": {"preset": "train_default", "crop_size": crop}, "val": {"preset": "val_default"}},
        **kwargs,
    )
    return dm


def test_crop_larger_than_image_warns_once_naming_both_sizes():
    dm = _datamodule([96, 96])
    with pytest.warns(
        UserWarning, match=r"crop_size=\[96, 96\] is larger than the images: crop 96x96 \(HxW\) vs image 64x96"
    ) as seen:
        dm.setup("fit")
        dm.setup("fit")
        dm.setup("validate")
    assert len([w for w in seen if "crop_size" in str(w.message)]) == 1


def test_crop_within_image_is_silent():
    dm = _datamodule([64, 96])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dm.setup("fit")


def test_padding_larger_than_image_is_refused():
    dm = _datamodule([512, 1024])
    with pytest.raises(
        ValueError,
        match=r"crop_size=\[512, 1024\]: crop 512x1024 \(HxW\) vs image 64x96.*use a crop of at most \[64, 96\]",
    ):
        dm.setup("fit")


def test_on_disk_reader_uses_the_image_header(written):
    dm = build_datamodule(
        "camvid",
        root=str(written("camvid")),
        batch_size=2,
        num_workers=0,
        transforms={"train": {"preset": "train_default", "crop_size": [80, 96]}, "val": {"preset": "val_default"}},
    )
    with pytest.warns(UserWarning, match=r"vs image 64x96 \(first camvid train image\)"):
        dm.setup("fit")
