"""Albumentations pipelines built from config presets.

``train_default``: random scale in [0.5, 2.0] (image bilinear, mask nearest), pad to the crop
size with ``ignore_index`` in the mask, random crop, horizontal flip, photometric jitter,
ImageNet normalisation. ``val_default``: normalisation only (full image; the collate pads).
Masks are only ever resampled with nearest-neighbour interpolation (pixel-centre aligned,
cv2.INTER_NEAREST_EXACT, so mask and bilinear image stay registered at every scale).

Scale, pad and crop are one transform (``scale_crop.RandomScaleCrop``) that renders the crop
window straight from the source image: the geometry and masks of ``RandomScale -> PadIfNeeded ->
RandomCrop`` without resizing (up to 4x the pixels) and padding the whole image first; the image
differs from that chain by at most one grey level (OpenCV fixed-point rounding). Normalisation is
``scale_crop.LutNormalize``, bit-identical to ``A.Normalize``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import albumentations as A
import cv2

from .scale_crop import LutNormalize, RandomScaleCrop

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))


def train_default(
    crop_size: int | Sequence[int],
    ignore_index: int = 255,
    scale: Sequence[float] = (0.5, 2.0),
    hflip: float = 0.5,
    jitter: float = 0.2,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> list[A.BasicTransform]:
    h, w = _pair(crop_size)
    ops: list[A.BasicTransform] = [
        RandomScaleCrop(h, w, scale=(float(scale[0]), float(scale[1])), fill=0, fill_mask=ignore_index)
    ]
    if hflip > 0:
        ops.append(A.HorizontalFlip(p=hflip))
    if jitter > 0:
        ops.append(A.ColorJitter(brightness=jitter, contrast=jitter, saturation=jitter, hue=jitter / 4, p=0.8))
    ops.append(LutNormalize(mean=mean, std=std))
    return ops


def val_default(
    mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD, **_: Any
) -> list[A.BasicTransform]:
    return [LutNormalize(mean=mean, std=std)]


PRESETS = {"train_default": train_default, "val_default": val_default}


class SeededCompose(A.Compose):
    """``A.Compose`` whose ``set_random_seed`` drives all its transforms from ONE random stream.

    albumentations 2.0.8's ``Compose.set_random_seed(seed)`` re-seeds every transform with the same
    ``seed``, so each transform draws the same numbers: with ``train_default`` the flip (first
    draw < 0.5) happened exactly when the scale (first draw) was below 1.25, the jitter exactly when
    it was below 1.7, and the crop row followed the scale. Here the Compose and its transforms
    share the generators seeded from ``seed`` and draw one after another, independently; the
    result is still a pure function of the seed (the datamodule's ``(seed, epoch, index)``).
    """

    def set_random_seed(self, seed: int | None) -> None:
        super().set_random_seed(seed)
        self.set_random_state(self.random_generator, self.py_random)


def build_transforms(spec: dict[str, Any] | None, ignore_index: int = 255) -> A.Compose:
    """Build an ``A.Compose`` from ``{preset: name, **preset kwargs}`` (config ``data.transforms.*``)."""
    spec = dict(spec or {"preset": "val_default"})
    name = spec.pop("preset", "val_default")
    if name not in PRESETS:
        raise KeyError(
            f"unknown transform preset '{name}' (config key data.transforms.*.preset); choose one of {sorted(PRESETS)}"
        )
    if name == "train_default":
        spec.setdefault("ignore_index", ignore_index)
    return SeededCompose(PRESETS[name](**spec), mask_interpolation=cv2.INTER_NEAREST_EXACT)
