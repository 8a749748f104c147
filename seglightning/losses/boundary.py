"""Boundary loss (Kervadec et al. 2019, "Boundary loss for highly unbalanced segmentation")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from .base import SegLoss
from .common import Mode, check_mode, probabilities, safe_div
from .registry import register_loss

CLASS_SELECTIONS = ("all", "foreground")


@register_loss("boundary")
class BoundaryLoss(SegLoss):
    """``mean over valid pixels and selected classes of p_ic * phi_ic``, with ``phi`` the ground
    truth's signed distance map (``dist_map`` from the data workers; LIVIAETS ``one_hot2dist``
    convention: negative inside, positive outside; classes absent or covering the whole image are
    0, so they are skipped) and ``p`` the softmax (sigmoid in binary mode).

    ``classes`` selects the classes (LIVIAETS ``idc``): ``"all"`` (default), ``"foreground"`` (every
    class but ``background_index``; default 0, the background of VOC, COCO and the synthetic set;
    Cityscapes and CamVid have no background class, so use ``"all"`` or a list there) or a list of
    class ids. With ``"all"`` it equals LIVIAETS/boundary-loss ``SurfaceLoss(idc=all classes)`` and
    MONAI ``BoundaryLoss(softmax=True, to_onehot_y=True)`` (on inputs without void; void pixels
    leave the mean here); with ``"foreground"`` on two classes it is the paper's
    ``SurfaceLoss(idc=[1])``. Binary mode: logits [N,1,H,W] or [N,H,W] with the foreground's
    ``dist_map`` [N,1,H,W] or [N,H,W] (channel 1 of ``signed_distance_maps(target, 2)``); its one
    channel is the foreground, so ``classes`` must be ``"all"`` or ``"foreground"`` there.
    Alone it is usually combined with a regional loss through a weight schedule: Kervadec's recipe
    is ``conf/loss/dice_boundary_scheduled.yaml``.
    """

    requires = ("dist_map",)

    def __init__(
        self,
        ignore_index: int = 255,
        mode: Mode = "multiclass",
        classes: str | Sequence[int] = "all",
        background_index: int = 0,
    ) -> None:
        super().__init__()
        check_mode(mode, self.name)
        if isinstance(classes, str):
            if classes not in CLASS_SELECTIONS:
                raise ValueError(
                    f"loss '{self.name}': classes must be one of {CLASS_SELECTIONS} or a list of class ids "
                    f"(config key loss.classes), got '{classes}'"
                )
        else:
            classes = [int(c) for c in classes]
            if not classes or mode == "binary":
                raise ValueError(
                    f"loss '{self.name}': classes (config key loss.classes) must be a non-empty list of class ids "
                    f"in multiclass mode, or 'all'/'foreground'; got {classes} with mode={mode}"
                )
        self.ignore_index = ignore_index
        self.mode = mode
        self.classes = classes
        self.background_index = background_index

    def selected(self, num_classes: int) -> list[int]:
        """The class indices (channels) the loss sums over, for ``num_classes`` channels."""
        if self.mode == "binary" or self.classes == "all":
            return list(range(num_classes))
        if self.classes == "foreground":
            if not 0 <= self.background_index < num_classes:
                raise ValueError(
                    f"loss '{self.name}': background_index {self.background_index} is not a class of the "
                    f"{num_classes}-class logits (config key loss.background_index)"
                )
            return [c for c in range(num_classes) if c != self.background_index]
        outside = [c for c in self.classes if not 0 <= c < num_classes]
        if outside:
            raise ValueError(
                f"loss '{self.name}': classes {outside} are not classes of the {num_classes}-class logits "
                f"(config key loss.classes)"
            )
        return list(self.classes)

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        dist_map = self.extra(extras, "dist_map")
        probs, _, valid = probabilities(logits, target, self.ignore_index, self.mode, self.name)
        if dist_map.numel() != probs.numel():
            raise ValueError(
                f"loss '{self.name}': dist_map {tuple(dist_map.shape)} does not match logits {tuple(logits.shape)} "
                f"(one signed distance map per class and pixel)"
            )
        dist_map = dist_map.reshape(probs.shape).to(probs.dtype)
        index = self.selected(probs.shape[1])
        if index != list(range(probs.shape[1])):
            probs, dist_map = probs[:, index], dist_map[:, index]
        total = (probs * dist_map).sum()
        return safe_div(total, valid.sum().to(probs.dtype) * len(index))
