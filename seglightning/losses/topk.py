"""TopK cross-entropy: the loss of the hardest pixels only."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import SegLoss
from .common import check_multiclass, safe_div
from .registry import register_loss


@register_loss("topk")
class TopKLoss(SegLoss):
    """Cross-entropy averaged over the hardest ``k`` % of the batch's valid pixels (bootstrapped CE,
    Wu et al. 2016; the TopK loss of nnU-Net and JunMa11/SegLoss, ``k=10``).

    ``n = ceil(k / 100 * N_valid)`` pixels with the largest CE are kept; void pixels neither enter
    the count nor the selection (JunMa11/SegLoss counts every pixel). Selection is pooled over the
    batch. No host synchronisation: ``n`` stays a tensor.
    """

    def __init__(self, ignore_index: int = 255, k: float = 10.0) -> None:
        super().__init__()
        if not 0 < k <= 100:
            raise ValueError(f"loss 'topk': k is a percentage in (0, 100] (config key loss.k), got {k}")
        self.ignore_index = ignore_index
        self.k = k
        self.share = Fraction(k).limit_denominator(10**6) / 100  # exact ceil in integer arithmetic

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        check_multiclass(logits, target, self.name)
        ce = F.cross_entropy(logits, target, ignore_index=self.ignore_index, reduction="none").flatten()
        valid = (target != self.ignore_index).flatten()
        n_valid = valid.sum()
        n_keep = -((-n_valid * self.share.numerator) // self.share.denominator)
        upper = -((-ce.numel() * self.share.numerator) // self.share.denominator)
        scores = torch.where(valid, ce, torch.full_like(ce, -1.0))  # CE >= 0: void sorts last
        hardest = torch.topk(scores, upper, sorted=True).values
        kept = torch.arange(upper, device=ce.device) < n_keep
        return safe_div(torch.where(kept, hardest, torch.zeros_like(hardest)).sum(), n_keep.to(ce.dtype))
