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
    ``(1 - e) onehot + e / C``. With class weights ``w``, each pixel's term is weighted and the sum
    divided by ``sum_i w_{y_i}``. Equals ``torch.nn.functional.cross_entropy(logits, target,
    weight, ignore_index, label_smoothing)`` with ``reduction="mean"``, except that an all-void
    batch gives 0 (torch gives NaN).
    """

    def __init__(self, ignore_index: int = 255, label_smoothing: float = 0.0, weight: Sequence[float] | None = None) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"loss '{self.name}': label_smoothing must be in [0, 1] (config key loss.label_smoothing), got {label_smoothing}")
        if weight is not None and (isinstance(weight, str) or not isinstance(weight, (Sequence, np.ndarray, Tensor))):
            raise ValueError(
                f"loss '{self.name}': weight (config key loss.weight) is a list of per-class weights, got {weight!r} "
                "(median-frequency weights: loss 'wce'; a term's weight in a compound loss: loss.terms[].weight)"
            )
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.weight: Tensor | None
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight, dtype=torch.float32), persistent=False)

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        check_multiclass(logits, target, self.name)
        weight = None if self.weight is None else self.weight.to(logits.dtype)
        if weight is not None and weight.numel() != logits.shape[1]:
            raise ValueError(f"loss '{self.name}': {weight.numel()} class weights (config key loss.weight) for {logits.shape[1]} classes")
        total = F.cross_entropy(
            logits, target, weight=weight, ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing, reduction="sum",
        )
        valid = target != self.ignore_index
        if weight is None:
            count = valid.sum().to(logits.dtype)
        else:
            count = torch.where(valid, weight[torch.where(valid, target, 0)], 0).sum()
        return safe_div(total, count)


@register_loss("wce")
class WeightedCrossEntropyLoss(CrossEntropyLoss):
    """Class-weighted cross-entropy (see ``ce``); ``weight`` is a list of per-class weights or
    ``"median_frequency"`` (SegNet: ``alpha_c = median(freq) / freq_c``, from the training split's
    ``class_frequency``, which the training loop passes as ``dm.class_frequency``).

    Equals ``torch.nn.functional.cross_entropy(..., weight=alpha)``.
    """

    def __init__(
        self,
        weight: Sequence[float] | str = "median_frequency",
        ignore_index: int = 255,
        label_smoothing: float = 0.0,
        num_classes: int | None = None,
        class_frequency: Callable[[], Sequence[float] | np.ndarray | Tensor] | None = None,
    ) -> None:
        if isinstance(weight, str):
            if weight != "median_frequency":
                raise ValueError(f"loss 'wce': weight (config key loss.weight) must be a list of per-class weights or 'median_frequency', got '{weight}'")
            if class_frequency is None:
                raise ValueError(
                    "loss 'wce' with weight=median_frequency needs the training split's class frequencies: "
                    "build_loss(..., class_frequency=datamodule.class_frequency)"
                )
            weight = median_frequency_weights(class_frequency())
        if num_classes is not None and len(weight) != num_classes:
            raise ValueError(f"loss 'wce': {len(weight)} class weights (config key loss.weight) for num_classes={num_classes}")
        super().__init__(ignore_index=ignore_index, label_smoothing=label_smoothing, weight=weight)


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
