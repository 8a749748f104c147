"""Mask R-CNN (He et al., "Mask R-CNN", ICCV 2017, arXiv:1703.06870): torchvision's
``maskrcnn_resnet50_fpn`` (``variant="v1"``, the paper's ResNet-50-FPN) or
``maskrcnn_resnet50_fpn_v2`` (``"v2"``, Li et al. 2021's improved recipe), with two swappable
training losses:

- the mask head's per-RoI binary loss on the ``M x M`` mask of the ground-truth class comes from
  the loss factory in binary mode (``mask_loss``, default ``bce``: the paper's average binary
  cross-entropy, identical to torchvision's ``maskrcnn_loss``, on its fractional ``roi_align``
  targets); every other mask loss (Dice, Lovasz hinge... assume {0, 1} targets) gets the targets
  binarised at 0.5, as Detectron2 does (``BitMasks.crop_and_resize``: ``>= 0.5``);
- the box classifier uses softmax cross-entropy (``box_classification="ce"``, the paper) or Wu et
  al.'s IoU-balanced classification loss (``"iou_balanced"``; "IoU-balanced Loss Functions for
  Single-stage Object Detection", arXiv:1908.05641, Eq. 3-4): a positive RoI's cross-entropy is
  weighted by ``w_i = iou_i^eta * sum_j CE_j / sum_j iou_j^eta CE_j`` (sums over the positives, the
  normaliser detached, so the positives' total loss is unchanged), with ``iou_i`` the IoU of the
  RoI's regressed box (its ground-truth class's box regression decoded on the proposal by the box
  coder, detached, as in Wu et al.'s implementation) with its matched ground-truth box and ``eta``
  1.5; negatives keep weight 1. This is the
  loss in its original setting (classification of boxes by their localisation quality); the loss
  factory's ``iou_balanced`` is its transfer to pixels.

``num_classes`` counts the background (index 0): instance label ``k`` is semantic class ``k``.
Images arrive normalised by the datamodule, so torchvision's internal normalisation is the
identity (``image_mean=0``, ``image_std=1``); ``min_size``/``max_size`` set its resize.
Pretrained weights (``weights``: ``COCO_V1``/``DEFAULT``/a local file; ``weights_backbone``:
ImageNet) come through torchvision's weights enums and cache, with the fine-tuning tutorial's head
surgery when ``num_classes`` is not COCO's (:mod:`seglightning.models.maskrcnn_weights`).

``forward(images, targets)`` is torchvision's: in training a dict of losses (``loss_classifier``,
``loss_box_reg``, ``loss_mask``, ``loss_objectness``, ``loss_rpn_box_reg``), in evaluation a list
of ``{"boxes", "labels", "scores", "masks" [N,1,H,W] probabilities}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.detection import maskrcnn_resnet50_fpn, maskrcnn_resnet50_fpn_v2
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.roi_heads import RoIHeads, fastrcnn_loss, project_masks_on_boxes

from ..losses import build_loss
from .maskrcnn_weights import build_pretrained
from .registry import register_model

VARIANTS = {"v1": maskrcnn_resnet50_fpn, "v2": maskrcnn_resnet50_fpn_v2}
BOX_CLASSIFICATION = ("ce", "iou_balanced")
SOFT_TARGET_MASK_LOSS = "bce"  # the one mask loss trained on roi_align's fractional targets (torchvision's)


def _area(boxes: Tensor) -> Tensor:
    return (boxes[:, 2:] - boxes[:, :2]).clamp(min=0).prod(1)


def paired_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU of box ``a[i]`` with box ``b[i]`` (xyxy), [N]."""
    inter = _area(torch.cat([torch.maximum(a[:, :2], b[:, :2]), torch.minimum(a[:, 2:], b[:, 2:])], dim=1))
    return inter / (_area(a) + _area(b) - inter).clamp(min=1e-9)


def regressed_iou(
    box_coder: BoxCoder, box_regression: Tensor, proposals: list[Tensor], labels: Tensor, gt_boxes: Tensor
) -> Tensor:
    """IoU of each RoI's *regressed* box with its matched ground-truth box, detached [N]: the box
    regression of the RoI's label (``box_regression`` [N, K*4]) decoded on its proposal with the box
    coder, as Wu et al. compute the IoU of IoU-balanced classification from the decoded prediction."""
    with torch.no_grad():
        decoded = box_coder.decode(box_regression.detach(), proposals)  # [N,K,4]
        boxes = decoded[torch.arange(len(labels), device=labels.device), labels]
        return paired_iou(boxes, gt_boxes.to(boxes.dtype))


def iou_balanced_cross_entropy(logits: Tensor, labels: Tensor, ious: Tensor, eta: float = 1.5) -> Tensor:
    """Wu et al.'s IoU-balanced classification loss over sampled RoIs (label 0 = background)."""
    ce = F.cross_entropy(logits, labels, reduction="none")
    positive = labels > 0
    weight = torch.ones_like(ce)
    if positive.any():
        scaled = ious[positive].clamp(min=0) ** eta
        ce_pos = ce[positive].detach()
        weight[positive] = scaled * ce_pos.sum() / (scaled * ce_pos).sum().clamp(min=1e-12)
    return (weight * ce).mean()


