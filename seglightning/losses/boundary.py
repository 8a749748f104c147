"""Boundary loss (Kervadec et al. 2019, "Boundary loss for highly unbalanced segmentation")."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from .base import SegLoss
from .common import Mode, check_mode, probabilities, safe_div
from .registry import register_loss


@register_loss("boundary")
class BoundaryLoss(SegLoss):
    """``mean over valid pixels and classes of p_ic * phi_ic``, with ``phi`` the ground truth's
    signed distance map (``dist_map`` from the data workers; LIVIAETS ``one_hot2dist`` convention:
    negative inside, positive outside; classes absent or covering the whole image are 0, so they
    are skipped) and ``p`` the softmax (sigmoid in binary mode).

    Equals LIVIAETS/boundary-loss ``SurfaceLoss`` over all classes and MONAI
    ``BoundaryLoss(softmax=True, to_onehot_y=True)`` (on inputs without void; void pixels leave the
    mean here). Binary mode: logits [N,1,H,W] or [N,H,W] with the foreground's ``dist_map``
    [N,1,H,W] or [N,H,W] (channel 1 of ``signed_distance_maps(target, 2)``).
    Alone it is usually combined with a regional loss through a weight schedule
    (``conf/loss/dice_boundary_scheduled.yaml``).
    """

    requires = ("dist_map",)

    def __init__(self, ignore_index: int = 255, mode: Mode = "multiclass") -> None:
        super().__init__()
        check_mode(mode, self.name)
        self.ignore_index = ignore_index
        self.mode = mode

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        dist_map = self.extra(extras, "dist_map")
        probs, _, valid = probabilities(logits, target, self.ignore_index, self.mode, self.name)
        if dist_map.numel() != probs.numel():
            raise ValueError(
                f"loss '{self.name}': dist_map {tuple(dist_map.shape)} does not match logits {tuple(logits.shape)} "
                f"(one signed distance map per class and pixel)"
            )
        total = (probs * dist_map.reshape(probs.shape).to(probs.dtype)).sum()
        return safe_div(total, valid.sum().to(probs.dtype) * probs.shape[1])
