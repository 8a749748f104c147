"""Shared inputs for the loss tests: blocky targets with void pixels and an absent class, the
per-loss constructor options of the contract tests, and a confusion-matrix mIoU."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from seglightning.losses import LOSSES, SegLoss, build_loss, signed_distance_maps

IGNORE = 255

# options that make each registered loss runnable on the shared multiclass / binary inputs
CASES: dict[str, dict[str, Any]] = {
    "ce": {},
    "wce": {"class_weight": [0.5, 1.0, 2.0, 1.5]},
    "focal": {},
    "dice": {},
    "generalized_dice": {},
    "jaccard": {},
    "iou_balanced": {},
    "boundary": {},
    "lovasz": {},
    "topk": {},
    "dpce": {},
    "sensitivity_specificity": {},
    "hausdorff": {},
    "tversky": {},
}
BINARY_CASES: dict[str, dict[str, Any]] = {
    "bce": {},
    "dice": {"mode": "binary"},
    "focal": {"mode": "binary", "alpha": 0.25},
    "lovasz_hinge": {},
    "boundary": {"mode": "binary"},
}
FAMILY_MODULES = {
    "boundary", "cross_entropy", "dpce", "focal", "generalized_dice", "hausdorff", "iou_balanced",
    "lovasz", "region", "sensitivity_specificity", "topk",
}


def blocky_target(batch: int, size: int, labels: int, seed: int, block: int = 3, void: bool = True) -> Tensor:
    """Index masks of random ``block`` x ``block`` tiles with labels in [0, labels), plus a void
    band (rows 0-1 of every image) when ``void``."""
    generator = torch.Generator().manual_seed(seed)
    cells = -(-size // block)
    coarse = torch.randint(0, labels, (batch, cells, cells), generator=generator)
    target = coarse.repeat_interleave(block, 1).repeat_interleave(block, 2)[:, :size, :size].contiguous()
    if void:
        target[:, :2] = IGNORE
    return target


def logits_like(target: Tensor, channels: int, seed: int, dtype: torch.dtype = torch.float32) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(target.shape[0], channels, *target.shape[1:], generator=generator, dtype=dtype)


def multiclass_case(seed: int = 0, batch: int = 2, size: int = 12, classes: int = 4) -> tuple[Tensor, Tensor]:
    """(logits [B,C,H,W], target [B,H,W]) with void rows; the last class is absent."""
    target = blocky_target(batch, size, classes - 1, seed)
    return logits_like(target, classes, seed + 1), target


def binary_case(seed: int = 0, batch: int = 2, size: int = 12) -> tuple[Tensor, Tensor]:
    """(logits [N,1,H,W], target {0,1,void} [N,H,W])."""
    target = blocky_target(batch, size, 2, seed)
    return logits_like(target, 1, seed + 1), target


def extras_for(loss: SegLoss, target: Tensor, channels: int, dtype: torch.dtype = torch.float32) -> dict[str, Tensor]:
    """The batch extras ``loss`` requires, computed as the data workers do."""
    extras: dict[str, Tensor] = {}
    if "dist_map" in loss.requires:
        maps = signed_distance_maps(target, max(channels, 2), IGNORE).to(dtype)
        extras["dist_map"] = maps[:, 1:2] if channels == 1 else maps
    return extras


def make_loss(name: str, binary: bool = False, **overrides: Any) -> SegLoss:
    options = dict(BINARY_CASES[name] if binary else CASES[name])
    options.update(overrides)
    return build_loss({"name": name, **options}, ignore_index=IGNORE)


def family_losses() -> set[str]:
    """Registered losses defined in this package's loss-family modules (not model-owned terms)."""
    return {name for name, cls in LOSSES.items() if cls.__module__.rsplit(".", 1)[-1] in FAMILY_MODULES}


def mean_iou(pred: Tensor, target: Tensor, classes: int) -> float:
    """Dataset mIoU over the classes present in prediction or target (void excluded)."""
    valid = target != IGNORE
    confusion = torch.bincount(target[valid] * classes + pred[valid], minlength=classes * classes).view(
        classes, classes
    )
    tp = confusion.diag().double()
    union = confusion.sum(0) + confusion.sum(1) - confusion.diag()
    return (tp[union > 0] / union[union > 0]).mean().item()


def masked_for_monai(logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """MONAI has no ignore_index: give it probabilities and one-hot targets zeroed at void pixels."""
    valid = (target != IGNORE).unsqueeze(1)
    probs = torch.softmax(logits, 1) * valid
    onehot = F.one_hot(torch.where(valid[:, 0], target, 0), logits.shape[1]).permute(0, 3, 1, 2) * valid
    return probs, onehot.float()
