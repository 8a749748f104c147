"""The embedded default dataset: procedurally generated shapes, deterministic from a seed.

Each image has a textured background (colour gradient, oriented stripes, noise) and 2-6
overlapping shapes drawn in random order (later shapes occlude earlier ones). Four shape classes
(disk, square, triangle, cross) each have a characteristic hue with jitter, and a fine texture.
The mask holds class indices with ``ignore_index`` (void) on the 1-px inner border of every
shape, like the VOC border annotation; every visible shape is also an instance (for Mask R-CNN).
Sample ``i`` of split ``s`` depends only on ``(seed, s, i)``, so the data need no download and no
disk, and any worker layout gives the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from torch.utils.data import Dataset

from .registry import register_dataset

CLASS_NAMES = ("background", "disk", "square", "triangle", "cross")
PALETTE = [(0, 0, 0), (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48)]
_HUES = (0.0, 0.0, 0.33, 0.6, 0.08)  # per class (index 0 unused: background has random colour)
SPLITS = {"train": 0, "val": 1, "test": 2}
DEFAULT_LENGTHS = {"train": 512, "val": 64, "test": 64}
MIN_INSTANCE_PIXELS = 12


@dataclass
class SyntheticSample:
    image: np.ndarray  # uint8 [H,W,3]
    mask: np.ndarray  # uint8 [H,W], class index or ignore_index
    instance_ids: np.ndarray  # int32 [H,W], 0 = background, k = k-th visible shape
    instance_classes: np.ndarray  # int64 [K], class of instance k+1


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    hsv = np.array([[[h * 179.0, s * 255.0, v * 255.0]]], dtype=np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _shape_mask(rng: np.random.Generator, cls: int, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    r = rng.uniform(0.09, 0.2) * min(h, w)
    cy, cx = rng.uniform(r * 0.5, h - r * 0.5), rng.uniform(r * 0.5, w - r * 0.5)
    canvas = np.zeros((h, w), np.uint8)
    angle = rng.uniform(0, 2 * np.pi)
    if cls == 1:  # disk
        cv2.circle(canvas, (round(cx), round(cy)), round(r), 1, thickness=-1)
    else:
        if cls == 2:  # square
            corners = [angle + k * np.pi / 2 + np.pi / 4 for k in range(4)]
            pts = [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in corners]
        elif cls == 3:  # triangle
            pts = [
                (cx + 1.2 * r * np.cos(angle + k * 2 * np.pi / 3), cy + 1.2 * r * np.sin(angle + k * 2 * np.pi / 3))
                for k in range(3)
            ]
        else:  # cross: 12-gon made of two bars
            t = r * 0.38
            base = [
                (-r, -t),
                (-t, -t),
                (-t, -r),
                (t, -r),
                (t, -t),
                (r, -t),
                (r, t),
                (t, t),
                (t, r),
                (-t, r),
                (-t, t),
                (-r, t),
            ]
            c, s = np.cos(angle), np.sin(angle)
            pts = [(cx + x * c - y * s, cy + x * s + y * c) for x, y in base]
        cv2.fillPoly(canvas, [np.round(np.array(pts)).astype(np.int32)], 1)
    return canvas.astype(bool)


def _background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0 = _hsv_to_rgb(rng.uniform(), rng.uniform(0.0, 0.35), rng.uniform(0.3, 0.8))
    c1 = _hsv_to_rgb(rng.uniform(), rng.uniform(0.0, 0.35), rng.uniform(0.3, 0.8))
    theta = rng.uniform(0, np.pi)
    ramp = (np.cos(theta) * xx / w + np.sin(theta) * yy / h + 1.0) / 2.0
    img = c0 * (1 - ramp[..., None]) + c1 * ramp[..., None]
    freq, phi = rng.uniform(0.15, 0.6), rng.uniform(0, np.pi)
    stripes = np.sin(freq * (np.cos(phi) * xx + np.sin(phi) * yy))
    return img + rng.uniform(8, 25) * stripes[..., None]


def generate_sample(
    seed: int, index: int, split: str = "train", size: tuple[int, int] = (64, 64), ignore_index: int = 255
) -> SyntheticSample:
    """Deterministically generate sample ``index`` of ``split`` (see module docstring)."""
    rng = np.random.default_rng([seed, SPLITS[split], index])
    h, w = size
    image = _background(rng, size)
    ids = np.zeros(size, np.int32)
    classes: list[int] = []
    for k in range(int(rng.integers(2, 7))):
        cls = int(rng.integers(1, len(CLASS_NAMES)))
        shape = _shape_mask(rng, cls, size)
        colour = _hsv_to_rgb(
            (_HUES[cls] + rng.uniform(-0.04, 0.04)) % 1.0, rng.uniform(0.55, 0.95), rng.uniform(0.55, 1.0)
        )
        texture = 1.0 + 0.15 * np.sin(rng.uniform(0.8, 1.6) * np.arange(w))[None, :, None]
        image = np.where(shape[..., None], colour * texture, image)
        ids[shape] = k + 1
        classes.append(cls)
    image = cv2.GaussianBlur(image.astype(np.float32), (3, 3), 0.7)
    image = image + rng.normal(0, 6.0, image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)

    # relabel visible instances 1..K, dropping slivers (they become background-coloured void)
    visible = [k for k in range(1, len(classes) + 1) if (ids == k).sum() >= MIN_INSTANCE_PIXELS]
    remap = np.zeros(len(classes) + 1, np.int32)
    remap[visible] = np.arange(1, len(visible) + 1)
    dropped = (ids > 0) & (remap[ids] == 0)
    ids = remap[ids]
    instance_classes = np.array([classes[k - 1] for k in visible], dtype=np.int64)
    mask = np.zeros(size, np.uint8)
    fg = ids > 0
    mask[fg] = instance_classes[ids[fg] - 1]
    # void: 1-px inner border of each shape, and pixels of dropped slivers
    eroded = cv2.erode(ids.astype(np.float32), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    dilated = cv2.dilate(ids.astype(np.float32), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    border = fg & ((eroded != ids) | (dilated != ids))
    mask[border | dropped] = ignore_index
    return SyntheticSample(image, mask, ids, instance_classes)


@register_dataset("synthetic")
class SyntheticShapes(Dataset):
    """Procedural shapes dataset (the embedded default). ``root`` is unused."""

    class_names = CLASS_NAMES
    palette = PALETTE
    num_classes = len(CLASS_NAMES)
    ignore_index = 255

    def __init__(
        self,
        root: str | None = None,
        split: str = "train",
        size: tuple[int, int] | list[int] = (64, 64),
        length: int | None = None,
        seed: int = 0,
        instances: bool = False,
    ):
        if split not in SPLITS:
            raise ValueError(f"synthetic data has splits {sorted(SPLITS)}, not '{split}' (config key data.splits)")
        self.split, self.size, self.seed, self.instances = split, tuple(size), seed, instances
        self.length = DEFAULT_LENGTHS[split] if length is None else int(length)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        s = generate_sample(self.seed, index, self.split, self.size, self.ignore_index)
        item = {"image": s.image, "mask": s.mask, "meta": {"id": f"{self.split}_{index:05d}"}}
        if self.instances:
            k = len(s.instance_classes)
            item["instance_masks"] = (s.instance_ids[None] == np.arange(1, k + 1)[:, None, None]).astype(np.uint8)
            item["instance_labels"] = s.instance_classes
            item["instance_iscrowd"] = np.zeros(k, np.uint8)
        return item
