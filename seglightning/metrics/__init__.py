"""Segmentation metrics: dataset-level confusion-matrix scores, boundary F1, Boundary IoU, calibration,
and the per-stage suite. The names below are imported on first use, so that the torch-free modules
(:mod:`~seglightning.metrics.functional`, :mod:`~seglightning.metrics.image_counts`,
:mod:`~seglightning.metrics.band`) load without torch: the sweep report reads them."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_MODULE_OF = {
    "BoundaryF1": "boundary",
    "seg2bmap": "boundary",
    "tolerance_pixels": "boundary",
    "BoundaryIoU": "boundary_iou",
    "biou_name": "boundary_iou",
    "Calibration": "calibration",
    "ConfusionMetrics": "confusion",
    "scores_from_confmat": "confusion",
    "EvaluationMetrics": "evaluation",
    "EvaluationSnapshot": "evaluation",
    "bf1_name": "evaluation",
    "ImageCounts": "image_counts",
}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
