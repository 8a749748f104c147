"""A training crop larger than the images: warned once per run, refused when padding would exceed the image.

``RandomScaleCrop`` pads a crop window that reaches past the (scaled) image with void
(``ignore_index``), so a crop larger than the image at scale 1 trains on padding in every sample.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

KEY = "data.transforms.train.crop_size"


def first_image_size(dataset: Any) -> tuple[int, int] | None:
    """(H, W) of the first sample's image: from its file header for on-disk readers, else decoded."""
    if len(dataset) == 0:
        return None
    samples = getattr(dataset, "samples", None)
    if samples:
        from .io import header_size

        w, h = header_size(samples[0].image, "image")
        return h, w
    h, w = dataset[0]["image"].shape[:2]
    return int(h), int(w)


def check_crop(spec: Mapping[str, Any] | None, image_hw: Sequence[int] | None, where: str = "") -> None:
    """Warn when the train crop is larger than the image (``image_hw``, at scale 1); raise ValueError
    naming :data:`KEY` when the padding would be larger than the image itself (crop > 2x image)."""
    crop = (spec or {}).get("crop_size")
    if crop is None or image_hw is None:
        return
    ch, cw = (int(crop), int(crop)) if isinstance(crop, int) else (int(crop[0]), int(crop[1]))
    h, w = int(image_hw[0]), int(image_hw[1])
    if ch <= h and cw <= w:
        return
    size = f"crop {ch}x{cw} (HxW) vs image {h}x{w}{f' ({where})' if where else ''}"
    if ch - h > h or cw - w > w:
        raise ValueError(
            f"{KEY}=[{ch}, {cw}]: {size}: the void padding would be larger than the image; "
            f"use a crop of at most [{h}, {w}] (or resize the images)"
        )
    warnings.warn(
        f"{KEY}=[{ch}, {cw}] is larger than the images: {size}; every training crop is padded with void "
        "(ignore_index) at scale 1. Set a smaller crop_size to avoid it.",
        UserWarning,
        stacklevel=2,
    )
