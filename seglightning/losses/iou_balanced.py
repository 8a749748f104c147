"""IoU-balanced classification loss (Wu, Li & Wang 2019, "IoU-balanced loss functions for
single-stage object detection"), transferred to segmentation — our adaptation."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import SegLoss
from .common import check_multiclass, masked_mean, soft_statistics
from .registry import register_loss


@register_loss("iou_balanced")
class IoUBalancedLoss(SegLoss):
    """Cross-entropy whose positive pixels are re-weighted by the localisation quality of their
    region, mean over valid pixels:

    ``L = (1/N) [ sum_{i in Pos} w_i CE_i + sum_{i in Neg} CE_i ]``,
    ``w_i = IoU_{b(i), y_i}^eta * sum_{Pos} CE / sum_{Pos} IoU^eta CE``

    In Wu et al. the positives are anchors matched to an object and ``IoU`` that of the regressed
    box; here a positive is a valid pixel whose class is not ``background_index`` (``None``: every
    labelled pixel), and ``IoU_{b,c}`` is the soft IoU of class ``c`` in image ``b``,
    ``sum p g / sum (p + g - p g)``. The normaliser keeps the total positive loss unchanged, and
    the whole weight is detached (no gradient through IoU or normaliser), as in the paper.
    ``eta = 0`` gives cross-entropy exactly.
    """

    def __init__(self, ignore_index: int = 255, eta: float = 1.5, background_index: int | None = None) -> None:
        super().__init__()
        if eta < 0:
            raise ValueError(f"loss 'iou_balanced': eta must be >= 0 (config key loss.eta), got {eta}")
        self.ignore_index = ignore_index
        self.eta = eta
        self.background_index = background_index

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        check_multiclass(logits, target, self.name)
        valid = target != self.ignore_index
        ce = F.cross_entropy(logits, target, ignore_index=self.ignore_index, reduction="none")
        with torch.no_grad():
            intersection, predicted, truth = soft_statistics(logits, target, self.ignore_index, "multiclass", self.name)
            iou = intersection / (predicted + truth - intersection).clamp_min(torch.finfo(ce.dtype).tiny)
            label = torch.where(valid, target, torch.zeros_like(target))
            quality = iou.gather(1, label.flatten(1)).view_as(ce).pow(self.eta)
            positive = valid if self.background_index is None else valid & (target != self.background_index)
            positive_ce = torch.where(positive, ce, torch.zeros_like(ce))
            weighted = (quality * positive_ce).sum()
            normaliser = torch.where(
                weighted > 0, positive_ce.sum() / weighted.clamp_min(torch.finfo(ce.dtype).tiny), 1.0
            )
            weight = torch.where(positive, quality * normaliser, torch.ones_like(ce))
        return masked_mean(ce * weight, valid)
