"""Image/mask alignment after the train transforms, for every dataset.

The fixtures are written with ``paint_labels=True``: each image pixel carries a colour code of its
raw label. After the default train pipeline (random scale, pad, crop, flip; jitter off so colours
survive) the colour of every pixel inside a uniform mask region must decode to that pixel's
train id, and padded image pixels must carry the ignore label. Any geometric transform applied to
the image and not the mask (or differently) breaks this.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy.ndimage import maximum_filter, minimum_filter

from seglightning.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from seglightning.testing import probe_colors

CITYSCAPES_TRAIN = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
                    26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}  # fmt: skip


def probe_code(raws: list[int], train_of) -> tuple[np.ndarray, np.ndarray]:
    return probe_colors()[raws].astype(np.float64), np.array([train_of(r) for r in raws])


def code_table(name: str, root) -> tuple[np.ndarray, np.ndarray]:
    """(colours [K,3], train id [K]) of the raw labels the fixture of ``name`` paints."""
    if name in ("voc", "voc_aug"):
        return probe_code([*range(21), 255], lambda r: r)
    if name == "cityscapes":
        return probe_code(list(range(34)), lambda r: CITYSCAPES_TRAIN.get(r, 255))
    if name == "camvid":
        return probe_code(list(range(12)), lambda r: 255 if r == 11 else r)
    if name == "camvid32":
        with open(root / "class_dict.csv", newline="") as f:
            rows = list(csv.reader(f))[1:]
        return np.array([[int(v) for v in r[1:]] for r in rows], np.float64), np.arange(len(rows))
    if name == "coco":
        return probe_code(list(range(5)), lambda r: r)
    if name == "coco_voc":  # synthetic class -> category 1, 5, 44, 90 -> VOC person, aeroplane, bottle, -
        return probe_code(list(range(5)), {0: 0, 1: 15, 2: 1, 3: 5, 4: 0}.__getitem__)
    return probe_code([0, 1, 2, 3, 4, 255], lambda r: r)  # folder


TRAIN = {"preset": "train_default", "crop_size": [48, 64], "scale": [0.5, 2.0], "hflip": 0.5, "jitter": 0.0}


@pytest.mark.parametrize("name", ["voc", "voc_aug", "cityscapes", "camvid", "camvid32", "coco", "coco_voc", "folder"])
def test_train_transforms_keep_image_and_mask_aligned(name, written, datamodule):
    root = written("coco" if name == "coco_voc" else name, paint_labels=True)
    colours, train_ids = code_table(name, root)
    dm = datamodule(name, root, transforms={"train": TRAIN, "val": {"preset": "val_default"}})
    ds = dm.dataset("train")
    mean, std = np.array(IMAGENET_MEAN)[:, None, None], np.array(IMAGENET_STD)[:, None, None]
    checked = agree = padded = control = 0
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            out = ds[i]
            image = ((out["image"].numpy() * std + mean) * 255).transpose(1, 2, 0)
            mask = out["mask"].numpy()
            assert image.shape[:2] == mask.shape == (48, 64)
            # padding: black image pixels carry the ignore label (camvid32's Void code is black itself)
            black = image.max(-1) < 4
            if name != "camvid32":
                assert (mask[black] == 255).all()
            padded += int(black.sum())
            # interior pixels (uniform 7x7 mask neighbourhood, not void): colour code == train id
            uniform = (
                (minimum_filter(mask, 7, mode="nearest") == maximum_filter(mask, 7, mode="nearest"))
                & (mask != 255)
                & ~black
            )
            pix = image[uniform]
            decoded = train_ids[np.argmin(((pix[:, None, :] - colours[None]) ** 2).sum(-1), axis=1)]
            checked += len(pix)
            agree += int((decoded == mask[uniform]).sum())
            control += int((decoded == np.fliplr(mask)[uniform]).sum())  # a misaligned mask
    assert checked > 2000 and padded > 0
    assert agree / checked > 0.995, f"{name}: only {agree}/{checked} interior pixels agree"
    assert control / checked < 0.95  # the check tells a flipped mask apart
