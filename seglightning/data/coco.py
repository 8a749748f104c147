"""COCO 2017 through pycocotools: semantic view (``coco``), VOC-subset view (``coco_voc``), instances.

On-disk layout (``data.root`` holds both)::

    annotations/instances_{train,val}2017.json
    {train,val}2017/<file_name>                      (``file_name`` from the json)

Categories: the non-contiguous category ids of the json (1..90 with gaps in COCO) are numbered
in increasing id order, 1..K (``coco``: K = 80); 0 is background. ``coco_voc`` keeps the 20 VOC
categories in VOC order (torchvision's segmentation reference ``CAT_LIST``); every other
category is background.

Semantic rasterisation (masks from polygons, uncompressed and compressed RLE via
``COCO.annToMask``), deterministic whatever the json order:

1. background 0 everywhere; 2. crowd (``iscrowd = 1``) regions of kept categories -> void (255);
3. non-crowd instances, by ``overlap``:

   - ``"smaller_on_top"`` (``coco`` default): painted from largest to smallest rasterised area
     (ties: lower annotation id first), so a small object lying on a large one stays visible;
   - ``"void"`` (``coco_voc`` default, torchvision's ``ConvertCocoPolysToMask``): a pixel covered by
     exactly one instance gets its class, by two or more -> void.

   Instance pixels win over crowd void.

Instances (``instances=True``): one entry per kept annotation with a non-empty mask, in annotation
id order; ``instance_labels`` = the contiguous class index (1..K), ``instance_iscrowd`` from the
json. An annotation whose bbox, polygon or RLE size lies outside its image (by more than
``tolerance`` px), an unknown category or image id, a missing image file, or a json width/height
that differs from the image file is a problem naming the json (and the image); loading such an
image raises. ``train_min_area`` > 0 keeps only train images whose kept annotations cover more
than that area (torchvision uses 1000 for its COCO-VOC train set).
"""

from __future__ import annotations

import contextlib
import io as _io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .io import DatasetError, require_dir
from .reader import Sample, SegmentationReader
from .registry import register_dataset
from .voc import VOC_CLASSES, VOC_PALETTE, voc_colormap

# torchvision references/segmentation CAT_LIST: COCO category id of each VOC class (0 = background)
VOC_CATEGORY_IDS = (0, 5, 2, 16, 9, 44, 6, 3, 17, 62, 21, 67, 18, 19, 4, 1, 64, 20, 63, 7, 72)
OVERLAP_RULES = ("smaller_on_top", "void")


def load_coco(ann_file: Path) -> Any:
    """``pycocotools.coco.COCO`` of ``ann_file`` (quiet); a missing or broken json raises DatasetError."""
    try:
        from pycocotools.coco import COCO
    except ImportError:  # pragma: no cover - optional dependency
        raise ImportError("COCO needs pycocotools: pip install 'seglightning[coco]'") from None
    if not ann_file.is_file():
        raise DatasetError(
            f"{ann_file}: COCO annotation file not found; "
            "set data.root to the folder holding annotations/ and the image folders"
        )
    try:
        with contextlib.redirect_stdout(_io.StringIO()):
            return COCO(str(ann_file))
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise DatasetError(f"{ann_file}: not a valid COCO instances json ({err!r})") from None


def annotation_problem(ann: dict[str, Any], width: int, height: int, tolerance: float) -> str | None:
    """Why ``ann`` does not fit a ``width`` x ``height`` image, or None."""
    seg = ann.get("segmentation")
    if isinstance(seg, dict):
        size = list(seg.get("size", []))
        if size != [height, width]:
            return f"RLE size {size} (HxW) differs from the image {height}x{width}"
    elif isinstance(seg, list):
        for poly in seg:
            xy = np.asarray(poly, dtype=np.float64).reshape(-1, 2) if len(poly) % 2 == 0 else None
            if xy is None or len(xy) < 3:
                return "polygon with fewer than 3 points or an odd number of coordinates"
            if (
                xy[:, 0].min() < -tolerance
                or xy[:, 1].min() < -tolerance
                or xy[:, 0].max() > width + tolerance
                or xy[:, 1].max() > height + tolerance
            ):
                x_range = f"[{xy[:, 0].min():g}, {xy[:, 0].max():g}]"
                y_range = f"[{xy[:, 1].min():g}, {xy[:, 1].max():g}]"
                return f"polygon x range {x_range}, y range {y_range} outside the {width}x{height} image"
    else:
        return "no segmentation"
    bbox = ann.get("bbox")
    if bbox is not None:
        x, y, w, h = (float(v) for v in bbox)
        if (
            x < -tolerance
            or y < -tolerance
            or x + w > width + tolerance
            or y + h > height + tolerance
            or w < 0
            or h < 0
        ):
            return f"bbox [{x:g}, {y:g}, {w:g}, {h:g}] (xywh) outside the {width}x{height} image"
    return None


