"""Overlay pictures: image | ground truth | prediction, in the dataset's class colours."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

VOID_COLOUR = (255, 255, 255)


def colourize(mask: np.ndarray, palette: Sequence[Sequence[int]], ignore_index: int = 255) -> np.ndarray:
    """RGB uint8 [H,W,3] of an index mask; void pixels white, indices past the palette black."""
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(palette)] = np.asarray(palette, np.uint8)[:256]
    if 0 <= ignore_index < 256:
        lut[ignore_index] = VOID_COLOUR
    return lut[np.clip(mask, 0, 255).astype(np.uint8)]


def overlay_panel(image: np.ndarray, target: np.ndarray, pred: np.ndarray, palette: Sequence[Sequence[int]], ignore_index: int = 255, alpha: float = 0.6) -> np.ndarray:
    """[H, 3W, 3] uint8: the image, the ground truth blended over it, the prediction blended over it."""
    def blend(mask: np.ndarray) -> np.ndarray:
        colour = colourize(mask, palette, ignore_index).astype(np.float32)
        return (alpha * colour + (1 - alpha) * image.astype(np.float32)).astype(np.uint8)

    return np.concatenate([image, blend(target), blend(pred)], axis=1)


def denormalize(image: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """uint8 [H,W,3] from a normalised float [3,H,W] (albumentations' Normalize with max 255)."""
    x = image.transpose(1, 2, 0) * np.asarray(std) + np.asarray(mean)
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)
