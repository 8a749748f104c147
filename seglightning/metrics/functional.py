"""Scores from counts, each formula written once, for numpy arrays and torch tensors alike.

Plain arithmetic on what the caller passes (no torch import: the sweep report reads this module), so
a tensor stays on its device and in its dtype (cast counts to float64 first for exact ratios). Every
ratio follows one convention: ``0 / 0`` is NaN ("not defined": e.g. a class absent from both ground
truth and prediction), and every numerator here is 0 whenever its denominator is (counts, and sums
of non-negative values), so NaN marks exactly the empty cases. Means over classes leave NaN out.
The definitions are those of docs/design.md (Metrics) and torchmetrics'
``multiclass_jaccard_index`` / ``multiclass_f1_score`` (which report 0, not NaN, for an empty union).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "confusion_counts",
    "dice",
    "f_measure",
    "iou",
    "mean_dice",
    "mean_iou",
    "nan_mean",
    "pixel_accuracy",
    "ratio",
]

Array = Any  # a numpy array or a torch tensor (the functions use only operators and methods both have)


def ratio(numerator: Array, denominator: Array) -> Array:
    """``numerator / denominator`` elementwise, NaN where both are 0 (no warning from numpy)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return numerator / denominator


def confusion_counts(confmat: Array) -> tuple[Array, Array, Array]:
    """Per-class ``(TP, FP, FN)`` of a ``[C, C]`` confusion matrix ``M`` (rows ground truth, columns
    prediction): ``TP_c = M_cc``, ``FP_c = sum_r M_rc - TP_c``, ``FN_c = sum_k M_ck - TP_c``."""
    tp = confmat.diagonal()
    return tp, confmat.sum(0) - tp, confmat.sum(1) - tp


def iou(tp: Array, fp: Array, fn: Array) -> Array:
    """Jaccard index ``TP / (TP + FP + FN)`` (Everingham et al., PASCAL VOC, IJCV 2010); NaN where
    the union is empty."""
    return ratio(tp, tp + fp + fn)


def dice(tp: Array, fp: Array, fn: Array) -> Array:
    """Dice coefficient ``2 TP / (2 TP + FP + FN)`` (Dice 1945, Sørensen 1948), equal to F1; NaN where
    both masks are empty."""
    return ratio(2 * tp, 2 * tp + fp + fn)


def f_measure(precision: Array, recall: Array) -> Array:
    """Harmonic mean ``2 P R / (P + R)`` (van Rijsbergen 1979); NaN where ``P + R = 0`` or either is NaN."""
    return ratio(2 * precision * recall, precision + recall)


def pixel_accuracy(confmat: Array) -> Array:
    """``trace(M) / sum(M)`` of a confusion matrix: the share of valid pixels predicted right (NaN: none)."""
    return ratio(confmat.diagonal().sum(), confmat.sum())


def nan_mean(values: Array) -> Array:
    """Mean over the last axis of the non-NaN entries; NaN where there is none (``torch.nanmean``, or
    for numpy ``nansum / count`` without numpy's empty-slice warning)."""
    if hasattr(values, "nanmean"):  # a torch tensor
        return values.nanmean(-1)
    present = ~np.isnan(values)
    return ratio(np.where(present, values, 0.0).sum(-1), np.count_nonzero(present, -1))


def mean_iou(tp: Array, fp: Array, fn: Array) -> Array:
    """mIoU from per-class counts ``[..., C]``: :func:`iou` averaged over the classes with a
    non-empty union (NaN when every union is empty)."""
    return nan_mean(iou(tp, fp, fn))


def mean_dice(tp: Array, fp: Array, fn: Array) -> Array:
    """mDice from per-class counts ``[..., C]``: :func:`dice` averaged over the classes with a
    non-empty union."""
    return nan_mean(dice(tp, fp, fn))
