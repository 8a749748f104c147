"""EncNet's Semantic Encoding loss (Zhang et al., "Context Encoding for Semantic Segmentation",
CVPR 2018, Sec. 3.2), the ``se_logits`` term of ``model=fastfcn head=enc`` (weight 0.2).

``encnet_se``: binary cross-entropy between ``sigmoid(se_logits)`` [B,C] and the presence vector of
each class in each image's target (void pixels excluded), averaged over B x C. Equals the reference
``SegmentationLosses`` (wuhuikai/FastFCN ``encoding/nn/customize.py``): ``BCELoss(sigmoid(se_pred),
histc(target) > 0)``. Its term reads the model output with ``input: se_logits``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import SegLoss
from .registry import register_loss


@register_loss("encnet_se")
class SemanticEncodingLoss(SegLoss):
    """BCE of per-image class-presence logits [B,C] against the classes present in the target."""

    def __init__(self, ignore_index: int = 255) -> None:
        super().__init__()
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        if logits.dim() != 2 or logits.shape[0] != target.shape[0]:
            raise ValueError(
                f"loss '{self.name}' takes class-presence logits [B,C] (term input: se_logits) and a target "
                f"[B,H,W]; got {tuple(logits.shape)} and {tuple(target.shape)}"
            )
        classes = logits.shape[1]
        index = torch.where(target == self.ignore_index, classes, target).flatten(1).long()
        present = torch.zeros(target.shape[0], classes + 1, device=target.device).scatter_(1, index, 1.0)
        return F.binary_cross_entropy_with_logits(logits, present[:, :classes].to(logits.dtype))
