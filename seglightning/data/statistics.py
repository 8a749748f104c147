"""Dataset statistics: class frequency over a split (for median-frequency class balancing).

``freq_c = (pixels of class c) / (valid pixels of the images that contain c)``, void pixels
excluded from both counts (Eigen & Fergus 2015; SegNet, Badrinarayanan et al. 2017). The
datamodule computes it once over the training split and caches it (``class_frequency``);
``losses.class_weights.median_frequency_weights`` turns it into ``wce``'s class weights.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def class_frequency(masks: Iterable[np.ndarray], num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """Per-class ``freq_c`` over index masks (float64 [C]; 0 for a class in no image)."""
    class_pixels = np.zeros(num_classes, dtype=np.int64)
    image_pixels = np.zeros(num_classes, dtype=np.int64)
    for mask in masks:
        labels = np.asarray(mask).ravel()
        labels = labels[labels != ignore_index].astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            bad = labels.min() if labels.min() < 0 else labels.max()
            raise ValueError(f"mask has label {bad} outside [0, {num_classes}) and is not ignore_index={ignore_index}")
        counts = np.bincount(labels, minlength=num_classes)
        class_pixels += counts
        image_pixels += (counts > 0) * labels.size
    return np.divide(class_pixels, image_pixels, out=np.zeros(num_classes), where=image_pixels > 0)
