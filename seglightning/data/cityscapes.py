"""Cityscapes (``cityscapes``): fine (or coarse) pixel labels, 19 train classes, instances.

On-disk layout (the official ``leftImg8bit_trainvaltest.zip`` + ``gtFine_trainvaltest.zip``;
``data.root`` is the folder holding both)::

    leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png
    gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_labelIds.png      uint8 labelIds 0-33
    gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_instanceIds.png   16/32-bit instance ids
    gtCoarse/{split}/{city}/..._gtCoarse_labelIds.png                    (annotations=coarse)

labelIds are mapped to the 19 trainIds of cityscapesScripts' ``labels.py`` (every other id,
including 0-6 and the trainId-255 classes parking, rail track, guard rail, bridge, tunnel,
polegroup, caravan, trailer -> 255). A labelId above 33 is an error naming the PNG.

Instances (``instances=True``): an instanceIds value ``v >= 1000`` is object ``v % 1000`` of labelId
``v // 1000``; a value ``< 1000`` of a class with instances is a group region ("persons"), returned
as one crowd instance (``iscrowd = 1``) per class, as detectron2's Cityscapes loader does. Only the
8 train classes with instances are kept: labels 1-8 = person, rider, car, truck, bus, train,
motorcycle, bicycle (caravan/trailer have trainId 255 and are skipped). The semantic mask stays the
official trainId mask (group regions keep their class), so semantic scores do not depend on the
``instances`` flag.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .io import DatasetError, LabelMap, check_same_size, read_index_png, require_dir
from .reader import Sample, SegmentationReader
from .registry import register_dataset


class CityscapesLabel(NamedTuple):
    name: str
    id: int
    train_id: int
    has_instances: bool
    color: tuple[int, int, int]


# name, labelId, trainId, hasInstances, colour (cityscapesScripts helpers/labels.py)
LABELS = (
    CityscapesLabel("unlabeled", 0, 255, False, (0, 0, 0)),
    CityscapesLabel("ego vehicle", 1, 255, False, (0, 0, 0)),
    CityscapesLabel("rectification border", 2, 255, False, (0, 0, 0)),
    CityscapesLabel("out of roi", 3, 255, False, (0, 0, 0)),
    CityscapesLabel("static", 4, 255, False, (0, 0, 0)),
    CityscapesLabel("dynamic", 5, 255, False, (111, 74, 0)),
    CityscapesLabel("ground", 6, 255, False, (81, 0, 81)),
    CityscapesLabel("road", 7, 0, False, (128, 64, 128)),
    CityscapesLabel("sidewalk", 8, 1, False, (244, 35, 232)),
    CityscapesLabel("parking", 9, 255, False, (250, 170, 160)),
    CityscapesLabel("rail track", 10, 255, False, (230, 150, 140)),
    CityscapesLabel("building", 11, 2, False, (70, 70, 70)),
    CityscapesLabel("wall", 12, 3, False, (102, 102, 156)),
    CityscapesLabel("fence", 13, 4, False, (190, 153, 153)),
    CityscapesLabel("guard rail", 14, 255, False, (180, 165, 180)),
    CityscapesLabel("bridge", 15, 255, False, (150, 100, 100)),
    CityscapesLabel("tunnel", 16, 255, False, (150, 120, 90)),
    CityscapesLabel("pole", 17, 5, False, (153, 153, 153)),
    CityscapesLabel("polegroup", 18, 255, False, (153, 153, 153)),
    CityscapesLabel("traffic light", 19, 6, False, (250, 170, 30)),
    CityscapesLabel("traffic sign", 20, 7, False, (220, 220, 0)),
    CityscapesLabel("vegetation", 21, 8, False, (107, 142, 35)),
    CityscapesLabel("terrain", 22, 9, False, (152, 251, 152)),
    CityscapesLabel("sky", 23, 10, False, (70, 130, 180)),
    CityscapesLabel("person", 24, 11, True, (220, 20, 60)),
    CityscapesLabel("rider", 25, 12, True, (255, 0, 0)),
    CityscapesLabel("car", 26, 13, True, (0, 0, 142)),
    CityscapesLabel("truck", 27, 14, True, (0, 0, 70)),
    CityscapesLabel("bus", 28, 15, True, (0, 60, 100)),
    CityscapesLabel("caravan", 29, 255, True, (0, 0, 90)),
    CityscapesLabel("trailer", 30, 255, True, (0, 0, 110)),
    CityscapesLabel("train", 31, 16, True, (0, 80, 100)),
    CityscapesLabel("motorcycle", 32, 17, True, (0, 0, 230)),
    CityscapesLabel("bicycle", 33, 18, True, (119, 11, 32)),
)
_TRAIN = sorted((lb for lb in LABELS if lb.train_id != 255), key=lambda lb: lb.train_id)
CITYSCAPES_CLASSES = tuple(lb.name for lb in _TRAIN)
CITYSCAPES_PALETTE = [lb.color for lb in _TRAIN]
LABEL_TO_TRAIN = LabelMap.from_mapping({lb.id: lb.train_id for lb in LABELS}, "Cityscapes labelIds 0-33")

# instance classes: train classes with instances, in trainId order -> labels 1..8
_THINGS = [lb for lb in _TRAIN if lb.has_instances]
INSTANCE_CLASSES = ("background", *(lb.name for lb in _THINGS))
_INSTANCE_LABEL = np.zeros(34, np.int64)  # labelId -> instance label (0 = not an instance class)
for _k, _lb in enumerate(_THINGS, start=1):
    _INSTANCE_LABEL[_lb.id] = _k

SUFFIX = "_leftImg8bit.png"


@register_dataset("cityscapes")
class CityscapesSegmentation(SegmentationReader):
    """Cityscapes with the official labelId -> trainId mapping (19 classes, 255 = ignore)."""

    splits = ("train", "val")  # "test" and "train_extra" (coarse) exist too; test labels are not public
    class_names = CITYSCAPES_CLASSES
    palette = CITYSCAPES_PALETTE
    instance_class_names = INSTANCE_CLASSES

    def __init__(self, root: str | Path, split: str = "train", instances: bool = False, annotations: str = "fine"):
        super().__init__(root, split, instances)
        if annotations not in ("fine", "coarse"):
            raise DatasetError(
                f"cityscapes annotations must be 'fine' or 'coarse', not '{annotations}' (data.annotations)"
            )
        gt = "gtFine" if annotations == "fine" else "gtCoarse"
        img_root = require_dir(
            self.root / "leftImg8bit" / split,
            f"Cityscapes images for split '{split}'",
            "set data.root to the folder holding leftImg8bit/ and gtFine/ (extract leftImg8bit_trainvaltest.zip there)",
        )
        gt_root = require_dir(
            self.root / gt / split,
            f"Cityscapes {gt} labels for split '{split}'",
            f"extract {gt}_trainvaltest.zip (or {gt}.zip) into data.root",
        )
        for city in sorted(e.name for e in os.scandir(img_root) if e.is_dir()):
            labels = {e.name for e in os.scandir(gt_root / city)} if (gt_root / city).is_dir() else set()
            found = set()
            for name in sorted(e.name for e in os.scandir(img_root / city) if e.name.endswith(SUFFIX)):
                stem = name[: -len(SUFFIX)]
                mask_name = f"{stem}_{gt}_labelIds.png"
                mask = gt_root / city / mask_name
                if mask_name not in labels:
                    self.index_problems.append(f"{mask}: missing {gt} label for image {img_root / city / name}")
                inst = gt_root / city / f"{stem}_{gt}_instanceIds.png"
                if instances and inst.name not in labels:
                    self.index_problems.append(f"{inst}: missing instanceIds for image {img_root / city / name}")
                found.add(mask_name)
                self.samples.append(Sample(stem, img_root / city / name, mask, extra={"instance_ids": inst}))
            for orphan in sorted(n for n in labels if n.endswith("_labelIds.png") and n not in found):
                self.index_problems.append(f"{gt_root / city / orphan}: label without its image in {img_root / city}")

    def read_mask(self, sample: Sample) -> np.ndarray:
        return LABEL_TO_TRAIN(read_index_png(sample.mask), sample.mask)

    def read_instance_ids(self, sample: Sample, mask: np.ndarray) -> np.ndarray:
        """``gtFine_instanceIds.png`` as int32, objects only (values ``>= 1000``; group regions and
        classes without instances -> 0), for the object metrics and Cityscapes iIoU."""
        path = sample.extra["instance_ids"]
        ids = read_index_png(path).astype(np.int32)
        check_same_size(sample.image, mask.shape, path, ids.shape)
        return np.where(ids >= 1000, ids, 0)

    def read_instances(self, sample: Sample, mask: np.ndarray) -> dict[str, np.ndarray]:
        path = sample.extra["instance_ids"]
        ids = read_index_png(path).astype(np.int64)
        check_same_size(sample.image, mask.shape, path, ids.shape)
        values = np.unique(ids)
        label_of = np.where(values >= 1000, values // 1000, values)
        if values.size and (values.min() < 0 or label_of.max() > 33):
            bad = values[(values < 0) | (label_of > 33)]
            raise DatasetError(
                f"{path}: instance ids {bad[:8].tolist()} encode labelIds outside 0-33 "
                "(expected labelId*1000+k for objects, the labelId for regions)"
            )
        masks, labels, crowd = [], [], []
        for v, lid in zip(values, label_of):
            k = _INSTANCE_LABEL[lid]
            if k == 0:
                continue
            masks.append(ids == v)
            labels.append(k)
            crowd.append(v < 1000)
        h, w = mask.shape
        return {
            "instance_masks": np.asarray(masks, np.uint8).reshape(len(masks), h, w),
            "instance_labels": np.asarray(labels, np.int64),
            "instance_iscrowd": np.asarray(crowd, np.uint8),
        }
