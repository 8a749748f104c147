"""Generalised Dice loss (Sudre, Li, Vercauteren, Ourselin & Cardoso 2017, DLMIA)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .base import SegLoss
from .common import soft_statistics
from .registry import register_loss


@register_loss("generalized_dice")
class GeneralizedDiceLoss(SegLoss):
    """``1 - (2 sum_c w_c I_c + s) / (sum_c w_c (P_c + G_c) + s)`` with ``w_c = 1 / G_c^2``
    (``I = sum p g``, ``P = sum p``, ``G = sum g`` over valid pixels; softmax ``p``).

    A class absent from the target (``G_c = 0``) gets the largest weight of the present classes,
    as MONAI does (0 if none is present). Pooled over the batch by default
    (``per_image=False``, as ``dice``); ``per_image=True`` computes one loss per image and averages.
    Equals MONAI ``GeneralizedDiceLoss(softmax=True, to_onehot_y=True, batch=not per_image)``
    (``smooth_nr = smooth_dr = smooth``) on inputs without void.
    """

    def __init__(self, ignore_index: int = 255, smooth: float = 1e-5, per_image: bool = False) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.smooth = smooth
        self.per_image = per_image

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        intersection, predicted, volume = soft_statistics(logits, target, self.ignore_index, "multiclass", self.name)
        if not self.per_image:  # pool the batch
            intersection, predicted, volume = intersection.sum(0), predicted.sum(0), volume.sum(0)
        cardinality = predicted + volume
        present = volume > 0
        weight = torch.where(present, 1.0 / torch.where(present, volume, 1.0).square(), 0.0)
        weight = torch.where(present, weight, weight.amax(-1, keepdim=True))
        score = (2 * (weight * intersection).sum(-1) + self.smooth) / ((weight * cardinality).sum(-1) + self.smooth)
        return (1.0 - score).mean()
