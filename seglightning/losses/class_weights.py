"""Median-frequency class balancing (Eigen & Fergus 2015; SegNet, Badrinarayanan et al. 2017).

``freq_c = (pixels of class c) / (pixels of the images that contain c)``, void pixels excluded from
both counts; ``alpha_c = median(freq) / freq_c``. The datamodule computes ``freq`` once over the
training split (``class_frequency``) and caches it; ``wce`` turns it into weights.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor


def class_frequency(masks: Iterable[np.ndarray], num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """Per-class ``freq_c`` over index masks (float64 [C]; 0 for a class in no image)."""
    class_pixels = np.zeros(num_classes, dtype=np.int64)
    image_pixels = np.zeros(num_classes, dtype=np.int64)
    for mask in masks:
        labels = np.asarray(mask).ravel()
        labels = labels[labels != ignore_index]
        counts = np.bincount(labels, minlength=num_classes)
        if counts.size > num_classes:
            raise ValueError(f"mask has label {labels.max()} outside [0, {num_classes}) and is not ignore_index={ignore_index}")
        class_pixels += counts
        image_pixels += (counts > 0) * labels.size
    return np.divide(class_pixels, image_pixels, out=np.zeros(num_classes), where=image_pixels > 0)


def median_frequency_weights(frequency: Iterable[float] | np.ndarray | Tensor) -> Tensor:
    """``alpha_c = median(freq) / freq_c`` (float32 [C]).

    The median is taken over the classes that occur (``freq_c > 0``); a class that never occurs in
    the training split gets weight 0 (it is never a target, so only label smoothing would see it).
    """
    freq = torch.as_tensor(np.asarray(frequency, dtype=np.float64))
    present = freq > 0
    if not present.any():
        raise ValueError("median-frequency weights need at least one class with a non-zero frequency")
    # numpy's median (mean of the two middle values for an even count), as in SegNet
    median = float(np.median(freq[present].numpy()))
    weights = torch.where(present, median / torch.where(present, freq, torch.ones_like(freq)), 0.0)
    return weights.float()
