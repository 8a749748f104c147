"""Segmentation metrics: dataset-level confusion-matrix scores and boundary F1."""

from seglightning.metrics.boundary import BoundaryF1, seg2bmap, tolerance_pixels
from seglightning.metrics.confusion import ConfusionMetrics, per_class_table, scores_from_confmat

__all__ = [
    "BoundaryF1",
    "ConfusionMetrics",
    "per_class_table",
    "scores_from_confmat",
    "seg2bmap",
    "tolerance_pixels",
]