@register_dataset("coco")
class COCOSegmentation(SegmentationReader):
    """COCO semantic view (background + every category) with optional instance targets."""

    splits = ("train", "val")
    default_overlap = "smaller_on_top"
    instance_class_names = ()  # = class_names, known once the json is read

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        instances: bool = False,
        year: str | int = 2017,
        overlap: str | None = None,
        train_min_area: float = 0.0,
        tolerance: float = 1.0,
    ):
        super().__init__(root, split, instances)
        self.tolerance_px = float(tolerance)
        self.overlap = overlap or self.default_overlap
        if self.overlap not in OVERLAP_RULES:
            raise DatasetError(f"coco overlap must be one of {OVERLAP_RULES}, not '{self.overlap}' (data.overlap)")
        self.ann_file = self.root / "annotations" / f"instances_{split}{year}.json"
        self.coco = load_coco(self.ann_file)
        self.class_of = self.category_map(sorted(self.coco.cats))  # category id -> class index
        self.instance_class_names = self.class_names
        image_dir = require_dir(
            self.root / f"{split}{year}",
            f"COCO images for split '{split}'",
            f"extract {split}{year}.zip into data.root",
        )
        on_disk = {e.name for e in os.scandir(image_dir)}
        self.bad_images: dict[int, str] = {}
        self._cache: tuple[int | None, list] = (None, [])
        self._check_annotations()
        for img_id in sorted(self.coco.imgs):
            info = self.coco.imgs[img_id]
            anns = [a for a in self.coco.imgToAnns.get(img_id, []) if a["category_id"] in self.class_of]
            if split == "train" and train_min_area > 0 and sum(float(a.get("area", 0)) for a in anns) <= train_min_area:
                continue
            path = image_dir / info["file_name"]
            if info["file_name"] not in on_disk:
                self.index_problems.append(f"{path}: missing image for id {img_id} listed in {self.ann_file}")
            self.samples.append(
                Sample(
                    str(img_id),
                    path,
                    None,
                    size=(int(info["width"]), int(info["height"])),
                    extra={"source": self.ann_file, "image_id": img_id},
                )
            )

    def category_map(self, category_ids: Sequence[int]) -> dict[int, int]:
        """Category id -> contiguous class index (1..K, id order); sets class names and palette."""
        self.class_names = ("background", *(self.coco.cats[c]["name"] for c in category_ids))
        self.palette = voc_colormap(len(self.class_names))
        return {c: k for k, c in enumerate(category_ids, start=1)}

    def _check_annotations(self) -> None:
        for ann in self.coco.anns.values():
            info = self.coco.imgs.get(ann.get("image_id"))
            where = f"{self.ann_file}: annotation {ann.get('id')}"
            if info is None:
                self.index_problems.append(
                    f"{where} refers to image id {ann.get('image_id')}, which the json does not list"
                )
                continue
            if ann.get("category_id") not in self.coco.cats:
                problem = f"unknown category id {ann.get('category_id')}"
            else:
                problem = annotation_problem(ann, int(info["width"]), int(info["height"]), self.tolerance_px)
            if problem:
                msg = f"{where} of image {info['file_name']}: {problem}; fix or drop this annotation"
                self.index_problems.append(msg)
                self.bad_images.setdefault(info["id"], msg)

    def _decoded(self, sample: Sample) -> list[tuple[dict[str, Any], np.ndarray]]:
        """Kept annotations of ``sample`` in id order with their uint8 masks (last image cached)."""
        img_id = sample.extra["image_id"]
        if img_id in self.bad_images:
            raise DatasetError(self.bad_images[img_id])
        cached = self._cache  # one read: the pre-training check decodes from several threads
        if cached[0] != img_id:
            anns = [a for a in self.coco.imgToAnns.get(img_id, []) if a["category_id"] in self.class_of]
            cached = (img_id, [(a, self.coco.annToMask(a)) for a in sorted(anns, key=lambda a: a["id"])])
            self._cache = cached
        return cached[1]

    def read_mask(self, sample: Sample) -> np.ndarray:
        width, height = sample.size
        mask = np.zeros((height, width), np.uint8)
        things = []
        for ann, m in self._decoded(sample):
            m = m.astype(bool)
            if ann.get("iscrowd", 0):
                mask[m] = self.ignore_index
            else:
                things.append((m, self.class_of[ann["category_id"]], int(m.sum()), ann["id"]))
        if self.overlap == "smaller_on_top":
            for m, cls, _, _ in sorted(things, key=lambda t: (-t[2], t[3])):
                mask[m] = cls
        elif things:
            count = np.sum([m for m, *_ in things], axis=0)
            for m, cls, *_ in things:
                mask[m & (count == 1)] = cls
            mask[count > 1] = self.ignore_index
        return mask

    def read_instance_ids(self, sample: Sample, mask: np.ndarray) -> np.ndarray:
        """Per-pixel instance map for the object metrics: the k-th kept annotation (id order) is
        ``k + 1``, non-crowd instances painted in ``read_mask``'s order (0 elsewhere)."""
        width, height = sample.size
        ids = np.zeros((height, width), np.int32)
        things = [
            (m.astype(bool), k + 1, int(m.sum()), ann["id"])
            for k, (ann, m) in enumerate(self._decoded(sample))
            if not ann.get("iscrowd", 0)
        ]
        for m, value, _, _ in sorted(things, key=lambda t: (-t[2], t[3])):
            ids[m] = value
        return ids

    def read_instances(self, sample: Sample, mask: np.ndarray) -> dict[str, np.ndarray]:
        width, height = sample.size
        masks, labels, crowd = [], [], []
        for ann, m in self._decoded(sample):
            if not m.any():
                continue
            masks.append(m)
            labels.append(self.class_of[ann["category_id"]])
            crowd.append(int(ann.get("iscrowd", 0)))
        return {
            "instance_masks": np.asarray(masks, np.uint8).reshape(len(masks), height, width),
            "instance_labels": np.asarray(labels, np.int64),
            "instance_iscrowd": np.asarray(crowd, np.uint8),
        }


@register_dataset("coco_voc")
class COCOVOCSegmentation(COCOSegmentation):
    """The 20 VOC categories of COCO in VOC order (21 classes; other categories -> background)."""

    default_overlap = "void"

    def category_map(self, category_ids: Sequence[int]) -> dict[int, int]:
        self.class_names = VOC_CLASSES
        self.palette = VOC_PALETTE
        return {c: k for k, c in enumerate(VOC_CATEGORY_IDS) if k > 0}
