"""Cross-entropy losses: ``ce`` (optionally label-smoothed), ``wce`` (class-weighted, e.g.
median-frequency balancing) and ``bce`` (binary, for the instance mask head)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .base import SegLoss
from .class_weights import median_frequency_weights
from .common import binary_inputs, check_multiclass, masked_mean, safe_div
from .registry import register_loss


@register_loss("ce")
class CrossEntropyLoss(SegLoss):
    """Pixel-wise cross-entropy ``-sum_c q_ic log softmax(z_i)_c``, averaged over valid pixels.

    ``q_i`` is the one-hot target, or with label smoothing ``e`` (Szegedy et al. 2016)
    ``(1 - e) onehot + e / C``. With class weights ``w`` (``class_weight``), each pixel's term is
    weighted and the sum divided by ``sum_i w_{y_i}``. Equals ``torch.nn.functional.cross_entropy(
    logits, target, weight=w, ignore_index, label_smoothing)`` with ``reduction="mean"``, except that
    an all-void batch gives 0 (torch gives NaN).
    """

    def __init__(
        self, ignore_index: int = 255, label_smoothing: float = 0.0, class_weight: Sequence[float] | None = None
    ) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"loss '{self.name}': label_smoothing must be in [0, 1] (config key loss.label_smoothing), "
                f"got {label_smoothing}"
            )
        if isinstance(class_weight, str) or not isinstance(class_weight, (Sequence, np.ndarray, Tensor, type(None))):
            raise ValueError(
                f"loss '{self.name}': class_weight (config key loss.class_weight) is a list of per-class weights, "
                f"got {class_weight!r} (median-frequency weights: loss 'wce'; the term's scalar weight: loss.weight)"
            )
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.class_weight: Tensor | None
        weights = None if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32)
        self.register_buffer("class_weight", weights, persistent=False)

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        check_multiclass(logits, target, self.name)
        weight = None if self.class_weight is None else self.class_weight.to(logits.dtype)
        if weight is not None and weight.numel() != logits.shape[1]:
            raise ValueError(
                f"loss '{self.name}': {weight.numel()} class weights (config key loss.class_weight) "
                f"for {logits.shape[1]} classes"
            )
        total = F.cross_entropy(
            logits,
            target,
            weight=weight,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            reduction="sum",
        )
        valid = target != self.ignore_index
        if weight is None:
            count = valid.sum().to(logits.dtype)
        else:
            count = torch.where(valid, weight[torch.where(valid, target, 0)], 0).sum()
        return safe_div(total, count)


@register_loss("wce")
class WeightedCrossEntropyLoss(CrossEntropyLoss):
    """Class-weighted cross-entropy (see ``ce``); ``class_weight`` is a list of per-class weights or
    ``"median_frequency"`` (SegNet: ``alpha_c = median(freq) / freq_c``, from the training split's
    ``class_frequency``, which the training loop passes as ``dm.class_frequency``).

    Equals ``torch.nn.functional.cross_entropy(..., weight=alpha)``.
    """

    def __init__(
        self,
        class_weight: Sequence[float] | str = "median_frequency",
        ignore_index: int = 255,
        label_smoothing: float = 0.0,
        num_classes: int | None = None,
        class_frequency: Callable[[], Sequence[float] | np.ndarray | Tensor] | None = None,
    ) -> None:
        if isinstance(class_weight, str):
            if class_weight != "median_frequency":
                raise ValueError(
                    "loss 'wce': class_weight (config key loss.class_weight) must be a list of per-class weights "
                    f"or 'median_frequency', got '{class_weight}'"
                )
            if class_frequency is None:
                raise ValueError(
                    "loss 'wce' with class_weight=median_frequency needs the training split's class frequencies: "
                    "build_loss(..., class_frequency=datamodule.class_frequency)"
                )
            class_weight = median_frequency_weights(class_frequency())
        if num_classes is not None and len(class_weight) != num_classes:
            raise ValueError(
                f"loss 'wce': {len(class_weight)} class weights (config key loss.class_weight) "
                f"for num_classes={num_classes}"
            )
        super().__init__(ignore_index=ignore_index, label_smoothing=label_smoothing, class_weight=class_weight)


@register_loss("bce")
class BinaryCrossEntropyLoss(SegLoss):
    """Binary cross-entropy with logits, ``-[y log s(z) + (1 - y) log(1 - s(z))]`` averaged over
    valid pixels (binary mode: logits [N,1,H,W] or [N,H,W], targets {0,1}); ``pos_weight``
    multiplies the positive term. Equals ``torch.nn.functional.binary_cross_entropy_with_logits``
    on the valid pixels.
    """

    def __init__(self, ignore_index: int = 255, pos_weight: float | None = None) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.pos_weight = pos_weight

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        logits, truth, valid = binary_inputs(logits, target, self.ignore_index, self.name)
        pos_weight = None if self.pos_weight is None else logits.new_tensor(self.pos_weight)
        per_pixel = F.binary_cross_entropy_with_logits(logits, truth, pos_weight=pos_weight, reduction="none")
        return masked_mean(per_pixel, valid)
