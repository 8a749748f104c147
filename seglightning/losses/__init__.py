"""Segmentation losses and the loss factory.

``build_loss(spec, **defaults) -> SegLoss``; every loss is ``loss(logits, target, **extras) ->
scalar`` (see ``base.SegLoss``). ``normalize_loss_spec(spec)`` reads any spec form into its terms
(``spec.py``; everything that reads a loss spec calls it). Each loss module registers its classes in ``LOSSES`` with
``@register_loss(name)``; add a module by adding its import line below.
"""

from __future__ import annotations

# Loss modules: importing one registers its losses. A new loss family adds its line here.
from . import (
    boundary,  # noqa: F401
    cross_entropy,  # noqa: F401
    dpce,  # noqa: F401
    focal,  # noqa: F401
    generalized_dice,  # noqa: F401
    hausdorff,  # noqa: F401
    iou_balanced,  # noqa: F401
    lovasz,  # noqa: F401
    region,  # noqa: F401
    sensitivity_specificity,  # noqa: F401
    topk,  # noqa: F401
)
from .base import SegLoss
from .compound import CompoundLoss, WeightSchedule
from .distance import signed_distance_maps
from .factory import build_loss
from .registry import LOSSES, register_loss
from .spec import normalize_loss_spec

__all__ = [
    "LOSSES",
    "CompoundLoss",
    "SegLoss",
    "WeightSchedule",
    "build_loss",
    "normalize_loss_spec",
    "register_loss",
    "signed_distance_maps",
]
from . import encnet, gscnn  # noqa: E402,F401  (model-owned terms: FastFCN/EncNet SE-loss, Gated-SCNN)
