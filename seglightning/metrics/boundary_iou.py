"""Boundary IoU for semantic segmentation (Cheng, Girshick, Dollár, Berg & Kirillov, "Boundary IoU:
Improving Object-Centric Image Segmentation Evaluation", CVPR 2021), with the band of
``bowenc0221/boundary-iou-api`` (``boundary_iou/utils/boundary_utils.py``, ``mask_to_boundary``).

Per image and class ``c`` (docs/design.md, Metrics):

1. Binary masks ``P_c = (pred == c) & valid`` and ``G_c = (gt == c)``, ``valid = gt != ignore_index``
   (void pixels are zeroed in both masks first).
2. The boundary band of a mask ``M`` is ``M & ~erode(pad0(M), 3x3 square, d iterations)`` with
   ``d = max(1, round(r * sqrt(H^2 + W^2)))`` for a dilation ratio ``r < 1``, ``d = r`` pixels for
   ``r >= 1`` (:mod:`seglightning.metrics.band`, torch-free, shared with the sweep report's gallery).
3. ``I_c = |P_b & G_b & valid|`` and ``U_c = |(P_b | G_b) & valid|``.

Dataset level, like mIoU: ``bIoU_c = sum_images I_c / sum_images U_c``, NaN where the union sum is 0;
``bIoU`` is the mean over the classes with a non-empty union. The states are the int64 sums of
``I`` and ``U`` per width and class, so results on N processes equal 1 process exactly.

How it is computed (identical counts, tested against the per-class cv2 port of ``mask_to_boundary``):
one band for every class at once per label map and width (:func:`~seglightning.metrics.band.label_bands`:
OpenCV on CPU tensors; :func:`torch_bands`, ``max_pool2d``, on other devices), with void pixels
relabelled to ``C`` (in no class), and one ``bincount`` give every class's ``|P_b|``, ``|G_b|`` and
``I``; ``U = |P_b| + |G_b| - I`` (both bands lie in valid pixels).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric

from seglightning.metrics.band import band_width, frame, label_bands
from seglightning.metrics.confusion import as_class_indices, check_labels
from seglightning.metrics.functional import nan_mean, ratio

__all__ = ["BoundaryIoU", "biou_name", "boundary_bands", "torch_bands"]


def biou_name(dilation: float) -> str:
    """Logged name at one width: ``bIoU@3px`` for pixels, ``bIoU@0.02diag`` for a fraction of the diagonal."""
    return f"bIoU@{dilation:g}px" if dilation >= 1 else f"bIoU@{dilation:g}diag"


def torch_bands(labels: Tensor, num_classes: int, d: int) -> Tensor:
    """:func:`~seglightning.metrics.band.label_bands` in torch (any device): ``max_pool2d`` pads with
    ``-inf``, so only pixels inside the image count; the frame is added after."""
    x = labels.clamp_max(num_classes).unsqueeze(1).float()  # exact for labels < 2^24
    high = F.max_pool2d(x, 2 * d + 1, stride=1, padding=d)
    low = -F.max_pool2d(-x, 2 * d + 1, stride=1, padding=d)
    mixed = (high != low).squeeze(1)
    frame(mixed, d)
    return mixed & (labels < num_classes)


def boundary_bands(labels: Tensor, num_classes: int, d: int) -> Tensor:
    """``[B, H, W]`` bool: pixel ``p`` with label ``l < num_classes`` lies in the boundary band of
    ``labels == l`` at width ``d`` (labels ``>= num_classes``, e.g. void, are in no class and never
    in a band): the numpy band on CPU tensors, :func:`torch_bands` on other devices."""
    if labels.device.type == "cpu":
        return torch.from_numpy(label_bands(labels.numpy(), num_classes, d))
    return torch_bands(labels, num_classes, d)


class BoundaryIoU(Metric):
    """Dataset-level Boundary IoU (Cheng et al., CVPR 2021; band of ``mask_to_boundary``); see module docs.

    Args:
        num_classes: number of classes ``C``.
        dilation_ratio: one value or a list; ``< 1`` a fraction of the image diagonal (the paper's
            0.02 by default), ``>= 1`` a band width in whole pixels.
        ignore_index: void label (zeroed in both masks, excluded from the counts); ``None``: none.

    ``update(preds, target)``: ``preds`` class indices ``[B,H,W]`` or logits ``[B,C,H,W]``.
    ``compute()``: ``{dilation: bIoU}``, one entry per width in the order given (NaN if no class was
    seen). :meth:`per_class` gives ``[T, C]``; ``last_per_image`` the latest batch's per-image
    intersection and union counts ``[2, T, B, C]`` (int64).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    intersection: Tensor
    union: Tensor

    def __init__(
        self,
        num_classes: int,
        dilation_ratio: float | Sequence[float] = 0.02,
        ignore_index: int | None = 255,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        ratios = [dilation_ratio] if isinstance(dilation_ratio, (int, float)) else list(dilation_ratio)
        if not ratios:
            raise ValueError("dilation_ratio list is empty")
        for r in ratios:
            if r <= 0 or (r >= 1 and r != int(r)):
                raise ValueError(
                    f"dilation_ratio {r!r} must be a fraction of the image diagonal in (0, 1) or a whole "
                    "number of pixels (>= 1)"
                )
        if ignore_index is not None and 0 <= ignore_index < num_classes:
            raise ValueError(f"ignore_index={ignore_index} collides with a class id in [0, {num_classes})")
        self.num_classes = num_classes
        self.dilations = ratios
        self.ignore_index = ignore_index
        shape = (len(ratios), num_classes)
        self.add_state("intersection", default=torch.zeros(shape, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("union", default=torch.zeros(shape, dtype=torch.long), dist_reduce_fx="sum")
        self.last_per_image: Tensor | None = None

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add the per-class band intersections and unions of one batch."""
        preds = as_class_indices(preds, target, self.num_classes)
        check_labels(target, preds, self.num_classes, self.ignore_index)
        b, h, w = target.shape
        c = self.num_classes
        target = target.long()
        if self.ignore_index is not None:
            valid = target != self.ignore_index
            target = torch.where(valid, target, c)  # void -> C: in no class mask
            preds = torch.where(valid, preds, c)
        offsets = torch.arange(b, device=target.device).view(b, 1, 1) * c
        image_gt, image_pred = offsets + target, offsets + preds

        def count(index: Tensor, where: Tensor) -> Tensor:
            return torch.bincount(index[where], minlength=b * c).view(b, c)

        rows = []
        for dilation in self.dilations:
            d = band_width(dilation, h, w)
            band_p, band_g = boundary_bands(preds, c, d), boundary_bands(target, c, d)
            inter = count(image_gt, band_p & band_g & (preds == target))
            rows.append(torch.stack([inter, count(image_pred, band_p) + count(image_gt, band_g) - inter]))
        per_image = torch.stack(rows, 1)  # [2, T, B, C]
        self.last_per_image = per_image
        self.intersection += per_image[0].sum(1)
        self.union += per_image[1].sum(1)

    def per_class(self) -> Tensor:
        """Per-class Boundary IoU ``[T, C]``, one row per width; NaN: empty union over the whole set."""
        return ratio(self.intersection.double(), self.union).float()

    def compute(self) -> dict[float, Tensor]:
        """``{dilation: mean over classes with a non-empty union}``, in the order given."""
        return {r: nan_mean(row) for r, row in zip(self.dilations, self.per_class())}
