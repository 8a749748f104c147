"""PASCAL VOC 2012 segmentation (``voc``) and its SBD-augmented train set (``voc_aug``).

On-disk layout (the official devkit; ``data.root`` may point at the folder holding ``VOCdevkit``,
at ``VOCdevkit`` or at ``VOC2012`` itself)::

    VOCdevkit/VOC2012/JPEGImages/<id>.jpg
    VOCdevkit/VOC2012/SegmentationClass/<id>.png        palette ('P') PNGs: the pixel values are
                                                         class indices 0-20, 255 = void/border
    VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val,trainval}.txt
    VOCdevkit/VOC2012/SegmentationClassAug/<id>.png     (voc_aug) index PNGs, same values
    VOCdevkit/VOC2012/ImageSets/Segmentation/train_aug.txt   (voc_aug) ids, or
                                                         "/JPEGImages/<id>.jpg /SegmentationClassAug/<id>.png"

``voc_aug`` train = the ``train_aug.txt`` list (10,582 ids in the usual distribution, which must
exclude every VOC val id — an overlap is reported as a problem); ``voc_aug`` val = VOC val.
A palette index other than 0-20 or 255 is an error naming the PNG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io import DatasetError, LabelMap, read_id_list, read_index_png
from .reader import Sample, SegmentationReader, pair_by_stem
from .registry import register_dataset

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip


def voc_colormap(n: int = 256) -> list[tuple[int, int, int]]:
    """The devkit colour map (``VOClabelcolormap.m``): bits of the index spread over R, G, B."""
    colors = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        colors.append((r, g, b))
    return colors


VOC_COLORMAP = voc_colormap()  # 256 entries: index 255 (void) is (224, 224, 192)
VOC_PALETTE = VOC_COLORMAP[: len(VOC_CLASSES)]
VOC_LABELS = LabelMap.identity(len(VOC_CLASSES), 255)


def find_voc_base(root: Path) -> Path:
    """The ``VOC2012`` folder under ``root`` (accepts the parent of VOCdevkit, VOCdevkit, VOC2012)."""
    for base in (root / "VOCdevkit" / "VOC2012", root / "VOC2012", root):
        if (base / "JPEGImages").is_dir():
            return base
    raise DatasetError(
        f"{root}: no VOCdevkit/VOC2012/JPEGImages found; set data.root to the folder that "
        "contains VOCdevkit (the extracted VOCtrainval_11-May-2012.tar)"
    )


def parse_list_line(line: str) -> str:
    """An id from a split-list line: ``<id>`` or ``/JPEGImages/<id>.jpg /Segmentation.../<id>.png``."""
    first = line.split()[0]
    return Path(first).stem if ("/" in first or "." in first) else first


class _VOCBase(SegmentationReader):
    class_names = VOC_CLASSES
    palette = VOC_PALETTE

    def _index(self, base: Path, list_path: Path, mask_dir: str) -> None:
        ids = [parse_list_line(ln) for ln in read_id_list(list_path, f"VOC split list for '{self.split}'")]
        pair_by_stem(self, base / "JPEGImages", base / mask_dir, ids=ids, list_path=list_path, image_ext=".jpg")

    def read_mask(self, sample: Sample) -> np.ndarray:
        return VOC_LABELS(read_index_png(sample.mask), sample.mask)


@register_dataset("voc")
class VOCSegmentation(_VOCBase):
    """VOC 2012 segmentation: 21 classes, any ``ImageSets/Segmentation/<split>.txt`` list."""

    splits = ("train", "val", "trainval")

    def __init__(self, root: str | Path, split: str = "train", instances: bool = False):
        super().__init__(root, split, instances)
        base = find_voc_base(self.root)
        self._index(base, base / "ImageSets" / "Segmentation" / f"{split}.txt", "SegmentationClass")


@register_dataset("voc_aug")
class VOCAugSegmentation(_VOCBase):
    """VOC 2012 + SBD: train = ``train_aug.txt`` over ``SegmentationClassAug``, val = VOC val."""

    splits = ("train", "val")

    def __init__(self, root: str | Path, split: str = "train", instances: bool = False):
        super().__init__(root, split, instances)
        base = find_voc_base(self.root)
        lists = base / "ImageSets" / "Segmentation"
        if split in ("val", "test"):
            self._index(base, lists / f"{split}.txt", "SegmentationClass")
            return
        if split not in ("train", "train_aug"):
            raise DatasetError(f"voc_aug has splits train (train_aug.txt) and val, not '{split}'")
        candidates = [lists / "train_aug.txt", base / "train_aug.txt", self.root / "train_aug.txt"]
        list_path = next((p for p in candidates if p.is_file()), candidates[0])
        self._index(base, list_path, "SegmentationClassAug")
        val_list = lists / "val.txt"
        if val_list.is_file():
            leaked = sorted({s.id for s in self.samples} & set(read_id_list(val_list)))
            if leaked:
                self.index_problems.append(
                    f"{list_path}: {len(leaked)} id(s) also in {val_list} (e.g. {', '.join(leaked[:3])}); "
                    "the augmented train set must exclude VOC val or val scores are inflated"
                )
