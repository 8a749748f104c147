"""COCO: polygon / RLE rasterisation, crowd -> void, category-id remap, overlap rules, instances."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from seglightning.data import build_dataset
from seglightning.testing import RECTS_FILE

H, W = 64, 96
CLASS_OF = {1: 1, 5: 2, 44: 3, 90: 4}  # the fixture's category ids 1, 5, 44, 90 in id order


def rect(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


# the fixture's hand-checkable image (seglightning.testing.coco_rects), written out here
AIRPLANE, BOTTLE, CROWD, TOOTHBRUSH = (
    rect(8, 8, 56, 40),
    rect(24, 16, 40, 32),
    rect(48, 24, 80, 48),
    rect(60, 2, 80, 12),
)


def rects_index(ds) -> int:
    return next(i for i, s in enumerate(ds.samples) if s.image.name == RECTS_FILE)


def test_json_has_polygons_rle_crowd_and_sparse_ids(written):
    js = json.loads((written("coco") / "annotations" / "instances_train2017.json").read_text())
    assert sorted(c["id"] for c in js["categories"]) == [1, 5, 44, 90]
    kinds = {
        ("polygon" if isinstance(a["segmentation"], list) else type(a["segmentation"]["counts"]).__name__, a["iscrowd"])
        for a in js["annotations"]
    }
    assert {("polygon", 0), ("list", 1), ("str", 0)} <= kinds  # polygons, uncompressed RLE crowd, compressed RLE


@pytest.mark.parametrize("split", ["train", "val"])
def test_semantic_rects_smaller_on_top(written, datamodule, split):
    dm = datamodule("coco", written("coco"))
    assert dm.num_classes == 5 and dm.class_names == ["background", "person", "airplane", "bottle", "toothbrush"]
    ds = dm.dataset(split)
    expected = np.zeros((H, W), np.int64)
    expected[CROWD] = 255  # crowd -> void ...
    expected[AIRPLANE] = 2  # ... under explicit instances; larger first
    expected[BOTTLE] = 3  # the smaller object stays on top
    expected[TOOTHBRUSH] = 4  # compressed RLE, category id 90 -> 4
    np.testing.assert_array_equal(ds[rects_index(ds.base)]["mask"].numpy(), expected)


def test_semantic_rects_overlap_void(written):
    ds = build_dataset("coco", root=written("coco"), split="val", overlap="void")
    expected = np.zeros((H, W), np.int64)
    expected[CROWD] = 255
    expected[AIRPLANE] = 2
    expected[AIRPLANE & BOTTLE] = 255
    expected[TOOTHBRUSH] = 4
    np.testing.assert_array_equal(ds[rects_index(ds)]["mask"], expected)


def test_coco_voc_subset_view(written, datamodule):
    dm = datamodule("coco_voc", written("coco"))
    assert dm.num_classes == 21 and dm.class_names[1] == "aeroplane" and dm.class_names[15] == "person"
    ds = dm.dataset("val")
    expected = np.zeros((H, W), np.int64)
    expected[CROWD] = 255  # person crowd
    expected[AIRPLANE] = 1  # COCO airplane (5) -> VOC aeroplane
    expected[AIRPLANE & BOTTLE] = 255  # torchvision: overlapping instances -> void
    # toothbrush (90) is not a VOC category: background
    np.testing.assert_array_equal(ds[rects_index(ds.base)]["mask"].numpy(), expected)


def test_coco_voc_train_min_area_filter(written):
    root = written("coco")
    everything = build_dataset("coco_voc", root=root, split="train")
    filtered = build_dataset("coco_voc", root=root, split="train", train_min_area=1000)
    js = json.loads((root / "annotations" / "instances_train2017.json").read_text())
    voc_ids = {1, 5, 44}
    area = {
        img["id"]: sum(
            a["area"] for a in js["annotations"] if a["image_id"] == img["id"] and a["category_id"] in voc_ids
        )
        for img in js["images"]
    }
    assert [s.extra["image_id"] for s in filtered.samples] == [i for i in sorted(area) if area[i] > 1000]
    assert len(everything) == len(js["images"]) > len(filtered) > 0


def test_synthetic_images_remap_and_crowd(written):
    root = written("coco")
    ds = build_dataset("coco", root=root, split="train")
    js = json.loads((root / "annotations" / "instances_train2017.json").read_text())
    crowd_pixels = 0
    for i, sample in enumerate(ds.samples):
        anns = [a for a in js["annotations"] if a["image_id"] == sample.extra["image_id"]]
        masks = []
        for a in anns:
            seg = a["segmentation"]
            if isinstance(seg, list):
                rle = mask_utils.merge(mask_utils.frPyObjects(seg, H, W))
            elif isinstance(seg["counts"], list):
                rle = mask_utils.frPyObjects(seg, H, W)
            else:
                rle = {"size": seg["size"], "counts": seg["counts"].encode()}
            masks.append(mask_utils.decode(rle).astype(bool))
        count = np.sum(masks, axis=0) if masks else np.zeros((H, W))
        mask = ds[i]["mask"]
        np.testing.assert_array_equal(mask[count == 0], 0)
        for a, m in zip(anns, masks):
            alone = m & (count == 1)
            np.testing.assert_array_equal(mask[alone], 255 if a["iscrowd"] else CLASS_OF[a["category_id"]])
            crowd_pixels += int(alone.sum()) if a["iscrowd"] else 0
    assert crowd_pixels > 0


def test_instances(written, datamodule):
    root = written("coco")
    ds = build_dataset("coco", root=root, split="val", instances=True)
    item = ds[rects_index(ds)]
    assert item["instance_labels"].tolist() == [2, 3, 1, 4]  # annotation order; ids 5, 44, 1, 90
    assert item["instance_iscrowd"].tolist() == [0, 0, 1, 0]
    for m, r in zip(item["instance_masks"], (AIRPLANE, BOTTLE, CROWD, TOOTHBRUSH)):
        np.testing.assert_array_equal(m.astype(bool), r)
    dm = datamodule("coco", root, instances=True)
    target = dm.dataset("val")[rects_index(ds)]["target"]
    np.testing.assert_array_equal(
        target["boxes"].numpy(), [[8, 8, 56, 40], [24, 16, 40, 32], [48, 24, 80, 48], [60, 2, 80, 12]]
    )
