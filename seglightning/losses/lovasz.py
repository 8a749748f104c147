"""Lovász losses (Berman, Rannen Triki & Blaschko 2018, "The Lovász-Softmax loss"): the convex
Lovász extension of the Jaccard loss, evaluated on sorted per-pixel errors.

Vectorised over classes (and images): one batched sort instead of a Python loop per class. Void
pixels are given an error below every valid one, so they sort last and add nothing.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from .base import SegLoss
from .common import binary_inputs, probabilities, safe_div
from .registry import register_loss


def lovasz_grad(truth_sorted: Tensor) -> Tensor:
    """Berman et al. Alg. 1, along the last dim: the gradient of the Lovász extension of the
    Jaccard loss with respect to errors sorted in decreasing order (``truth_sorted`` in {0,1})."""
    positives = truth_sorted.sum(-1, keepdim=True)
    intersection = positives - truth_sorted.cumsum(-1)
    union = positives + (1.0 - truth_sorted).cumsum(-1)
    jaccard = 1.0 - intersection / union
    return torch.cat([jaccard[..., :1], jaccard[..., 1:] - jaccard[..., :-1]], dim=-1)


def lovasz_extension(errors: Tensor, truth: Tensor, valid: Tensor) -> Tensor:
    """``sum_i e_(i) g_i`` per row of [..., P] errors (void entries excluded), ``g = lovasz_grad``."""
    errors = torch.where(valid, errors, torch.full_like(errors, -torch.inf))
    errors_sorted, order = torch.sort(errors, dim=-1, descending=True)
    grad = lovasz_grad(truth.gather(-1, order))
    kept = errors_sorted > -torch.inf
    return (torch.where(kept, errors_sorted, torch.zeros_like(errors_sorted)) * grad).sum(-1)


@register_loss("lovasz")
class LovaszSoftmaxLoss(SegLoss):
    """Lovász-softmax: per class ``c``, the Lovász extension of the Jaccard loss on the errors
    ``|g_ic - p_ic|`` (softmax ``p``), averaged over the classes present in the target
    (``classes="present"``) or all classes (``"all"``); over the whole batch, or per image and then
    averaged over images (``per_image=True``; an all-void image counts as 0).

    Equals ``segmentation_models_pytorch.losses.LovaszLoss(mode="multiclass", per_image=...,
    ignore_index=255)`` (Berman's reference ``lovasz_softmax``).
    """

    def __init__(
        self, ignore_index: int = 255, per_image: bool = False, classes: Literal["present", "all"] = "present"
    ) -> None:
        super().__init__()
        if classes not in ("present", "all"):
            raise ValueError(
                f"loss 'lovasz': classes must be 'present' or 'all' (config key loss.classes), got '{classes}'"
            )
        self.ignore_index = ignore_index
        self.per_image = per_image
        self.classes = classes

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        probs, truth, valid = probabilities(logits, target, self.ignore_index, "multiclass", self.name)
        if not self.per_image:  # pool the batch: one row of B*N pixels per class
            probs, truth, valid = (t.transpose(0, 1).reshape(1, t.shape[1], -1) for t in (probs, truth, valid))
        losses = lovasz_extension((truth - probs).abs(), truth, valid.expand_as(probs))
        if self.classes == "all":
            return losses.mean()
        present = (truth.sum(-1) > 0).to(losses.dtype)
        return safe_div((losses * present).sum(-1), present.sum(-1)).mean()


@register_loss("lovasz_hinge")
class LovaszHingeLoss(SegLoss):
    """Binary Lovász hinge: the Lovász extension of the Jaccard loss on the hinge errors
    ``max(0, 1 - z_i s_i)`` (``s_i = +-1``), per image and averaged (``per_image=True``, Berman's
    default; an all-void image counts as 0) or over the whole batch. Binary mode: logits [N,1,H,W]
    or [N,H,W], targets {0,1}.

    Equals ``segmentation_models_pytorch.losses.LovaszLoss(mode="binary", per_image=...,
    ignore_index=255)`` (Berman's reference ``lovasz_hinge``).
    """

    def __init__(self, ignore_index: int = 255, per_image: bool = True) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.per_image = per_image

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        logits, truth, valid = binary_inputs(logits, target, self.ignore_index, self.name)
        rows = logits.shape[0] if self.per_image else 1
        logits, truth, valid = (t.reshape(rows, -1) for t in (logits, truth, valid))
        errors = 1.0 - logits * (2.0 * truth - 1.0)
        return lovasz_extension(torch.relu(errors), truth, valid).mean()