class MaskRCNNHeads(RoIHeads):
    """torchvision's ``RoIHeads`` with the box-classification and mask losses swappable (training
    only; inference is unchanged)."""

    def __init__(self, heads: RoIHeads, mask_loss: nn.Module, box_classification: str, eta: float):
        super().__init__(
            heads.box_roi_pool,
            heads.box_head,
            heads.box_predictor,
            fg_iou_thresh=heads.proposal_matcher.high_threshold,
            bg_iou_thresh=heads.proposal_matcher.low_threshold,
            batch_size_per_image=heads.fg_bg_sampler.batch_size_per_image,
            positive_fraction=heads.fg_bg_sampler.positive_fraction,
            bbox_reg_weights=heads.box_coder.weights,
            score_thresh=heads.score_thresh,
            nms_thresh=heads.nms_thresh,
            detections_per_img=heads.detections_per_img,
            mask_roi_pool=heads.mask_roi_pool,
            mask_head=heads.mask_head,
            mask_predictor=heads.mask_predictor,
        )
        self.mask_loss = mask_loss
        self.soft_mask_targets = mask_loss.name == SOFT_TARGET_MASK_LOSS
        self.box_classification = box_classification
        self.eta = eta

    def forward(
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
        targets: list[dict[str, Tensor]] | None = None,
    ) -> tuple[list[dict[str, Tensor]], dict[str, Tensor]]:
        if not self.training:
            return super().forward(features, proposals, image_shapes, targets)
        proposals, matched, labels, regression_targets = self.select_training_samples(proposals, targets)
        class_logits, box_regression = self.box_predictor(self.box_head(self.box_roi_pool(features, proposals, image_shapes)))
        loss_classifier, loss_box_reg = fastrcnn_loss(class_logits, box_regression, labels, regression_targets)
        if self.box_classification == "iou_balanced":
            gt_boxes = [t["boxes"][m] if len(t["boxes"]) else torch.zeros_like(p) for t, m, p in zip(targets, matched, proposals)]
            ious = regressed_iou(self.box_coder, box_regression, proposals, torch.cat(labels), torch.cat(gt_boxes))
            loss_classifier = iou_balanced_cross_entropy(class_logits, torch.cat(labels), ious, self.eta)

        positive = [torch.where(lab > 0)[0] for lab in labels]
        mask_boxes = [p[i] for p, i in zip(proposals, positive)]
        mask_matched = [m[i] for m, i in zip(matched, positive)]
        mask_logits = self.mask_predictor(self.mask_head(self.mask_roi_pool(features, mask_boxes, image_shapes)))
        size = mask_logits.shape[-1]
        gt_labels = torch.cat([t["labels"][m] for t, m in zip(targets, mask_matched)])
        mask_targets = torch.cat(
            [project_masks_on_boxes(t["masks"], b, m, size) for t, b, m in zip(targets, mask_boxes, mask_matched)]
        )
        if not self.soft_mask_targets:
            mask_targets = (mask_targets >= 0.5).to(mask_targets.dtype)
        if mask_targets.numel() == 0:
            loss_mask = mask_logits.sum() * 0
        else:
            loss_mask = self.mask_loss(mask_logits[torch.arange(len(gt_labels), device=gt_labels.device), gt_labels], mask_targets)
        return [], {"loss_classifier": loss_classifier, "loss_box_reg": loss_box_reg, "loss_mask": loss_mask}


@register_model("maskrcnn")
class MaskRCNN(nn.Module):
    """torchvision Mask R-CNN with loss-factory mask loss and optional IoU-balanced box classification."""

    task = "instance"

    def __init__(
        self,
        num_classes: int,
        variant: str = "v1",
        min_size: int = 800,
        max_size: int = 1333,
        weights: str | Path | None = None,
        weights_backbone: str | None = None,
        mask_loss: str | Mapping[str, Any] | list | nn.Module = "bce",
        box_classification: str = "ce",
        iou_balance_eta: float = 1.5,
        ignore_index: int = 255,
        **kwargs: Any,
    ):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"model.variant must be one of {sorted(VARIANTS)}, got '{variant}'")
        if box_classification not in BOX_CLASSIFICATION:
            raise ValueError(f"model.box_classification must be one of {BOX_CLASSIFICATION}, got '{box_classification}'")
        if num_classes < 2:
            raise ValueError(f"Mask R-CNN needs num_classes >= 2 (background + at least one class), got {num_classes}")
        net = build_pretrained(
            VARIANTS[variant], variant, num_classes, weights, weights_backbone, min_size=min_size, max_size=max_size,
            image_mean=[0.0, 0.0, 0.0], image_std=[1.0, 1.0, 1.0], **kwargs,
        )
        if not isinstance(mask_loss, nn.Module):
            mask_loss = build_loss(mask_loss, ignore_index=ignore_index, mode="binary")
        net.roi_heads = MaskRCNNHeads(net.roi_heads, mask_loss, box_classification, iou_balance_eta)
        self.net = net
        self.num_classes = num_classes

    @property
    def mask_loss(self) -> nn.Module:
        """The mask head's loss (a loss-factory ``SegLoss`` in binary mode)."""
        return self.net.roi_heads.mask_loss

    def forward(
        self, images: list[Tensor] | Tensor, targets: list[dict[str, Tensor]] | None = None
    ) -> dict[str, Tensor] | list[dict[str, Tensor]]:
        return self.net(list(images), targets)
