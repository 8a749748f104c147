"""CamVid: SegNet 11-class index labels (11 -> void) and the 32-class RGB labels via class_dict.csv."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from seglightning.data import build_dataset
from seglightning.data.io import DatasetError


def test_camvid11_labels(written, datamodule):
    root = written("camvid")
    dm = datamodule("camvid", root, splits={"test": "test"})
    assert (dm.num_classes, dm.class_names[0], dm.class_names[10]) == (11, "Sky", "Bicyclist")
    seen: set[int] = set()
    for stage in ("train", "val", "test"):
        ds = dm.dataset(stage)
        for i in range(len(ds)):
            sample = ds.base.samples[i]
            assert (
                sample.mask.parent.name == f"{sample.image.parent.name}annot" and sample.mask.name == sample.image.name
            )
            raw = np.asarray(Image.open(sample.mask)).astype(np.int64)
            expected = np.where(raw == 11, 255, raw)
            np.testing.assert_array_equal(ds[i]["mask"].numpy(), expected)
            seen |= set(np.unique(raw).tolist())
    assert 11 in seen and {0, 3, 8} <= seen


def class_dict(path) -> dict[tuple[int, int, int], int]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["name", "r", "g", "b"] and len(rows) == 33
    return {(int(r), int(g), int(b)): k for k, (_, r, g, b) in enumerate(rows[1:])}


def test_camvid32_colours_map_in_csv_order(written, datamodule):
    root = written("camvid32")
    index = class_dict(root / "class_dict.csv")
    assert index[(64, 0, 128)] == 5 and index[(0, 0, 0)] == 30  # Car, Void
    dm = datamodule("camvid32", root)
    assert dm.num_classes == 32 and dm.class_names[5] == "Car" and dm.palette[5] == (64, 0, 128)
    ds = dm.dataset("val")
    for i in range(len(ds)):
        sample = ds.base.samples[i]
        assert sample.mask.name == f"{sample.image.stem}_L.png" and sample.mask.parent.name == "val_labels"
        rgb = np.asarray(Image.open(sample.mask).convert("RGB"))
        expected = np.vectorize(lambda r, g, b: index[(r, g, b)])(rgb[..., 0], rgb[..., 1], rgb[..., 2])
        np.testing.assert_array_equal(ds[i]["mask"].numpy(), expected)


def test_camvid32_void_classes(written):
    root = written("camvid32")
    full = build_dataset("camvid32", root=root, split="train")
    ds = build_dataset("camvid32", root=root, split="train", void_classes=["Void"])
    assert ds.num_classes == 31 and "Void" not in ds.class_names and ds.class_names[30] == "Wall"
    a, b = full[0]["mask"], ds[0]["mask"]
    np.testing.assert_array_equal(b[a == 30], 255)
    np.testing.assert_array_equal(b[a < 30], a[a < 30])
    np.testing.assert_array_equal(b[a == 31], 30)
    with pytest.raises(DatasetError, match="class_dict.csv"):
        build_dataset("camvid32", root=root, split="train", void_classes=["Nothing"])
