"""VOC 2012 and VOC-aug: palette PNG indices, the devkit colour map, the SBD train list."""

from __future__ import annotations

import numpy as np
from PIL import Image

from seglightning.data import build_dataset
from seglightning.data.voc import VOC_CLASSES, voc_colormap


def test_devkit_colormap_and_class_names():
    cmap = voc_colormap()
    # values from the devkit's VOClabelcolormap.m
    assert cmap[0] == (0, 0, 0)
    assert cmap[1] == (128, 0, 0)
    assert cmap[2] == (0, 128, 0)
    assert cmap[3] == (128, 128, 0)
    assert cmap[4] == (0, 0, 128)
    assert cmap[15] == (192, 128, 128)
    assert cmap[20] == (0, 64, 128)
    assert cmap[255] == (224, 224, 192)
    assert len(VOC_CLASSES) == 21 and VOC_CLASSES[15] == "person" and VOC_CLASSES[20] == "tvmonitor"


def test_voc_masks_are_the_palette_indices(written, datamodule):
    root = written("voc")
    base = root / "VOCdevkit" / "VOC2012"
    dm = datamodule("voc", root)
    assert (dm.num_classes, dm.ignore_index, dm.class_names[1]) == (21, 255, "aeroplane")
    assert dm.palette[15] == (192, 128, 128)
    ids = (base / "ImageSets" / "Segmentation" / "val.txt").read_text().split()
    val = dm.dataset("val")
    assert len(val) == len(ids) == 2
    seen = set()
    for i, id_ in enumerate(ids):
        png = Image.open(base / "SegmentationClass" / f"{id_}.png")
        assert png.mode == "P"
        assert tuple(png.getpalette()[15 * 3 : 15 * 3 + 3]) == (192, 128, 128)  # the official palette
        raw = np.asarray(png)
        sample = val[i]
        assert sample["meta"]["id"] == id_
        np.testing.assert_array_equal(sample["mask"].numpy(), raw.astype(np.int64))
        assert sample["image"].shape == (3, *raw.shape)
        seen |= set(np.unique(raw).tolist())
    assert 255 in seen and 0 in seen and seen - {0, 255}  # void border, background, objects


def test_trainval_is_train_plus_val(written):
    root = written("voc")
    ids = [build_dataset("voc", root=root, split=s) for s in ("train", "val", "trainval")]
    assert [s.id for s in ids[2].samples] == [s.id for s in ids[0].samples] + [s.id for s in ids[1].samples]


def test_voc_aug_train_list_and_val(written, datamodule):
    root = written("voc_aug")
    base = root / "VOCdevkit" / "VOC2012"
    dm = datamodule("voc_aug", root)
    train = dm.dataset("train")
    lines = (base / "ImageSets" / "Segmentation" / "train_aug.txt").read_text().splitlines()
    assert lines[0].startswith("/JPEGImages/") and len(train) == len(lines) == 6
    for i in range(len(train)):
        item = train.base[i]
        assert "SegmentationClassAug" in item["meta"]["mask_path"]
        raw = np.asarray(Image.open(item["meta"]["mask_path"]))
        np.testing.assert_array_equal(train[i]["mask"].numpy(), raw)
    val = dm.dataset("val")
    assert all("SegmentationClass/" in val.base[i]["meta"]["mask_path"] for i in range(len(val)))
    assert not {s.id for s in train.base.samples} & {s.id for s in val.base.samples}
