"""Hausdorff-distance loss, distance-transform variant (Karimi & Salcudean 2019, "Reducing the
Hausdorff Distance in Medical Image Segmentation with Convolutional Neural Networks")."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .base import SegLoss
from .common import check_multiclass, probabilities, safe_div
from .distance import unsigned_distance_field
from .registry import register_loss


@register_loss("hausdorff")
class HausdorffDTLoss(SegLoss):
    """HD-DT loss, per class one-vs-rest on softmax probabilities ``p``:
    ``mean over valid pixels and classes of (p_ic - g_ic)^2 (d_G(i)^alpha + d_P(i)^alpha)``,
    ``alpha = 2``, where ``d_G`` is the distance to the ground-truth boundary of class ``c``
    (derived from the workers' signed ``dist_map``: ``1 - phi`` inside, ``phi`` outside) and
    ``d_P`` the distance to the boundary of the current prediction ``p_c > 0.5`` (scipy EDT on the
    CPU at every step; void pixels count as background). A class map without a boundary
    (empty or full) has distance 0.

    Equals MONAI ``HausdorffDTLoss(alpha=2, include_background=True, softmax=True,
    to_onehot_y=True)`` on inputs without void (every class, background included; MONAI's default
    ``include_background=False`` drops channel 0); void pixels leave the mean here.
    """

    requires = ("dist_map",)

    def __init__(self, ignore_index: int = 255, alpha: float = 2.0) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.alpha = alpha

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        check_multiclass(logits, target, self.name)
        signed = self.extra(extras, "dist_map")
        if signed.shape != logits.shape:
            raise ValueError(f"loss '{self.name}': dist_map {tuple(signed.shape)} does not match logits {tuple(logits.shape)}")
        probs, truth, valid = probabilities(logits, target, self.ignore_index, "multiclass", self.name)
        with torch.no_grad():
            signed = signed.reshape(probs.shape).to(probs.dtype)
            pixels = truth.sum(-1, keepdim=True)
            has_boundary = (pixels > 0) & (pixels < target[0].numel())  # as in the workers' dist_map
            truth_field = torch.where(has_boundary, torch.where(truth > 0, 1.0 - signed, signed), 0.0)
            predicted = ((probs > 0.5) & valid).reshape(logits.shape)
            pred_field = unsigned_distance_field(predicted).reshape(probs.shape).to(probs.dtype)
            weight = truth_field.pow(self.alpha) + pred_field.pow(self.alpha)
        total = ((probs - truth).square() * weight).sum()  # probs and truth are 0 at void pixels
        return safe_div(total, valid.sum().to(probs.dtype) * probs.shape[1])
