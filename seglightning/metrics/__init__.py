"""Segmentation metrics: dataset-level confusion-matrix scores, boundary F1, Boundary IoU, calibration,
and the per-stage suite."""

from seglightning.metrics.boundary import BoundaryF1, seg2bmap, tolerance_pixels
from seglightning.metrics.boundary_iou import BoundaryIoU, biou_name
from seglightning.metrics.calibration import Calibration
from seglightning.metrics.confusion import ConfusionMetrics, scores_from_confmat
from seglightning.metrics.evaluation import (
    EvaluationMetrics,
    EvaluationSnapshot,
    PerImageScores,
    bf1_name,
)

__all__ = [
    "BoundaryF1",
    "BoundaryIoU",
    "Calibration",
    "ConfusionMetrics",
    "EvaluationMetrics",
    "EvaluationSnapshot",
    "PerImageScores",
    "bf1_name",
    "biou_name",
    "scores_from_confmat",
    "seg2bmap",
    "tolerance_pixels",
]
