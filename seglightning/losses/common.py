"""Pixel bookkeeping shared by every loss: shape checks, the void mask, probabilities and one-hot
targets with void pixels removed, and means that stay finite (with a gradient path) when every
pixel is void.

Two modes:

- ``"multiclass"``: logits [B,C,H,W], target int [B,H,W]; softmax over C.
- ``"binary"`` (Mask R-CNN's mask head): logits [N,1,H,W] or [N,H,W], target {0,1} (float or int)
  [N,H,W] or [N,1,H,W]; sigmoid, one foreground channel.

In both, pixels whose target equals ``ignore_index`` are void: they are removed from every sum
(numerator and denominator), and their logits receive an exactly zero gradient.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Mode = Literal["multiclass", "binary"]
MODES: tuple[str, ...] = ("multiclass", "binary")


def check_mode(mode: str, loss_name: str) -> None:
    """Raise a ``ValueError`` naming the config key when ``mode`` is not a known mode."""
    if mode not in MODES:
        raise ValueError(f"loss '{loss_name}': mode must be one of {MODES} (config key loss.mode), got '{mode}'")


def check_multiclass(logits: Tensor, target: Tensor, loss_name: str) -> None:
    """Logits must be [B,C,H,W] (C >= 2) and the index target [B,H,W] with the same B, H, W."""
    if logits.dim() < 3 or target.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(
            f"loss '{loss_name}': expected logits [B,C,H,W] and target [B,H,W] with the same B,H,W; "
            f"got logits {tuple(logits.shape)} and target {tuple(target.shape)}"
        )
    if logits.shape[1] < 2:
        raise ValueError(
            f"loss '{loss_name}' is multiclass (softmax over C >= 2 channels) but got {logits.shape[1]} channel; "
            f"for one foreground channel use mode=binary (config key loss.mode) or a binary loss (bce, lovasz_hinge)"
        )


def binary_inputs(logits: Tensor, target: Tensor, ignore_index: int, loss_name: str) -> tuple[Tensor, Tensor, Tensor]:
    """Binary mode: ``(logits, target float with void set to 0, valid bool)``, each [N,1,H,W]."""
    if logits.dim() == 4 and logits.shape[1] == 1:
        logits = logits[:, 0]
    if target.dim() == 4 and target.shape[1] == 1:
        target = target[:, 0]
    if logits.dim() != 3 or logits.shape != target.shape:
        raise ValueError(
            f"loss '{loss_name}' (mode=binary): expected logits [N,1,H,W] or [N,H,W] and a target of "
            f"the same size; got logits {tuple(logits.shape)} and target {tuple(target.shape)}"
        )
    valid = target != ignore_index
    truth = torch.where(valid, target, torch.zeros_like(target)).to(logits.dtype)
    return logits.unsqueeze(1), truth.unsqueeze(1), valid.unsqueeze(1)


def class_probabilities(
    logits: Tensor, target: Tensor, ignore_index: int, loss_name: str
) -> tuple[Tensor, Tensor, Tensor]:
    """Multiclass: ``(probs [B,C,N] softmax, zero at void; label [B,N], 0 at void; valid [B,N])``."""
    check_multiclass(logits, target, loss_name)
    batch, channels = logits.shape[:2]
    valid = (target != ignore_index).reshape(batch, -1)
    label = torch.where(valid, target.reshape(batch, -1), 0).long()
    probs = torch.softmax(logits, dim=1).reshape(batch, channels, -1)
    return torch.where(valid.unsqueeze(1), probs, 0.0), label, valid


def class_sums(values: Tensor, label: Tensor, num_classes: int) -> Tensor:
    """Per image and class ``c``, the sum of ``values`` [B,N] over the pixels labelled ``c``
    (``label`` [B,N]); void pixels must carry 0. No one-hot is built."""
    return values.new_zeros(values.shape[0], num_classes).scatter_add(1, label, values)


def one_hot(target: Tensor, num_classes: int, valid: Tensor, dtype: torch.dtype) -> Tensor:
    """One-hot [B,C,...] of an index target [B,...]; all-zero at void pixels (``~valid``)."""
    index = torch.where(valid, target, 0).long().unsqueeze(1)
    encoded = torch.zeros((target.shape[0], num_classes, *target.shape[1:]), dtype=dtype, device=target.device)
    return encoded.scatter_(1, index, valid.unsqueeze(1).to(dtype))


def probabilities(
    logits: Tensor, target: Tensor, ignore_index: int, mode: Mode, loss_name: str
) -> tuple[Tensor, Tensor, Tensor]:
    """``(probs, truth, valid)``, each flattened to [B,C,N] (valid: [B,1,N]); zero at void pixels.

    ``probs`` is the softmax over classes (multiclass) or the sigmoid of the single channel
    (binary); ``truth`` the one-hot (multiclass) or {0,1} (binary) target.
    """
    if mode == "binary":
        logits, truth, valid = binary_inputs(logits, target, ignore_index, loss_name)
        batch = logits.shape[0]
        probs = torch.where(valid, torch.sigmoid(logits), 0.0)
        return probs.reshape(batch, 1, -1), truth.reshape(batch, 1, -1), valid.reshape(batch, 1, -1)
    probs, label, valid = class_probabilities(logits, target, ignore_index, loss_name)
    return probs, one_hot(label, probs.shape[1], valid, probs.dtype), valid.unsqueeze(1)


def soft_statistics(
    logits: Tensor, target: Tensor, ignore_index: int, mode: Mode, loss_name: str, squared: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """Per image and class [B,C]: ``I = sum p g``, ``P = sum p`` (``sum p^2`` if ``squared``) and
    ``G = sum g`` over the valid pixels. Multiclass sums gather the true-class probability instead
    of building a one-hot (the cost of an overlap loss is then close to one softmax)."""
    if mode == "binary":
        probs, truth, _ = probabilities(logits, target, ignore_index, mode, loss_name)
        predicted = probs.square() if squared else probs
        return (probs * truth).sum(-1), predicted.sum(-1), truth.sum(-1)
    probs, label, valid = class_probabilities(logits, target, ignore_index, loss_name)
    true_class = probs.gather(1, label.unsqueeze(1)).squeeze(1)  # 0 at void pixels
    predicted = (probs.square() if squared else probs).sum(-1)
    num_classes = probs.shape[1]
    return class_sums(true_class, label, num_classes), predicted, class_sums(valid.to(probs.dtype), label, num_classes)


def safe_div(numerator: Tensor, denominator: Tensor) -> Tensor:
    """``numerator / denominator`` where ``denominator > 0``, else 0 — still attached to the graph
    of ``numerator``, so an empty (all-void) selection gives a zero, finite gradient."""
    positive = denominator > 0
    safe = torch.where(positive, denominator, torch.ones_like(denominator))
    return torch.where(positive, numerator / safe, numerator * 0)


def masked_mean(values: Tensor, valid: Tensor) -> Tensor:
    """Mean of ``values`` over the ``valid`` pixels (0 when none is valid)."""
    total = torch.where(valid, values, torch.zeros_like(values)).sum()
    return safe_div(total, valid.sum().to(values.dtype))
