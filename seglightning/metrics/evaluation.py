"""The metric suite of one evaluation stage (val or test): confusion-matrix scores, the mean loss and
the metric families of ``module.metrics`` (the table :data:`FAMILIES`: boundary F1, Boundary IoU,
calibration, ...), plus a snapshot of the pass (per class, and per image) for tables, plots and the
sweep report's per-image bootstrap.

To add a family: subclass :class:`MetricFamily` (its states, ``update``, ``scalars``, and optionally
``per_class`` and ``per_image`` columns), decorate it with ``@register_family("<name>")`` and list
the name in ``module.metrics``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torchmetrics import MeanMetric, Metric

from ..utils.distributed import gather_objects
from .boundary import BoundaryF1
from .boundary_iou import BoundaryIoU, biou_name
from .calibration import Calibration
from .cityscapes_instances import CATEGORIES, CityscapesInstanceIoU
from .confusion import ConfusionMetrics, as_class_indices, scores_from_confmat
from .image_counts import ImageCounts
from .objects import BUCKETS, ObjectRecall
from .surface import SurfaceDistances


def bf1_name(tolerance: float) -> str:
    """Logged name of the boundary F1 column at one tolerance: whole pixels (``>= 1``) as
    ``bF1@3px``, a fraction of the image diagonal as ``bF1@0.0075diag``."""
    return f"bF1@{tolerance:g}px" if tolerance >= 1 else f"bF1@{tolerance:g}diag"


@dataclass(frozen=True)
class EvaluationSnapshot:
    """Per-class state of one finished evaluation pass, summed over processes, and its per-image scores.
    ``columns``: the per-class columns of the other families (``bIoU``, ``bIoU@3px``, ...);
    ``reliability``: the calibration family's per-bin counts, confidence and accuracy (None: off)."""

    confmat: np.ndarray  # int64 [C, C], rows ground truth, columns prediction
    bf1: dict[str, np.ndarray]  # column name ("bF1", or bf1_name(t) per tolerance) -> per-class F [C]
    class_names: list[str]
    per_image: ImageCounts | None = None
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # column name -> per-class score [C]
    reliability: dict[str, np.ndarray] | None = None


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


@dataclass(frozen=True)
class SuiteConfig:
    """What a metric family is built from: the classes and the family options of ``module``."""

    num_classes: int
    ignore_index: int
    class_names: list[str]
    bf1_tolerance: float | Sequence[float] = 0.0075
    biou_dilation: float | Sequence[float] = 0.02
    nsd_tolerance: float | Sequence[float] = 2.0


