"""The metric suite of one evaluation stage (val or test): confusion-matrix scores, boundary F1 and
the mean loss, plus a per-class snapshot for tables and plots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torchmetrics import MeanMetric

from .boundary import BoundaryF1
from .confusion import ConfusionMetrics


def bf1_name(tolerance: float) -> str:
    """Logged name of the boundary F1 column at one tolerance: whole pixels (``>= 1``) as
    ``bF1@3px``, a fraction of the image diagonal as ``bF1@0.0075diag``."""
    return f"bF1@{tolerance:g}px" if tolerance >= 1 else f"bF1@{tolerance:g}diag"


@dataclass(frozen=True)
class EvaluationSnapshot:
    """Per-class state of one finished evaluation pass, summed over processes."""

    confmat: np.ndarray  # int64 [C, C], rows ground truth, columns prediction
    bf1: dict[str, np.ndarray]  # column name ("bF1", or bf1_name(t) per tolerance) -> per-class F [C]
    class_names: list[str]


class EvaluationMetrics(nn.Module):
    """Confusion-matrix scores, boundary F1 and the mean loss for one stage (val or test).

    Every state is a sum that all-reduces, so N processes give exactly the one-process metric
    values. The loss is the sample-weighted mean of batch losses over all processes (not a mean of
    per-process means); for a batch-pooled loss such as Dice it still depends on batch composition.
    ``snapshot()`` (collective: call it on every process, before ``reset()``) keeps the per-class
    state of the pass in ``last`` for the per-class table and the confusion-matrix plot.
    """

    def __init__(self, num_classes: int, ignore_index: int, class_names: Sequence[str], bf1_tolerance: float | Sequence[float]):
        super().__init__()
        self.class_names = list(class_names)
        self.confusion = ConfusionMetrics(num_classes, ignore_index=ignore_index)
        self.bf1 = BoundaryF1(num_classes, tolerance=bf1_tolerance, ignore_index=ignore_index)
        self.loss = MeanMetric()
        self.last: EvaluationSnapshot | None = None

    def update(self, preds: torch.Tensor, target: torch.Tensor, loss: torch.Tensor) -> None:
        self.confusion.update(preds, target)
        self.bf1.update(preds, target)
        self.loss.update(loss.detach(), weight=target.shape[0])

    def compute(self, prefix: str) -> dict[str, torch.Tensor]:
        scores = self.confusion.compute()
        out = {f"{prefix}/{k}": scores[k] for k in ("mIoU", "mDice", "pixel_acc")}
        out[f"{prefix}/loss"] = self.loss.compute()
        for name, iou in zip(self.class_names, scores["IoU"]):
            out[f"{prefix}/IoU/{name}"] = iou
        bf1 = self.bf1.compute()
        if len(bf1) > 1:
            out.update({f"{prefix}/{bf1_name(t)}": v for t, v in bf1.items()})
        out[f"{prefix}/bF1"] = bf1[self.bf1.tolerances[0]]
        return out

    def snapshot(self) -> EvaluationSnapshot:
        """The confusion matrix and per-class boundary F1 of this pass (all-reduced), kept in ``last``."""
        with self.confusion.sync_context(), self.bf1.sync_context():
            confmat = self.confusion.confmat.detach().cpu().numpy().copy()
            per_class = self.bf1.per_class().detach().cpu().numpy()
        tolerances = self.bf1.tolerances
        names = ["bF1"] if len(tolerances) == 1 else [bf1_name(t) for t in tolerances]
        self.last = EvaluationSnapshot(confmat, dict(zip(names, per_class)), self.class_names)
        return self.last

    def reset(self) -> None:
        self.confusion.reset()
        self.bf1.reset()
        self.loss.reset()
