"""Dataset-level confusion-matrix metrics for semantic segmentation (IoU, Dice, pixel accuracy).

One ``[C, C]`` int64 confusion matrix (rows = ground truth, columns = prediction) is accumulated
over the whole evaluation set, pixels labelled ``ignore_index`` excluded, and every score is
derived from it at ``compute()`` time (:mod:`seglightning.metrics.functional`):

* ``IoU_c = TP_c / (TP_c + FP_c + FN_c)`` (Jaccard index; Everingham et al., "The PASCAL Visual
  Object Classes Challenge", IJCV 2010; Cordts et al., Cityscapes, CVPR 2016),
* ``Dice_c = 2 TP_c / (2 TP_c + FP_c + FN_c)`` (Dice 1945 / Sørensen 1948; equals the per-class F1),
* ``pixel_acc = trace / total``.

A class whose union ``TP + FP + FN`` is 0 (absent from both ground truth and prediction) gets NaN
and is left out of ``mIoU`` / ``mDice`` (``nanmean``); a class absent from the ground truth but
predicted scores 0. This matches the standard dataset-level mIoU of the VOC/Cityscapes devkits and
mmsegmentation. The only state is the matrix, summed across processes, so N-process results equal
the 1-process result exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from seglightning.metrics.functional import confusion_counts, dice, iou, nan_mean, pixel_accuracy

__all__ = ["ConfusionMetrics", "as_class_indices", "check_labels", "scores_from_confmat"]


def as_class_indices(preds: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """Return class indices ``[B, H, W]`` from indices ``[B, H, W]`` or logits ``[B, C, H, W]``."""
    if preds.ndim == target.ndim + 1:
        if preds.shape[1] != num_classes:
            raise ValueError(
                f"logits have {preds.shape[1]} channels but the metric has num_classes={num_classes}"
            )
        preds = preds.argmax(dim=1)
    if preds.shape != target.shape:
        raise ValueError(
            f"preds {tuple(preds.shape)} and target {tuple(target.shape)} do not match: preds must "
            "be class indices [B,H,W] or logits [B,C,H,W] for a target [B,H,W]"
        )
    if preds.is_floating_point():
        raise ValueError(f"class-index preds must be an integer tensor, got {preds.dtype}")
    return preds.long()


def check_labels(target: Tensor, preds: Tensor, num_classes: int, ignore_index: int | None) -> None:
    """Raise ``ValueError`` naming the offending values if a label is outside ``[0, C) ∪ {ignore}``.

    Checked on the host before any indexing, so a bad label never becomes a silent wrong metric or
    a CUDA device-side assert.
    """
    if target.is_floating_point():
        raise ValueError(f"target must be an integer label tensor, got {target.dtype}")
    bad_t = (target < 0) | (target >= num_classes)
    if ignore_index is not None:
        bad_t &= target != ignore_index
    if bool(bad_t.any()):
        values = torch.unique(target[bad_t]).tolist()[:20]
        raise ValueError(
            f"target contains labels {values} outside [0, {num_classes}) ∪ {{ignore_index="
            f"{ignore_index}}}: remap them to train ids in [0, {num_classes}) or to the ignore "
            "index, or fix num_classes / ignore_index"
        )
    bad_p = (preds < 0) | (preds >= num_classes)
    if ignore_index is not None:
        bad_p &= target != ignore_index
    if bool(bad_p.any()):
        values = torch.unique(preds[bad_p]).tolist()[:20]
        raise ValueError(
            f"preds contain class indices {values} outside [0, {num_classes}): check the model's "
            "number of output classes against num_classes"
        )


class ConfusionMetrics(Metric):
    """mIoU, mDice, pixel accuracy and per-class IoU/Dice from one accumulated confusion matrix.

    Args:
        num_classes: number of classes ``C``.
        ignore_index: target label of void pixels, excluded everywhere (``None``: no void label).

    ``update(preds, target)``: ``preds`` class indices ``[B,H,W]`` or logits ``[B,C,H,W]``
    (argmax taken), ``target`` integer ``[B,H,W]``.
    ``compute()`` returns ``{"mIoU", "mDice", "pixel_acc"}`` (float scalars) and ``{"IoU",
    "Dice"}`` (per-class float tensors, NaN for a class with empty union).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    confmat: Tensor

    def __init__(
        self,
        num_classes: int,
        ignore_index: int | None = 255,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if ignore_index is not None and 0 <= ignore_index < num_classes:
            raise ValueError(
                f"ignore_index={ignore_index} collides with a class id in [0, {num_classes})"
            )
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.add_state(
            "confmat",
            default=torch.zeros(num_classes, num_classes, dtype=torch.long),
            dist_reduce_fx="sum",
        )

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Accumulate the confusion matrix of one batch (one ``bincount`` over ``target*C+pred``)."""
        preds = as_class_indices(preds, target, self.num_classes)
        check_labels(target, preds, self.num_classes, self.ignore_index)
        target = target.long()
        if self.ignore_index is not None:
            keep = target != self.ignore_index
            target, preds = target[keep], preds[keep]
        c = self.num_classes
        counts = torch.bincount((target * c + preds).flatten(), minlength=c * c)
        self.confmat += counts.view(c, c)

    def compute(self) -> dict[str, Tensor]:
        """Scores from the accumulated matrix (see module docstring for formulas and NaN rule)."""
        return scores_from_confmat(self.confmat)


def scores_from_confmat(confmat: Tensor) -> dict[str, Tensor]:
    """IoU/Dice/pixel accuracy from a ``[C, C]`` confusion matrix (rows GT, columns prediction), by
    :mod:`seglightning.metrics.functional` in float64, returned as float32."""
    cm = confmat.double()
    tp, fp, fn = confusion_counts(cm)
    per_class_iou, per_class_dice = iou(tp, fp, fn), dice(tp, fp, fn)
    return {
        "mIoU": nan_mean(per_class_iou).float(),
        "mDice": nan_mean(per_class_dice).float(),
        "pixel_acc": pixel_accuracy(cm).float(),
        "IoU": per_class_iou.float(),
        "Dice": per_class_dice.float(),
    }
