"""Overlap (region) losses on soft per-class statistics: ``dice``, ``jaccard``, ``tversky``.

For class ``c`` with probabilities ``p`` (softmax; sigmoid in binary mode) and one-hot target
``g`` over the valid pixels, ``I = sum p g``, ``P = sum p`` (``sum p^2`` with ``squared``),
``G = sum g``. The sums run over the whole batch (``per_image=False``: one score per class) or
over each image (``per_image=True``: one score per image and class). ``smooth`` is added to
numerator and denominator; the denominator is clamped to ``eps``.

Class reduction, ``classes``:

- ``"present"`` (default; segmentation_models_pytorch's convention): a class absent from the
  target of its pooling unit (batch, or image with ``per_image``) contributes 0, and the
  contributions are averaged over all ``C`` classes (x images);
- ``"all"``: every class contributes ``1 - score`` (MONAI's convention).
"""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor

from .base import SegLoss
from .common import Mode, check_mode, soft_statistics
from .registry import register_loss

Classes = Literal["present", "all"]


class OverlapLoss(SegLoss):
    """``mean(1 - score(I, P, G))`` over classes (and images), reduced as ``classes`` says."""

    squared = False

    def __init__(
        self,
        ignore_index: int = 255,
        smooth: float = 0.0,
        eps: float = 1e-7,
        per_image: bool = False,
        classes: Classes = "present",
        mode: Mode = "multiclass",
    ) -> None:
        super().__init__()
        check_mode(mode, self.name)
        if classes not in ("present", "all"):
            raise ValueError(
                f"loss '{self.name}': classes must be 'present' or 'all' (config key loss.classes), got '{classes}'"
            )
        self.ignore_index = ignore_index
        self.smooth = smooth
        self.eps = eps
        self.per_image = per_image
        self.classes = classes
        self.mode = mode

    def score(self, intersection: Tensor, predicted: Tensor, truth: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        intersection, predicted, truth_total = soft_statistics(
            logits, target, self.ignore_index, self.mode, self.name, squared=self.squared
        )
        if not self.per_image:  # pool the batch: one score per class
            intersection, predicted, truth_total = intersection.sum(0), predicted.sum(0), truth_total.sum(0)
        loss = 1.0 - self.score(intersection, predicted, truth_total)
        if self.classes == "present":
            loss = loss * (truth_total > 0).to(loss.dtype)
        return loss.mean()


@register_loss("dice")
class DiceLoss(OverlapLoss):
    """Soft Dice loss (Milletari et al. 2016, V-Net): ``1 - (2I + s) / (P + G + s)``.

    Defaults (``smooth=0, eps=1e-7, per_image=False, classes="present", squared=False``) equal
    ``segmentation_models_pytorch.losses.DiceLoss(mode="multiclass", ignore_index=255)`` with its
    own defaults (batch-pooled per class, absent classes zeroed, mean over C). A non-zero ``smooth``
    is Milletari's/MONAI's; smp 0.6 adds its ``smooth`` to ``I`` instead of ``2I`` (smp ``smooth=s``
    is ``smooth=2s`` here). ``squared=True`` is
    V-Net's ``sum p^2`` denominator; ``per_image=True, classes="all", squared=True, smooth=1e-5``
    equals MONAI ``DiceLoss(softmax=True, to_onehot_y=True, squared_pred=True)``. Binary mode equals
    smp ``DiceLoss(mode="binary")``.
    """

    def __init__(
        self,
        ignore_index: int = 255,
        smooth: float = 0.0,
        eps: float = 1e-7,
        per_image: bool = False,
        classes: Classes = "present",
        squared: bool = False,
        mode: Mode = "multiclass",
    ) -> None:
        super().__init__(ignore_index, smooth, eps, per_image, classes, mode)
        self.squared = squared

    def score(self, intersection: Tensor, predicted: Tensor, truth: Tensor) -> Tensor:
        return (2 * intersection + self.smooth) / (predicted + truth + self.smooth).clamp_min(self.eps)


@register_loss("jaccard")
class JaccardLoss(OverlapLoss):
    """Soft IoU loss (Rahman & Wang 2016): ``1 - (I + s) / (P + G - I + s)``.

    Defaults equal ``segmentation_models_pytorch.losses.JaccardLoss(mode="multiclass",
    ignore_index=255)`` with its own defaults.
    """

    def score(self, intersection: Tensor, predicted: Tensor, truth: Tensor) -> Tensor:
        return (intersection + self.smooth) / (predicted + truth - intersection + self.smooth).clamp_min(self.eps)


@register_loss("tversky")
class TverskyLoss(OverlapLoss):
    """Tversky loss (Salehi et al. 2017): ``1 - (I + s) / (I + alpha FP + beta FN + s)`` with soft
    ``FP = P - I`` and ``FN = G - I``; ``alpha=0.3, beta=0.7`` weigh false negatives more.

    Equals ``segmentation_models_pytorch.losses.TverskyLoss(mode="multiclass", ignore_index=255,
    alpha=alpha, beta=beta)`` (``gamma=1``); ``alpha = beta = 0.5`` is the Dice loss.
    """

    def __init__(
        self,
        ignore_index: int = 255,
        alpha: float = 0.3,
        beta: float = 0.7,
        smooth: float = 0.0,
        eps: float = 1e-7,
        per_image: bool = False,
        classes: Classes = "present",
        mode: Mode = "multiclass",
    ) -> None:
        super().__init__(ignore_index, smooth, eps, per_image, classes, mode)
        self.alpha = alpha
        self.beta = beta

    def score(self, intersection: Tensor, predicted: Tensor, truth: Tensor) -> Tensor:
        denominator = intersection + self.alpha * (predicted - intersection) + self.beta * (truth - intersection)
        return (intersection + self.smooth) / (denominator + self.smooth).clamp_min(self.eps)