class MetricFamily(nn.Module):
    """One family of the suite, plugged in by name (``module.metrics``, :data:`FAMILIES`).

    A family owns torchmetrics states (sums that all-reduce) and says what it contributes:
    ``scalars()`` the logged names (without the ``val/`` prefix), ``per_class()`` the per-class
    columns of ``per_class.csv`` (called while the states are all-reduced), ``per_image()`` the
    latest batch's per-image columns for ``per_image.csv`` (block name -> (labels, None for the
    class names, values ``[B, k]``)). ``needs_scores``: it takes the inference mode's logits
    ``[B,C,H,W]`` (semantic models only), not just the predicted labels. ``needs_confmat``: it
    scores from the suite's confusion matrix instead of accumulating its own: ``scalars(confmat)``
    and ``per_class(confmat)`` receive the suite's ``[C, C]`` matrix, all-reduced (read only).
    """

    needs_scores: ClassVar[bool] = False
    needs_confmat: ClassVar[bool] = False

    def __init__(self, config: SuiteConfig):
        super().__init__()
        self.config = config

    def update(
        self, preds: torch.Tensor, target: torch.Tensor, scores: torch.Tensor | None, instance_ids: torch.Tensor | None
    ) -> None:
        """One batch: predicted labels ``[B,H,W]``, ground truth, the inference mode's logits (None
        without), the ground-truth instance map ``[B,H,W]`` (0 = none; None without)."""
        raise NotImplementedError

    def scalars(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def per_class(self) -> dict[str, np.ndarray]:
        return {}

    def per_image(self) -> dict[str, tuple[list[str] | None, np.ndarray]]:
        return {}

    def metrics(self) -> list[Metric]:
        """The torchmetrics states of the family (synced for :meth:`per_class`)."""
        return [m for m in self.children() if isinstance(m, Metric)]

    def reset(self) -> None:
        for m in self.metrics():
            m.reset()


FAMILIES: dict[str, type[MetricFamily]] = {}
CORE = "iou"  # the confusion matrix (mIoU, mDice, pixel accuracy, per-image TP/FP/FN): always on
DEFAULT_METRICS = (CORE, "boundary_f1", "boundary_iou", "calibration")  # opt-in: surface, objects


def register_family(name: str):
    """Class decorator: make a :class:`MetricFamily` available as ``module.metrics=[..., <name>]``."""

    def add(cls: type[MetricFamily]) -> type[MetricFamily]:
        FAMILIES[name] = cls
        return cls

    return add


def check_metric_names(names: Sequence[str]) -> list[str]:
    """The family names of ``module.metrics``, checked (``iou`` among them, all known), each once."""
    names = list(dict.fromkeys(str(n) for n in names))
    unknown = [n for n in names if n != CORE and n not in FAMILIES]
    if unknown:
        raise ValueError(
            f"module.metrics: unknown metric families {unknown}; choose from {[CORE, *FAMILIES]}"
        )
    if CORE not in names:
        raise ValueError(f"module.metrics={names} must include '{CORE}' (the confusion matrix every run reports)")
    return names


def needs_scores(name: str) -> bool:
    """The family ``name`` scores per-pixel probabilities (a loop without them leaves it out)."""
    return name in FAMILIES and FAMILIES[name].needs_scores


def _names(values: Sequence[float], base: str, name) -> list[str]:
    return [base] if len(values) == 1 else [name(v) for v in values]


@register_family("boundary_f1")
class BoundaryF1Family(MetricFamily):
    """Boundary F1 (:class:`~seglightning.metrics.boundary.BoundaryF1`): ``bF1`` (+ ``bF1@<t>``)."""

    def __init__(self, config: SuiteConfig):
        super().__init__(config)
        self.bf1 = BoundaryF1(config.num_classes, tolerance=config.bf1_tolerance, ignore_index=config.ignore_index)
        self.columns = _names(self.bf1.tolerances, "bF1", bf1_name)

    def update(self, preds, target, scores, instance_ids=None) -> None:
        self.bf1.update(preds, target)

    def scalars(self) -> dict[str, torch.Tensor]:
        bf1 = self.bf1.compute()
        out = {bf1_name(t): v for t, v in bf1.items()} if len(bf1) > 1 else {}
        out["bF1"] = bf1[self.bf1.tolerances[0]]
        return out

    def per_class(self) -> dict[str, np.ndarray]:
        return dict(zip(self.columns, self.bf1.per_class().detach().cpu().numpy()))

    def per_image(self) -> dict[str, tuple[list[str] | None, np.ndarray]]:
        values = self.bf1.last_per_image.cpu().numpy()  # [T, B, C]
        return {name: (None, values[t]) for t, name in enumerate(self.columns)}


@register_family("boundary_iou")
class BoundaryIoUFamily(MetricFamily):
    """Boundary IoU (:class:`~seglightning.metrics.boundary_iou.BoundaryIoU`): ``bIoU`` (+ ``bIoU@<r>``
    per width when several). Per image: the band intersection ``bIoU.I/<c>`` and union ``bIoU.U/<c>``
    per class, from which the report's bootstrap recomputes the dataset-level bIoU of drawn images."""

    def __init__(self, config: SuiteConfig):
        super().__init__(config)
        self.biou = BoundaryIoU(config.num_classes, config.biou_dilation, ignore_index=config.ignore_index)
        self.columns = _names(self.biou.dilations, "bIoU", biou_name)

    def update(self, preds, target, scores, instance_ids=None) -> None:
        self.biou.update(preds, target)

    def scalars(self) -> dict[str, torch.Tensor]:
        biou = self.biou.compute()
        out = {biou_name(r): v for r, v in biou.items()} if len(biou) > 1 else {}
        out["bIoU"] = biou[self.biou.dilations[0]]
        return out

    def per_class(self) -> dict[str, np.ndarray]:
        return dict(zip(self.columns, self.biou.per_class().detach().cpu().numpy()))

    def per_image(self) -> dict[str, tuple[list[str] | None, np.ndarray]]:
        counts = self.biou.last_per_image.cpu().numpy()  # [2, T, B, C]
        out: dict[str, tuple[list[str] | None, np.ndarray]] = {}
        for t, name in enumerate(self.columns):
            out[f"{name}.I"], out[f"{name}.U"] = (None, counts[0, t]), (None, counts[1, t])
        return out


@register_family("calibration")
class CalibrationFamily(MetricFamily):
    """Calibration (:class:`~seglightning.metrics.calibration.Calibration`) of the inference mode's
    probabilities: ``ECE``, ``Brier``, ``NLL``; nothing is logged by a loop that gives no scores
    (Mask R-CNN). Top-label ECE is one number over all pixels, so ``per_class.csv`` has no ECE
    column. Per image (cheap: the bin sums are computed per image anyway): ``cal.n/<k>``,
    ``cal.conf/<k>``, ``cal.acc/<k>`` per slot ``k`` (``n_bins`` = 15 equal-width bins, then slot 15
    for a confidence of exactly 1) and ``cal/brier_sum``, ``cal/nll_sum``: the ECE, Brier and NLL of
    any set of images follow from their sums (:func:`~seglightning.metrics.calibration.calibration_scores`)."""

    needs_scores = True

    def __init__(self, config: SuiteConfig):
        super().__init__(config)
        self.calibration = Calibration(config.num_classes, ignore_index=config.ignore_index)
        self.fed = False  # probabilities arrived in this pass

    def update(self, preds, target, scores, instance_ids=None) -> None:
        self.fed = self.fed or scores is not None
        if scores is None:
            self.calibration.last_per_image = None  # this batch has no per-image calibration rows
        else:
            self.calibration.update(scores, target, from_logits=True, predicted=preds)

    def scalars(self) -> dict[str, torch.Tensor]:
        if not self.fed:
            return {}  # never fed (no probabilities): no number rather than a fake one
        return {k: v.float() for k, v in self.calibration.compute().items()}

    def reset(self) -> None:
        super().reset()
        self.fed = False

    def reliability(self) -> dict[str, np.ndarray] | None:
        if not self.fed:
            return None
        return {k: v.detach().cpu().numpy() for k, v in self.calibration.reliability().items()}

    def per_image(self) -> dict[str, tuple[list[str] | None, np.ndarray]]:
        rows = self.calibration.last_per_image
        if rows is None:
            return {}
        rows = rows.cpu().numpy()
        slots = self.calibration.n_bins + 1
        labels = [str(k) for k in range(slots)]
        return {
            "cal.n": (labels, rows[:, :slots].astype(np.int64)),
            "cal.conf": (labels, rows[:, slots : 2 * slots]),
            "cal.acc": (labels, rows[:, 2 * slots : 3 * slots].astype(np.int64)),
            "cal": (["brier_sum", "nll_sum"], rows[:, 3 * slots :]),
        }


@register_family("surface")
class SurfaceFamily(MetricFamily):
    """Surface distances (:class:`~seglightning.metrics.surface.SurfaceDistances`, opt-in): ``HD95``,
    ``ASSD``, ``NSD@<t>px`` (means over the images where a class is in both masks) and
    ``surface_one_sided`` (image-class pairs with the class in one mask only, left out of the means).
    Per class the same means and the one-sided count; per image the values per class (NaN where the
    class is not in both masks)."""

    def __init__(self, config: SuiteConfig):
        super().__init__(config)
        self.surface = SurfaceDistances(
            config.num_classes, ignore_index=config.ignore_index, nsd_tolerance=config.nsd_tolerance
        )

    def update(self, preds, target, scores, instance_ids=None) -> None:
        self.surface.update(as_class_indices(preds, target, self.config.num_classes), target)

    def scalars(self) -> dict[str, torch.Tensor]:
        scores = self.surface.compute()
        out = {k: v for k, v in scores.items() if k != "one_sided"}
        out["surface_one_sided"] = scores["one_sided"].float()
        return out

    def per_class(self) -> dict[str, np.ndarray]:
        columns = {k: v.cpu().numpy() for k, v in self.surface.per_class().items() if k != "both"}
        columns["surface_one_sided"] = columns.pop("one_sided")
        return columns

    def per_image(self) -> dict[str, tuple[list[str] | None, np.ndarray]]:
        return {k: (None, v) for k, v in (self.surface.last_per_image or {}).items()}


@register_family("objects")
class ObjectsFamily(MetricFamily):
    """Objects (opt-in): the recall of each ground-truth object (an instance where the batch has an
    instance map, else an 8-connected component of a class) by COCO size bucket
    (:class:`~seglightning.metrics.objects.ObjectRecall`): ``recall@<bucket>``, ``detected@<bucket>``;
    on Cityscapes (its 19 train classes and an instance map) also the benchmark's ``IoU_class``,
    ``iIoU_class``, ``IoU_category``, ``iIoU_category``
    (:class:`~seglightning.metrics.cityscapes_instances.CityscapesInstanceIoU`, from the suite's
    confusion matrix and its own instance-weighted sums). Per image: the objects, detections and
    recall sums per bucket."""

    needs_confmat = True

    def __init__(self, config: SuiteConfig):
        super().__init__(config)
        self.objects = ObjectRecall(config.num_classes, ignore_index=config.ignore_index)
        cityscapes = all(n in config.class_names for group in CATEGORIES.values() for n in group)
        self.cityscapes = CityscapesInstanceIoU(config.class_names, config.ignore_index) if cityscapes else None
        self.instances_seen = False
        self.cityscapes_scores: dict[str, torch.Tensor] | None = None  # of the states as they are, once

    def update(self, preds, target, scores, instance_ids=None) -> None:
        preds = as_class_indices(preds, target, self.config.num_classes)
        self.objects.update(preds, target, instance_ids)
        if self.cityscapes is not None and instance_ids is not None:
            self.instances_seen = True
            self.cityscapes.update(preds, target, instance_ids)
        self.cityscapes_scores = None

    def scalars(self, confmat: torch.Tensor) -> dict[str, torch.Tensor]:
        out = dict(self.objects.compute())
        if self.instances_seen:
            with self.cityscapes.sync_context():
                self.cityscapes_scores = self.cityscapes.scores(confmat)
            scores = self.cityscapes_scores
            out.update({k: scores[k].float() for k in ("IoU_class", "iIoU_class", "IoU_category", "iIoU_category")})
        return out

    def per_class(self, confmat: torch.Tensor) -> dict[str, np.ndarray]:
        columns = {k: v.cpu().numpy() for k, v in self.objects.per_class().items()}
        if self.instances_seen:
            if self.cityscapes_scores is None:  # no scalars() since the last update: states all-reduced by the suite
                self.cityscapes_scores = self.cityscapes.scores(confmat)
            columns["iIoU"] = self.cityscapes_scores["iIoU"].cpu().numpy()
        return columns

    def per_image(self) -> dict[str, tuple[list[str] | None, np.ndarray]]:
        rows = self.objects.last_per_image or {}
        return {k: (list(BUCKETS), v) for k, v in rows.items()}

    def reset(self) -> None:
        super().reset()
        self.instances_seen = False
        self.cityscapes_scores = None


class EvaluationMetrics(nn.Module):
    """The metric suite of one stage (val or test): the confusion matrix (``iou``: mIoU, mDice,
    pixel accuracy, per-class IoU), the mean loss, and the families named in ``metrics``
    (:data:`FAMILIES`: ``boundary_f1``, ``boundary_iou``, ``calibration``; default
    :data:`DEFAULT_METRICS`). A new family is a :class:`MetricFamily` subclass decorated with
    :func:`register_family`; the suite logs its scalars, and its per-class and per-image columns
    reach ``per_class.csv`` and ``per_image.csv`` without further code.

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
        metrics: Sequence[str] = DEFAULT_METRICS,
        biou_dilation: float | Sequence[float] = 0.02,
        nsd_tolerance: float | Sequence[float] = 2.0,
    ):
        super().__init__()
        self.class_names = list(class_names)
        config = SuiteConfig(num_classes, ignore_index, self.class_names, bf1_tolerance, biou_dilation, nsd_tolerance)
        self.names = check_metric_names(metrics)
        self.confusion = ConfusionMetrics(num_classes, ignore_index=ignore_index)
        self.families = nn.ModuleDict({n: FAMILIES[n](config) for n in self.names if n != CORE})
        self.loss = MeanMetric()
        self.ignore_index = ignore_index
        self.last: EvaluationSnapshot | None = None
        self._images: list[tuple[str, np.ndarray, dict[str, tuple[list[str] | None, np.ndarray]]]] = []

    def update(
        self,
        preds: torch.Tensor,
        target: torch.Tensor,
        loss: torch.Tensor,
        meta: Sequence[Mapping[str, Any]] | None = None,
        scores: torch.Tensor | None = None,
        instance_ids: torch.Tensor | None = None,
    ) -> None:
        """Add one batch; ``meta`` (the batch's per-sample dicts) names the images of ``per_image``;
        ``scores``: the inference mode's logits ``[B,C,H,W]`` (their softmax is the probability the
        calibration family scores; families that need them are skipped without); ``instance_ids``:
        the ground-truth instance map ``[B,H,W]`` (0 = none) the ``objects`` family counts objects of."""
        self.confusion.update(preds, target)
        for family in self.families.values():
            family.update(preds, target, scores, instance_ids)
        self.loss.update(loss.detach(), weight=target.shape[0])
        counts = per_image_counts(
            as_class_indices(preds, target, len(self.class_names)), target, len(self.class_names), self.ignore_index
        ).numpy()
        blocks = [(k, v) for family in self.families.values() for k, v in family.per_image().items()]
        for i in range(target.shape[0]):
            name = str((meta[i] if meta is not None else {}).get("id", f"#{len(self._images)}"))
            self._images.append((name, counts[i], {k: (labels, v[i]) for k, (labels, v) in blocks}))

    def compute(self, prefix: str) -> dict[str, torch.Tensor]:
        with self.confusion.sync_context():  # one all-reduce, for the scores and the families that read it
            confmat = self.confusion.confmat.clone()
        scores = scores_from_confmat(confmat)
        out = {f"{prefix}/{k}": scores[k] for k in ("mIoU", "mDice", "pixel_acc")}
        out[f"{prefix}/loss"] = self.loss.compute()
        for name, iou in zip(self.class_names, scores["IoU"]):
            out[f"{prefix}/IoU/{name}"] = iou
        for family in self.families.values():
            out.update({f"{prefix}/{k}": v for k, v in family.scalars(**self._shared(family, confmat)).items()})
        return out

    @staticmethod
    def _shared(family: MetricFamily, confmat: torch.Tensor) -> dict[str, torch.Tensor]:
        """What the suite hands ``family``'s ``scalars`` and ``per_class``: the confusion matrix if it reads it."""
        return {"confmat": confmat} if family.needs_confmat else {}

    def snapshot(self) -> EvaluationSnapshot:
        """The confusion matrix and every family's per-class columns of this pass (all-reduced), kept in ``last``."""
        with ExitStack() as synced:
            for metric in [self.confusion, *(m for f in self.families.values() for m in f.metrics())]:
                synced.enter_context(metric.sync_context())
            matrix = self.confusion.confmat
            columns = {k: v for f in self.families.values() for k, v in f.per_class(**self._shared(f, matrix)).items()}
            confmat = matrix.detach().cpu().numpy().copy()
            calibration = self.families["calibration"] if "calibration" in self.families else None
            reliability = calibration.reliability() if calibration is not None else None
        bf1_names = self.families["boundary_f1"].columns if "boundary_f1" in self.families else []
        bf1 = {k: columns.pop(k) for k in bf1_names}
        self.last = EvaluationSnapshot(
            confmat, bf1, self.class_names, self._per_image(bf1_names), columns, reliability
        )
        return self.last

    def _per_image(self, bf1_names: Sequence[str]) -> ImageCounts | None:
        images = sorted((row for rows in gather_objects(self._images) for row in rows), key=lambda row: row[0])
        if not images:
            return None
        counts = np.stack([row[1] for row in images])
        shared = [k for k in images[0][2] if all(k in row[2] for row in images)]  # blocks every image has
        blocks = {k: (images[0][2][k][0], np.stack([row[2][k][1] for row in images])) for k in shared}
        bf1 = {k: blocks.pop(k)[1] for k in bf1_names}
        return ImageCounts([row[0] for row in images], counts[:, 0], counts[:, 1], counts[:, 2], bf1, blocks)

    def reset(self) -> None:
        self.confusion.reset()
        for family in self.families.values():
            family.reset()
        self.loss.reset()
        self._images = []
