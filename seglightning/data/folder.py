"""A user's own data (``folder``): ``images/`` + ``masks/`` matched by file stem.

Layout (``data.root``)::

    images/<stem>.{png,jpg,...}
    masks/<stem>.png              index PNG (L / P / 16-bit: the value is the class) or RGB colours
    classes.yaml                  see below
    splits/{train,val,test}.txt   optional: stems, one per line

``classes.yaml``::

    classes: [background, road, car]            # required; class k = k-th name
    colors: [[0, 0, 0], [128, 64, 128], [0, 0, 142]]   # optional palette; needed for RGB masks
    ignore_index: 255                           # optional (default 255)
    void_colors: [[255, 255, 255]]              # optional: RGB mask colours meaning void

``mask_format``: ``index``, ``color``, or ``auto`` (default: a single-channel PNG is an index mask,
an RGB PNG is a colour mask when ``colors`` are given, or an index mask if it is gray (r = g = b)).
Splits: ``splits/<split>.txt`` when that folder exists; otherwise a seeded random split of all
stems (sorted, then permuted by ``numpy.random.default_rng(seed)``): the first
``round(val_ratio * n)`` are ``val``, the rest ``train``; ``all`` is every stem. The ``test`` split
is ``splits/test.txt`` when it exists, else the ``val`` split (:meth:`FolderSegmentation.resolve_split`;
the run records ``test_split: val`` and labels it ``test (= val)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .io import (
    ColorMap,
    DatasetError,
    LabelMap,
    list_stems,
    read_id_list,
    read_label_png,
    require_dir,
)
from .reader import IMAGE_SUFFIXES, Sample, SegmentationReader, pair_by_stem
from .registry import register_dataset
from .voc import voc_colormap

MASK_FORMATS = ("auto", "index", "color")


def read_classes_yaml(path: Path) -> dict[str, Any]:
    """Parse and check ``classes.yaml``; errors name the file."""
    if not path.is_file():
        raise DatasetError(
            f"{path}: class file not found; write it with 'classes: [name0, name1, ...]' (data.classes_file)"
        )
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise DatasetError(f"{path}: not valid YAML ({err})") from None
    names = spec.get("classes")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise DatasetError(f"{path}: 'classes' must be a non-empty list of class names")
    colors = spec.get("colors")
    for key in ("colors", "void_colors"):
        value = spec.get(key)
        if value is not None and not all(
            isinstance(c, list | tuple) and len(c) == 3 and all(0 <= int(v) <= 255 for v in c) for c in value
        ):
            raise DatasetError(f"{path}: '{key}' must be a list of [r, g, b] triples with values 0-255")
    if colors is not None and len(colors) != len(names):
        raise DatasetError(f"{path}: {len(colors)} colors for {len(names)} classes; give one [r, g, b] per class")
    ignore = int(spec.get("ignore_index", 255))
    if ignore < len(names):
        raise DatasetError(f"{path}: ignore_index {ignore} collides with a class index (< {len(names)})")
    return {
        "classes": tuple(names),
        "colors": [tuple(int(v) for v in c) for c in colors] if colors else None,
        "ignore_index": ignore,
        "void_colors": [tuple(int(v) for v in c) for c in spec.get("void_colors") or []],
    }


def seeded_split(stems: list[str], split: str, val_ratio: float, seed: int) -> list[str]:
    """The ``split`` part of a seeded random train/val split of ``stems`` (see module docstring)."""
    ordered = sorted(stems)
    if split == "all":
        return ordered
    if split not in ("train", "val"):
        raise DatasetError(
            f"folder split '{split}' needs a splits/{split}.txt list (only train/val/all come from val_ratio)"
        )
    perm = np.random.default_rng(seed).permutation(len(ordered))
    n_val = int(round(val_ratio * len(ordered)))
    picked = perm[:n_val] if split == "val" else perm[n_val:]
    return [ordered[i] for i in sorted(picked)]


@register_dataset("folder")
class FolderSegmentation(SegmentationReader):
    """Images and masks matched by stem, classes (and colours) from a YAML file."""

    splits = ("train", "val")

    @classmethod
    def resolve_split(cls, root: str | Path, split: str) -> str:
        """The split actually read for ``split``: ``test`` is ``val`` without ``splits/test.txt``."""
        if split == "test" and not (Path(root) / "splits" / "test.txt").is_file():
            return "val"
        return split

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        classes_file: str = "classes.yaml",
        images: str = "images",
        masks: str = "masks",
        mask_format: str = "auto",
        val_ratio: float = 0.2,
        seed: int = 0,
        instances: bool = False,
    ):
        super().__init__(root, split, instances)
        if mask_format not in MASK_FORMATS:
            raise DatasetError(
                f"folder mask_format must be one of {MASK_FORMATS}, not '{mask_format}' (data.mask_format)"
            )
        spec_path = Path(classes_file) if Path(classes_file).is_absolute() else self.root / classes_file
        spec = read_classes_yaml(spec_path)
        self.class_names = spec["classes"]
        self.ignore_index = spec["ignore_index"]
        self.palette = spec["colors"] or voc_colormap(len(self.class_names))
        self.mask_format = mask_format
        self.index_labels = LabelMap.identity(
            len(self.class_names), self.ignore_index, size=max(256, self.ignore_index + 1)
        )
        self.color_labels = None
        if spec["colors"]:
            self.color_labels = ColorMap(
                tuple(spec["colors"]) + tuple(spec["void_colors"]),
                tuple(range(len(self.class_names))) + (self.ignore_index,) * len(spec["void_colors"]),
                source=f"the colors of {spec_path}",
            )
        elif mask_format == "color":
            raise DatasetError(f"{spec_path}: mask_format=color needs 'colors' (one [r, g, b] per class)")
        self.spec_path = spec_path
        image_dir = require_dir(self.root / images, "images", f"put the images in {self.root / images}/")
        mask_dir = require_dir(
            self.root / masks, "masks", f"put one mask PNG per image (same stem) in {self.root / masks}/"
        )
        split_dir = self.root / "splits"
        if split_dir.is_dir():
            list_path = split_dir / f"{split}.txt"
            ids = [
                Path(s).stem if Path(s).suffix.lower() in IMAGE_SUFFIXES else s
                for s in read_id_list(list_path, f"split list for '{split}'")
            ]
            pair_by_stem(self, image_dir, mask_dir, ids=ids, list_path=list_path)
        else:
            stems = seeded_split(list(list_stems(image_dir, IMAGE_SUFFIXES)), split, val_ratio, seed)
            pair_by_stem(self, image_dir, mask_dir, ids=stems, list_path=image_dir)

    def read_mask(self, sample: Sample) -> np.ndarray:
        raw = read_label_png(sample.mask)
        colour = raw.ndim == 3
        if self.mask_format == "index" and colour:
            raise DatasetError(
                f"{sample.mask}: colour mask, but data.mask_format=index expects single-channel index PNGs"
            )
        if self.mask_format == "color" and not colour:
            raise DatasetError(
                f"{sample.mask}: single-channel mask, but data.mask_format=color expects RGB colour PNGs"
            )
        if colour and self.color_labels is not None:
            return self.color_labels(raw, sample.mask)
        if colour:
            if not ((raw[..., 0] == raw[..., 1]).all() and (raw[..., 1] == raw[..., 2]).all()):
                raise DatasetError(
                    f"{sample.mask}: RGB colour mask, but {self.spec_path} lists no 'colors' to decode it"
                )
            raw = raw[..., 0]
        return self.index_labels(raw, sample.mask)
