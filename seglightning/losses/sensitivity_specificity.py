"""Sensitivity-specificity loss (Brosch, Yoo, Tang, Li, Traboulsee & Tam 2015, MICCAI)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from .base import SegLoss
from .common import class_probabilities, class_sums
from .registry import register_loss


@register_loss("sensitivity_specificity")
class SensitivitySpecificityLoss(SegLoss):
    """Per image, summed over classes ``c`` (softmax ``p``, one-hot ``g``, valid pixels):

    ``r * sum (g - p)^2 g / (sum g + eps) + (1 - r) * sum (g - p)^2 (1 - g) / (sum (1 - g) + eps)``

    (sensitivity term on the class's pixels weighted ``r = 0.05``, specificity term on the other
    pixels weighted ``1 - r``), then averaged over images — NiftyNet's
    ``sensitivity_specificity_loss`` (``eps = 1e-5``), applied per image by its ``LossFunction``.
    """

    def __init__(self, ignore_index: int = 255, r: float = 0.05, eps: float = 1e-5) -> None:
        super().__init__()
        if not 0.0 <= r <= 1.0:
            raise ValueError(f"loss 'sensitivity_specificity': r must be in [0, 1] (config key loss.r), got {r}")
        self.ignore_index = ignore_index
        self.r = r
        self.eps = eps

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        probs, label, valid = class_probabilities(logits, target, self.ignore_index, self.name)
        num_classes, weight = probs.shape[1], valid.to(probs.dtype)
        true_class = probs.gather(1, label.unsqueeze(1)).squeeze(1)  # 0 at void pixels
        # sum over the class's pixels of (1 - p)^2, and over the others' of p^2, without a one-hot
        inside = class_sums((1.0 - true_class).square() * weight, label, num_classes)
        outside = probs.square().sum(-1) - class_sums(true_class.square(), label, num_classes)
        count = class_sums(weight, label, num_classes)
        sensitivity = inside / (count + self.eps)
        specificity = outside / (weight.sum(-1, keepdim=True) - count + self.eps)
        return (self.r * sensitivity + (1.0 - self.r) * specificity).sum(-1).mean()
