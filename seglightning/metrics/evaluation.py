"""The metric suite of one evaluation stage (val or test): confusion-matrix scores, boundary F1 and
the mean loss, plus a snapshot of the pass (per class, and per image) for tables, plots and the
sweep report's per-image bootstrap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torchmetrics import MeanMetric

from .boundary import BoundaryF1
from .cityscapes_instances import CATEGORIES, CityscapesInstanceIoU
from .confusion import ConfusionMetrics, as_class_indices
from .objects import BUCKETS, ObjectRecall
from .surface import SurfaceDistances

# module.metrics names: iou and boundary_f1 are always computed; surface and objects are opt-in
METRIC_FAMILIES = ("iou", "boundary_f1", "surface", "objects")


def check_families(families: Sequence[str]) -> tuple[str, ...]:
    """The ``module.metrics`` names, or a ValueError naming the unknown ones and the known."""
    unknown = [f for f in families if f not in METRIC_FAMILIES]
    if unknown:
        raise ValueError(f"module.metrics: unknown metric families {unknown}; known: {list(METRIC_FAMILIES)}")
    return tuple(families)


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
    # opt-in families: "HD95" ... -> [N, C] per class (NaN where the class is not in both masks)
    by_class: dict[str, np.ndarray] = field(default_factory=dict)
    # opt-in families: "objects@small" ... -> [N] per image (sums over classes)
    totals: dict[str, np.ndarray] = field(default_factory=dict)

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
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # opt-in families' per-class columns [C]


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
        self,
        num_classes: int,
        ignore_index: int,
        class_names: Sequence[str],
        bf1_tolerance: float | Sequence[float],
        families: Sequence[str] = (),
    ):
        super().__init__()
        self.class_names = list(class_names)
        self.confusion = ConfusionMetrics(num_classes, ignore_index=ignore_index)
        self.bf1 = BoundaryF1(num_classes, tolerance=bf1_tolerance, ignore_index=ignore_index)
        self.loss = MeanMetric()
        self.ignore_index = ignore_index
        self.families = check_families(families)
        self.surface = SurfaceDistances(num_classes, ignore_index=ignore_index) if "surface" in self.families else None
        self.objects = ObjectRecall(num_classes, ignore_index=ignore_index) if "objects" in self.families else None
        cityscapes = all(n in self.class_names for group in CATEGORIES.values() for n in group)
        with_iiou = self.objects is not None and cityscapes  # the Cityscapes benchmark's iIoU numbers
        self.cityscapes = CityscapesInstanceIoU(self.class_names, ignore_index) if with_iiou else None
        self.last: EvaluationSnapshot | None = None
        # (id, TP/FP/FN [3, C], bF1 [T, C], {name: [C] per class or scalar}) per image
        self._images: list[tuple[str, np.ndarray, np.ndarray, dict[str, Any]]] = []

    def update(
        self,
        preds: torch.Tensor,
        target: torch.Tensor,
        loss: torch.Tensor,
        meta: Sequence[Mapping[str, Any]] | None = None,
        instance_ids: torch.Tensor | None = None,
    ) -> None:
        """Add one batch; ``meta`` (the batch's per-sample dicts) names the images of ``per_image``;
        ``instance_ids`` (``[B,H,W]``, 0 = none) are the ground-truth objects of ``objects``."""
        self.confusion.update(preds, target)
        self.bf1.update(preds, target)
        self.loss.update(loss.detach(), weight=target.shape[0])
        indices = as_class_indices(preds, target, len(self.class_names))
        counts = per_image_counts(indices, target, len(self.class_names), self.ignore_index).numpy()
        bf1 = self.bf1.last_per_image.cpu().numpy()
        extra = self._update_families(indices, target, instance_ids)
        for i in range(target.shape[0]):
            name = str((meta[i] if meta is not None else {}).get("id", f"#{len(self._images)}"))
            self._images.append((name, counts[i], bf1[:, i], {k: v[i] for k, v in extra.items()}))

    def _update_families(
        self, preds: torch.Tensor, target: torch.Tensor, instance_ids: torch.Tensor | None
    ) -> dict[str, np.ndarray]:
        """Update the opt-in families; their per-image values ``{name: [B, C] or [B]}``."""
        extra: dict[str, np.ndarray] = {}
        if self.surface is not None:
            self.surface.update(preds, target)
            extra.update(self.surface.last_per_image)
        if self.objects is not None:
            self.objects.update(preds, target, instance_ids)
            for kind, values in self.objects.last_per_image.items():
                extra.update({f"{kind}@{b}": values[:, k] for k, b in enumerate(BUCKETS)})
            if self.cityscapes is not None and instance_ids is not None:
                self.cityscapes.update(preds, target, instance_ids)
        return extra

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
        if self.surface is not None:
            surface = self.surface.compute()
            out.update({f"{prefix}/{k}": v for k, v in surface.items() if k != "one_sided"})
            out[f"{prefix}/surface_one_sided"] = surface["one_sided"].float()
        if self.objects is not None:
            out.update({f"{prefix}/{k}": v for k, v in self.objects.compute().items()})
        if self.cityscapes is not None:
            with self.confusion.sync_context(), self.cityscapes.sync_context():
                scores = self.cityscapes.scores(self.confusion.confmat)
            four = ("IoU_class", "iIoU_class", "IoU_category", "iIoU_category")
            out.update({f"{prefix}/{k}": scores[k].float() for k in four})
        return out

    def snapshot(self) -> EvaluationSnapshot:
        """The confusion matrix and per-class boundary F1 of this pass (all-reduced), kept in ``last``."""
        with self.confusion.sync_context(), self.bf1.sync_context():
            confmat = self.confusion.confmat.detach().cpu().numpy().copy()
            per_class = self.bf1.per_class().detach().cpu().numpy()
        tolerances = self.bf1.tolerances
        names = ["bF1"] if len(tolerances) == 1 else [bf1_name(t) for t in tolerances]
        self.last = EvaluationSnapshot(
            confmat, dict(zip(names, per_class)), self.class_names, self._per_image(names), self._per_class_extra()
        )
        return self.last

    def _per_class_extra(self) -> dict[str, np.ndarray]:
        """Per-class columns of the opt-in families (all-reduced): surface means and one-sided
        counts, object recall / detection / counts per bucket, Cityscapes iIoU."""
        extra: dict[str, np.ndarray] = {}
        if self.surface is not None:
            with self.surface.sync_context():
                per_class = self.surface.per_class()
            extra.update({k: v.cpu().numpy() for k, v in per_class.items() if k != "both"})
            extra["surface_one_sided"] = extra.pop("one_sided")
        if self.objects is not None:
            with self.objects.sync_context():
                extra.update({k: v.cpu().numpy() for k, v in self.objects.per_class().items()})
        if self.cityscapes is not None:
            with self.confusion.sync_context(), self.cityscapes.sync_context():
                extra["iIoU"] = self.cityscapes.scores(self.confusion.confmat)["iIoU"].numpy()
        return extra

    def _per_image(self, bf1_names: Sequence[str]) -> PerImageScores | None:
        images = sorted(_gather(self._images), key=lambda row: row[0])
        if not images:
            return None
        counts = np.stack([row[1] for row in images])
        bf1 = np.stack([row[2] for row in images], 1)
        extra = {k: np.stack([row[3][k] for row in images]) for k in images[0][3]}
        return PerImageScores(
            [row[0] for row in images],
            counts[:, 0],
            counts[:, 1],
            counts[:, 2],
            dict(zip(bf1_names, bf1)),
            {k: v for k, v in extra.items() if v.ndim == 2},
            {k: v for k, v in extra.items() if v.ndim == 1},
        )

    def reset(self) -> None:
        self.confusion.reset()
        self.bf1.reset()
        self.loss.reset()
        for family in (self.surface, self.objects, self.cityscapes):
            if family is not None:
                family.reset()
        self._images = []
