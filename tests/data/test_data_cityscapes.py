"""Cityscapes: the official labelId -> trainId mapping, colours, coarse labels, instanceIds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from seglightning.data import build_dataset
from seglightning.data.cityscapes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE

# labelId -> trainId of cityscapesScripts' labels.py, written out; every other id 0-33 -> 255
TRAIN_ID = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
            26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}  # fmt: skip


def expected_train_ids(label_ids: np.ndarray) -> np.ndarray:
    out = np.full(label_ids.shape, 255, np.int64)
    for lid, tid in TRAIN_ID.items():
        out[label_ids == lid] = tid
    return out


def test_classes_and_colours():
    assert len(CITYSCAPES_CLASSES) == 19
    assert CITYSCAPES_CLASSES[0] == "road" and CITYSCAPES_CLASSES[13] == "car" and CITYSCAPES_CLASSES[18] == "bicycle"
    assert CITYSCAPES_PALETTE[0] == (128, 64, 128) and CITYSCAPES_PALETTE[10] == (70, 130, 180)
    assert CITYSCAPES_PALETTE[11] == (220, 20, 60) and CITYSCAPES_PALETTE[18] == (119, 11, 32)


def test_label_ids_map_to_train_ids(written, datamodule):
    root = written("cityscapes")
    dm = datamodule("cityscapes", root)
    assert (dm.num_classes, dm.ignore_index) == (19, 255)
    seen: set[int] = set()
    for stage in ("train", "val"):
        ds = dm.dataset(stage)
        for i in range(len(ds)):
            meta = ds.base.samples[i]
            assert meta.image.name.endswith("_leftImg8bit.png") and meta.mask.name.endswith("_gtFine_labelIds.png")
            assert meta.mask.parent.name == meta.image.parent.name  # same city
            raw = np.asarray(Image.open(meta.mask))
            np.testing.assert_array_equal(ds[i]["mask"].numpy(), expected_train_ids(raw))
            seen |= set(np.unique(raw).tolist())
    # the fixture exercises void ids 0-6, 255-mapped train classes (parking 9, guard rail 14) and train ids
    assert {0, 1, 4, 6, 9, 14} <= seen and {7, 8, 23, 26, 24} <= seen


def test_coarse_annotations(written):
    root = written("cityscapes")
    ds = build_dataset("cityscapes", root=root, split="train", annotations="coarse")
    item = ds[0]
    assert "gtCoarse" in item["meta"]["mask_path"]
    raw = np.asarray(Image.open(item["meta"]["mask_path"]))
    np.testing.assert_array_equal(item["mask"], expected_train_ids(raw))


def instance_ids(path: str | Path) -> np.ndarray:
    return np.asarray(Image.open(path)).astype(np.int64)


def test_instances_from_instance_ids(written, datamodule):
    root = written("cityscapes")
    ds = build_dataset("cityscapes", root=root, split="train", instances=True)
    crowd_seen = objects_seen = 0
    for i in range(len(ds)):
        item = ds[i]
        ids = instance_ids(ds.samples[i].extra["instance_ids"])
        assert ids.max() >= 1000  # 16-bit values
        labels, crowd, masks = item["instance_labels"], item["instance_iscrowd"], item["instance_masks"]
        assert masks.dtype == np.uint8 and masks.shape[1:] == ids.shape and labels.dtype == np.int64
        # objects: labelId*1000+k of person(24)->1 ... bicycle(33)->8; groups: the bare labelId
        thing_label = {24: 1, 25: 2, 26: 3, 27: 4, 28: 5, 31: 6, 32: 7, 33: 8}
        expected = [(v, thing_label[v // 1000], 0) for v in np.unique(ids) if v >= 1000 and v // 1000 in thing_label]
        expected += [(v, thing_label[v], 1) for v in np.unique(ids) if v < 1000 and v in thing_label]
        assert sorted((int(lb), int(c)) for lb, c in zip(labels, crowd)) == sorted((lb, c) for _, lb, c in expected)
        for v, lb, c in expected:
            k = next(
                j
                for j in range(len(labels))
                if labels[j] == lb and crowd[j] == c and masks[j].astype(bool).sum() == (ids == v).sum()
            )
            np.testing.assert_array_equal(masks[k].astype(bool), ids == v)
        crowd_seen += int(crowd.sum())
        objects_seen += int((crowd == 0).sum())
    assert crowd_seen and objects_seen
    # the instance datamodule turns them into Mask R-CNN targets
    dm = datamodule("cityscapes", root, instances=True)
    target = dm.dataset("train")[0]["target"]
    assert set(target) >= {"boxes", "labels", "masks", "iscrowd"}
    assert len(target["labels"]) == len(ds[0]["instance_labels"])


def test_worker_extras_on_train_ids(written, datamodule):
    dm = datamodule("cityscapes", written("cityscapes"), extras=["dist_map", "edge"])
    item = dm.dataset("val")[0]
    assert item["dist_map"].shape == (19, *item["mask"].shape) and item["edge"].shape == item["mask"].shape
    present = set(item["mask"].unique().tolist()) - {255}
    assert all(item["dist_map"][c].abs().sum() > 0 for c in present)
    assert all(item["dist_map"][c].abs().sum() == 0 for c in set(range(19)) - present)
