"""Mask R-CNN's pretrained weights: torchvision's weights enums, or a local state dict.

``model.weights``: ``null``; ``COCO_V1`` / ``DEFAULT`` (torchvision's COCO checkpoint of the chosen
variant, ``MaskRCNN_ResNet50_FPN[_V2]_Weights``); or a local torchvision Mask R-CNN state dict.
``model.weights_backbone`` (without ``weights``): ``null`` or ``IMAGENET1K_V1`` / ``IMAGENET1K_V2`` /
``DEFAULT`` (``ResNet50_Weights``; the paper used an ImageNet-pretrained ResNet-50). Enum weights go
through torchvision's own builder and cache (``$TORCH_HOME/hub/checkpoints``), so a pretrained
model gets torchvision's fine-tuning set-up too (frozen BatchNorm, the first stages frozen unless
``trainable_backbone_layers`` is given).

When ``num_classes`` differs from the checkpoint's (COCO: 91), the box predictor and the mask
predictor are replaced by freshly initialised ones and everything else is kept, as in
torchvision's fine-tuning tutorial (pytorch.org/tutorials/intermediate/torchvision_tutorial.html).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn
from torchvision.models import ResNet50_Weights
from torchvision.models.detection import (
    MaskRCNN_ResNet50_FPN_V2_Weights,
    MaskRCNN_ResNet50_FPN_Weights,
)
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
from torchvision.models.detection.mask_rcnn import MaskRCNNPredictor

from .pretrained import is_local_file, local_checkpoint, read_state_dict, torchvision_weights

WEIGHTS = {"v1": MaskRCNN_ResNet50_FPN_Weights, "v2": MaskRCNN_ResNet50_FPN_V2_Weights}
PREDICTORS = ("roi_heads.box_predictor.", "roi_heads.mask_predictor.")


def replace_predictors(net: nn.Module, num_classes: int) -> None:
    """New box and mask predictors for ``num_classes`` (the tutorial's head surgery)."""
    heads = net.roi_heads
    heads.box_predictor = FastRCNNPredictor(heads.box_predictor.cls_score.in_features, num_classes)
    conv = heads.mask_predictor.conv5_mask
    heads.mask_predictor = MaskRCNNPredictor(conv.in_channels, conv.out_channels, num_classes)


def load_local_weights(net: nn.Module, path: str | Path) -> None:
    """Load a local torchvision Mask R-CNN state dict; the predictors are dropped (kept at their
    fresh initialisation) when the checkpoint has another number of classes."""
    file = local_checkpoint(path, "maskrcnn (model.weights)")
    state = read_state_dict(file)
    classes = state.get("roi_heads.box_predictor.cls_score.weight")
    surgery = (
        classes is not None
        and classes.shape[0] != net.roi_heads.box_predictor.cls_score.out_features
    )
    if surgery:
        state = {k: v for k, v in state.items() if not k.startswith(PREDICTORS)}
    result = net.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not (surgery and k.startswith(PREDICTORS))]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"{file} is not a torchvision Mask R-CNN checkpoint of this variant: missing {missing[:3]}, "
            f"unexpected {result.unexpected_keys[:3]}"
        )


def build_pretrained(
    builder: Callable[..., nn.Module],
    variant: str,
    num_classes: int,
    weights: Any,
    weights_backbone: Any,
    **kwargs: Any,
) -> nn.Module:
    """torchvision's Mask R-CNN ``builder`` with ``weights`` / ``weights_backbone`` (module docstring)."""
    if weights not in (None, False) and is_local_file(weights):
        net = builder(weights=None, weights_backbone=None, num_classes=num_classes, **kwargs)
        load_local_weights(net, weights)
        return net
    coco = torchvision_weights(WEIGHTS[variant], weights, "model.weights")
    if coco is None:
        backbone = torchvision_weights(ResNet50_Weights, weights_backbone, "model.weights_backbone")
        return builder(weights=None, weights_backbone=backbone, num_classes=num_classes, **kwargs)
    net = builder(weights=coco, weights_backbone=None, progress=False, **kwargs)
    if num_classes != len(coco.meta["categories"]):
        replace_predictors(net, num_classes)
    return net
