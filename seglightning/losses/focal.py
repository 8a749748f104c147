"""Focal loss (Lin et al. 2017, "Focal Loss for Dense Object Detection")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import SegLoss
from .common import Mode, binary_inputs, check_mode, check_multiclass, masked_mean
from .registry import register_loss


def focal_factor(log_p_true: Tensor, gamma: float) -> Tensor:
    """``(1 - p_t)^gamma`` from ``log p_t``, finite (value and gradient) when ``p_t`` rounds to 1."""
    base = -torch.expm1(log_p_true)
    positive = base > 0
    safe = torch.where(positive, base, torch.ones_like(base))
    return torch.where(positive, safe.pow(gamma), torch.full_like(base, 0.0**gamma))


@register_loss("focal")
class FocalLoss(SegLoss):
    """Focal loss ``FL_i = -alpha_t (1 - p_t)^gamma log p_t``, averaged over the valid pixels.

    Multiclass (default): softmax focal loss, ``p_t`` the probability of the pixel's true class.
    ``alpha``: ``None`` (every class 1), a per-class list (``alpha_t = alpha[y]``), or a number,
    Lin's binary weight carried to softmax as kornia does — class 0 (background) ``1 - alpha``,
    every other class ``alpha``. Equals ``kornia.losses.focal_loss(..., reduction="mean")``
    multiplied by C (kornia divides by pixels x classes; per-class ``alpha`` = kornia ``weight``);
    ``gamma=0, alpha=None`` is cross-entropy.

    Binary (``mode="binary"``): sigmoid focal loss, ``p_t = p`` for positives and ``1 - p`` for
    negatives, ``alpha_t = alpha`` / ``1 - alpha`` (``None``: no weighting). Equals
    ``torchvision.ops.sigmoid_focal_loss(..., reduction="mean")`` (``alpha=None`` <-> ``-1``).
    """

    def __init__(
        self,
        ignore_index: int = 255,
        gamma: float = 2.0,
        alpha: float | Sequence[float] | None = None,
        mode: Mode = "multiclass",
    ) -> None:
        super().__init__()
        check_mode(mode, self.name)
        if gamma < 0:
            raise ValueError(f"loss 'focal': gamma must be >= 0 (config key loss.gamma), got {gamma}")
        if mode == "binary" and alpha is not None and not isinstance(alpha, (int, float)):
            raise ValueError("loss 'focal' (mode=binary): alpha must be a number or null (config key loss.alpha)")
        self.ignore_index = ignore_index
        self.gamma = gamma
        self.mode = mode
        self.alpha_scalar: float | None = float(alpha) if isinstance(alpha, (int, float)) else None
        self.alpha: Tensor | None
        per_class = (
            None if alpha is None or self.alpha_scalar is not None else torch.as_tensor(alpha, dtype=torch.float32)
        )
        self.register_buffer("alpha", per_class, persistent=False)

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        if self.mode == "binary":
            return self._binary(logits, target)
        check_multiclass(logits, target, self.name)
        valid = target != self.ignore_index
        index = torch.where(valid, target, torch.zeros_like(target))
        log_p_true = torch.log_softmax(logits, dim=1).gather(1, index.unsqueeze(1)).squeeze(1)
        loss = -focal_factor(log_p_true, self.gamma) * log_p_true
        if self.alpha is not None:
            if self.alpha.numel() != logits.shape[1]:
                raise ValueError(
                    f"loss 'focal': {self.alpha.numel()} alpha values (config key loss.alpha) "
                    f"for {logits.shape[1]} classes"
                )
            loss = loss * self.alpha.to(loss.dtype)[index]
        elif self.alpha_scalar is not None:
            loss = loss * torch.where(index == 0, 1.0 - self.alpha_scalar, self.alpha_scalar)
        return masked_mean(loss, valid)

    def _binary(self, logits: Tensor, target: Tensor) -> Tensor:
        logits, truth, valid = binary_inputs(logits, target, self.ignore_index, self.name)
        bce = F.binary_cross_entropy_with_logits(logits, truth, reduction="none")
        loss = focal_factor(-bce, self.gamma) * bce  # log p_t = -BCE
        if self.alpha_scalar is not None:
            loss = loss * (self.alpha_scalar * truth + (1.0 - self.alpha_scalar) * (1.0 - truth))
        return masked_mean(loss, valid)
