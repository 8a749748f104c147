"""Base class of the on-disk dataset readers (VOC, Cityscapes, CamVid, COCO, folder).

A reader indexes its split at construction (cheap: directory listings and split lists; a listed id
without its files is recorded as a problem, not silently dropped), and decodes one sample per
``__getitem__``. Validation has three levels, shared by ``seglightning-data check`` and the
datamodule's setup:

- ``"index"``: what construction found (missing files for listed ids, empty split);
- ``"header"``: plus image/mask sizes from the file headers (cheap, no decoding);
- ``"masks"``: plus decoding every mask (corrupt or truncated masks, label values outside the
  dataset's set); the datamodule's default, since label PNGs decode fast (README, Performance);
- ``"full"``: plus decoding every image too.

Levels past ``index`` check the samples on several threads (decoders release the GIL).

Every problem is a string that starts with the file it concerns.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from torch.utils.data import Dataset

from .io import IGNORE_INDEX, DatasetError, check_same_size, header_size, list_stems, read_image

LEVELS = ("index", "header", "masks", "full")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class Sample:
    """One indexed sample: its id and files; ``size`` = expected (W, H) when there is no mask file."""

    id: str
    image: Path
    mask: Path | None = None
    size: tuple[int, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class SegmentationReader(Dataset):
    """Common ``__getitem__``, validation and metadata of the readers; subclasses index and decode.

    Subclasses set ``class_names``, ``palette``, ``splits`` and fill ``self.samples`` (and
    ``self.index_problems``) in ``__init__``, and implement :meth:`read_mask`. Instance-capable
    readers set ``instance_class_names`` and implement :meth:`read_instances`.
    """

    splits: ClassVar[tuple[str, ...]] = ("train", "val")
    class_names: Sequence[str] = ()
    palette: Sequence[tuple[int, int, int]] = ()
    ignore_index: int = IGNORE_INDEX
    instance_class_names: Sequence[str] | None = None  # index 0 = background, when instances exist

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        instances: bool = False,
    ):
        if root is None or str(root) in ("", "???"):
            raise DatasetError(f"{type(self).__name__}: no dataset folder given; set data.root=<folder>")
        self.root = Path(root).expanduser()
        if not self.root.exists():
            raise DatasetError(
                f"{self.root}: dataset folder not found; set data.root to the folder that holds the dataset"
            )
        self.split = split
        if instances and self.instance_class_names is None:
            raise ValueError(
                f"{type(self).__name__} has no instance annotations: data.instances=true needs an "
                "instance-capable dataset (coco, cityscapes, synthetic)"
            )
        self.instances = instances
        self.samples: list[Sample] = []
        self.index_problems: list[str] = []

    # -- metadata ---------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root='{self.root}', split='{self.split}', n={len(self)})"

    # -- decoding ---------------------------------------------------------------------------
    def read_mask(self, sample: Sample) -> np.ndarray:
        """Train-id mask (uint8 HxW, ``ignore_index`` = void) of ``sample``."""
        raise NotImplementedError

    def read_instances(self, sample: Sample, mask: np.ndarray) -> dict[str, np.ndarray]:
        """``instance_masks`` uint8 [N,H,W], ``instance_labels`` int64 [N] (1..K),
        ``instance_iscrowd`` uint8 [N]; may edit ``mask`` in place (crowd -> void)."""
        raise NotImplementedError

    def read_instance_ids(self, sample: Sample, mask: np.ndarray) -> np.ndarray | None:
        """Per-pixel instance map (int32 HxW, 0 = no instance) for object-level metrics, or None
        where the dataset has no instances (objects are then connected components)."""
        return None

    def load(self, index: int) -> dict[str, Any]:
        """The untransformed item ``{"image", "mask", "meta"}`` (+ instance keys)."""
        sample = self.samples[index]
        image = read_image(sample.image)
        if sample.mask is None and sample.size is not None and image.shape[:2] != sample.size[::-1]:
            raise DatasetError(
                f"{sample.image}: image size {image.shape[1]}x{image.shape[0]} (WxH) differs from "
                f"{sample.size[0]}x{sample.size[1]} recorded in {sample.extra.get('source', 'the annotations')}; "
                "the annotations do not belong to this image"
            )
        mask = self.read_mask(sample)
        check_same_size(sample.image, image.shape, sample.mask or sample.image, mask.shape)
        meta = {"id": sample.id, "image_path": str(sample.image)}
        if sample.mask is not None:
            meta["mask_path"] = str(sample.mask)
        item: dict[str, Any] = {"image": image, "mask": mask, "meta": meta}
        if self.instances:
            item.update(self.read_instances(sample, mask))
        if getattr(self, "load_instance_ids", False):  # set by the datamodule for the objects metrics
            ids = self.read_instance_ids(sample, mask)
            if ids is not None:
                item["instance_ids"] = ids
        return item

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.load(index)

    # -- validation -------------------------------------------------------------------------
    def header_problems(self, sample: Sample) -> list[str]:
        """Size problems of one sample found from file headers only."""
        try:
            w, h = header_size(sample.image, "image")
            if sample.mask is not None:
                mw, mh = header_size(sample.mask, "label")
                if (mw, mh) != (w, h):
                    return [
                        f"{sample.mask}: mask size {mw}x{mh} (WxH) differs from image {sample.image} "
                        f"size {w}x{h}; masks must be pixel-aligned with their image"
                    ]
            elif sample.size is not None and tuple(sample.size) != (w, h):
                return [
                    f"{sample.image}: image size {w}x{h} (WxH) differs from {sample.size[0]}x{sample.size[1]} "
                    f"recorded in {sample.extra.get('source', 'the annotations')}"
                ]
        except DatasetError as err:
            return [str(err)]
        return []

    def sample_problems(self, index: int, level: str) -> list[str]:
        """Problems of sample ``index`` at ``level`` ("header" | "masks" | "full")."""
        sample = self.samples[index]
        found = self.header_problems(sample)
        if level == "header" or found:
            return found
        try:
            if level == "full":
                self.load(index)
            else:
                mask = self.read_mask(sample)
                if self.instances:
                    self.read_instances(sample, mask.copy())
        except DatasetError as err:
            return [str(err)]
        return []

    def problems(self, level: str = "header", limit: int | None = None, workers: int | None = None) -> list[str]:
        """All problems found at ``level`` (:data:`LEVELS`), at most ``limit``, on ``workers`` threads
        (default: the usable cores, at most 8)."""
        if level not in LEVELS:
            raise ValueError(f"validation level must be one of {LEVELS}, not '{level}'")
        found = list(self.index_problems)
        if not self.samples:
            found.append(f"{self.root}: split '{self.split}' has no samples; check data.root and the split lists")
        if level == "index" or (limit is not None and len(found) >= limit):
            return found[:limit]
        workers = workers or min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
        with ThreadPoolExecutor(max(1, workers)) as pool:
            for result in pool.map(self.sample_problems, range(len(self.samples)), [level] * len(self.samples)):
                found += result
                if limit is not None and len(found) >= limit:
                    pool.shutdown(wait=False, cancel_futures=True)
                    break
        return found[:limit]

    def validate(self, level: str = "masks", limit: int = 20, workers: int | None = None) -> None:
        """Raise one DatasetError listing the problems found at ``level`` (up to ``limit``)."""
        found = self.problems(level, limit, workers)
        if found:
            listing = "\n".join(f"  - {p}" for p in found)
            raise DatasetError(
                f"{len(found)}{'+' if len(found) >= limit else ''} problem(s) in {type(self).__name__} "
                f"split '{self.split}' under {self.root}:\n{listing}\n"
                f"Run `seglightning-data check data=<name> data.root={self.root}` for a full report."
            )


def pair_by_stem(
    reader: SegmentationReader,
    image_dir: Path,
    mask_dir: Path,
    mask_stem: Callable[[str], str] = lambda stem: stem,
    ids: Sequence[str] | None = None,
    list_path: Path | None = None,
    image_ext: str = ".png",
) -> None:
    """Fill ``reader.samples`` with image/mask pairs matched by file stem.

    With ``ids`` (from ``list_path``) exactly those ids are used and a missing image or mask is a
    problem; without, every image is used, and an image without mask or a mask without image is.
    """
    images = list_stems(image_dir, IMAGE_SUFFIXES)
    masks = list_stems(mask_dir, (".png",))
    listed = ids is not None
    for id_ in ids if listed else sorted(images):
        image = images.get(id_, image_dir / f"{id_}{image_ext}")
        mask = masks.get(mask_stem(id_), mask_dir / f"{mask_stem(id_)}.png")
        if id_ not in images:
            reader.index_problems.append(f"{image}: missing image for id '{id_}' listed in {list_path}")
        if mask_stem(id_) not in masks:
            reader.index_problems.append(f"{mask}: missing mask for image {image}")
        reader.samples.append(Sample(id_, image, mask))
    if not listed:
        wanted = {mask_stem(s) for s in images}
        for stem in sorted(set(masks) - wanted):
            reader.index_problems.append(f"{masks[stem]}: mask without an image in {image_dir}")
