"""Segmentation metrics: dataset-level confusion-matrix scores, boundary F1, Boundary IoU, calibration,
and the per-stage suite.

The names below load their module on first use (PEP 562), so the torch-free
:mod:`seglightning.metrics.band` imports without torch (the sweep report's gallery uses it)."""

from __future__ import annotations

import importlib
from typing import Any

_MODULE_OF = {  # exported name -> its module
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
    "PerImageScores": "evaluation",
    "bf1_name": "evaluation",
}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
