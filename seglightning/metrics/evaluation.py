"""The metric suite of one evaluation stage (val or test): confusion-matrix scores, boundary F1 and
the mean loss, plus a snapshot of the pass (per class, and per image) for tables, plots and the
sweep report's per-image bootstrap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torchmetrics import MeanMetric

from .boundary import BoundaryF1
from .confusion import ConfusionMetrics, as_class_indices


def bf1_name(tolerance: float) -> str:
    """Logged name of the boundary F1 column at one tolerance: whole pixels (``>= 1``) as
    ``bF1@3px``, a fraction of the image diagonal as ``bF1@0.0075diag``."""
    return f"bF1@{tolerance:g}px" if tolerance >= 1 else f"bF1@{tolerance:g}diag"


@dataclass(frozen=True)
class PerImageScores:
    """Per image of one evaluation pass (every process's images, each once): the per-class
    TP/FP/FN pixel counts (void pixels excluded) and boundary F; IoU and Dice follow from the counts."""

    ids: list[str]  # the samples' ``meta["id"]``
    tp: np.ndarray  # int64 [N, C]
    fp: np.ndarray  # int64 [N, C]
    fn: np.ndarray  # int64 [N, C]
    bf1: dict[str, np.ndarray]  # column name -> F [N, C], NaN where the class is in neither mask

    @property
    def valid_pixels(self) -> np.ndarray:
        """Non-void ground-truth pixels per image ``[N]``."""
        return (self.tp + self.fn).sum(1)

    def iou(self) -> np.ndarray:
        """``TP / (TP + FP + FN)`` per image and class, NaN where the union is empty."""
        union = self.tp + self.fp + self.fn
        return np.where(union > 0, self.tp / np.maximum(union, 1), np.nan)

    def dice(self) -> np.ndarray:
        """``2TP / (2TP + FP + FN)`` per image and class, NaN where both masks are empty."""
        denom = 2 * self.tp + self.fp + self.fn
        return np.where(denom > 0, 2 * self.tp / np.maximum(denom, 1), np.nan)


@dataclass(frozen=True)
class EvaluationSnapshot:
    """Per-class state of one finished evaluation pass, summed over processes, and its per-image scores."""

    confmat: np.ndarray  # int64 [C, C], rows ground truth, columns prediction
    bf1: dict[str, np.ndarray]  # column name ("bF1", or bf1_name(t) per tolerance) -> per-class F [C]
    class_names: list[str]
    per_image: PerImageScores | None = None


def per_image_counts(preds: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int) -> torch.Tensor:
    """``[B, 3, C]`` int64: per image and class the TP, FP and FN pixels (void pixels excluded)."""
    b, c = target.shape[0], num_classes
    valid = target != ignore_index
    offsets = torch.arange(b, device=target.device).view(b, 1, 1) * c
    image_of = offsets.expand_as(target)[valid]
    t, p = target[valid].long(), preds[valid].long()

    def count(index: torch.Tensor) -> torch.Tensor:
        return torch.bincount(index, minlength=b * c).view(b, c)

    tp = count((image_of + t)[t == p])
    gt, pred = count(image_of + t), count(image_of + p)
    return torch.stack([tp, pred - tp, gt - tp], 1).cpu()


def _gather(rows: list[Any]) -> list[Any]:
    """Every process's ``rows`` concatenated (collective under ``torch.distributed``)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return rows
    gathered: list[list[Any]] = [[] for _ in range(dist.get_world_size())]
    dist.all_gather_object(gathered, rows)
    return [row for part in gathered for row in part]


class EvaluationMetrics(nn.Module):
    """Confusion-matrix scores, boundary F1 and the mean loss for one stage (val or test).

    Every state is a sum that all-reduces, so N processes give exactly the one-process metric
    values. The loss is the sample-weighted mean of batch losses over all processes (not a mean of
    per-process means); for a batch-pooled loss such as Dice it still depends on batch composition.
    ``snapshot()`` (collective: call it on every process, before ``reset()``) keeps the per-class
    state of the pass in ``last`` for the per-class table and the confusion-matrix plot, with the
    per-image scores of every image (gathered from all processes) for ``per_image.csv``.
    """

    def __init__(
        self, num_classes: int, ignore_index: int, class_names: Sequence[str], bf1_tolerance: float | Sequence[float]
    ):
        super().__init__()
        self.class_names = list(class_names)
        self.confusion = ConfusionMetrics(num_classes, ignore_index=ignore_index)
        self.bf1 = BoundaryF1(num_classes, tolerance=bf1_tolerance, ignore_index=ignore_index)
        self.loss = MeanMetric()
        self.ignore_index = ignore_index
        self.last: EvaluationSnapshot | None = None
        self._images: list[tuple[str, np.ndarray, np.ndarray]] = []  # (id, TP/FP/FN [3, C], bF1 [T, C]) per image

    def update(
        self,
        preds: torch.Tensor,
        target: torch.Tensor,
        loss: torch.Tensor,
        meta: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Add one batch; ``meta`` (the batch's per-sample dicts) names the images of ``per_image``."""
        self.confusion.update(preds, target)
        self.bf1.update(preds, target)
        self.loss.update(loss.detach(), weight=target.shape[0])
        counts = per_image_counts(
            as_class_indices(preds, target, len(self.class_names)), target, len(self.class_names), self.ignore_index
        ).numpy()
        bf1 = self.bf1.last_per_image.cpu().numpy()
        for i in range(target.shape[0]):
            name = str((meta[i] if meta is not None else {}).get("id", f"#{len(self._images)}"))
            self._images.append((name, counts[i], bf1[:, i]))

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
        self.last = EvaluationSnapshot(confmat, dict(zip(names, per_class)), self.class_names, self._per_image(names))
        return self.last

    def _per_image(self, bf1_names: Sequence[str]) -> PerImageScores | None:
        images = sorted(_gather(self._images), key=lambda row: row[0])
        if not images:
            return None
        counts = np.stack([row[1] for row in images])
        bf1 = np.stack([row[2] for row in images], 1)
        return PerImageScores(
            [row[0] for row in images], counts[:, 0], counts[:, 1], counts[:, 2], dict(zip(bf1_names, bf1))
        )

    def reset(self) -> None:
        self.confusion.reset()
        self.bf1.reset()
        self.loss.reset()
        self._images = []
