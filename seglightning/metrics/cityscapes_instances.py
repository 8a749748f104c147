"""The Cityscapes pixel-level benchmark's four numbers: IoU class, iIoU class, IoU category, iIoU category.

As ``cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling`` with ``evalInstLevelScore=True``
(Cordts et al., "The Cityscapes Dataset for Semantic Urban Scene Understanding", CVPR 2016), on
train ids (void = ``ignore_index``, the script's ``ignoreInEval`` labels):

* ``IoU_c = TP / (TP + FP + FN)`` from the dataset confusion matrix (void ground truth excluded);
  IoU category: the same on the matrix summed over the 7 categories (flat, construction, object,
  nature, sky, human, vehicle).
* iIoU for the 8 classes with instances: every ground-truth instance ``O`` (instanceIds value
  ``> 1000``) of class ``c`` adds ``w * |O ∩ {pred == c}|`` to ``iTP_c`` and ``w * |O \\ {pred == c}|``
  to ``iFN_c`` with ``w = avgClassSize[c] / |O|`` (the script's per-class average instance sizes);
  ``iIoU_c = iTP_c / (iTP_c + FP_c + iFN_c)`` with the unweighted ``FP_c`` of the confusion matrix.
  iIoU category: the same for human and vehicle, a pixel counting as a hit when predicted as any
  class of the instance's category.
* Each average is the mean over the classes (categories) whose score is not NaN (denominator 0).

The weighted sums are int64 fixed point (2^-24 pixel), so N processes equal 1 exactly; the
rounding (< 2^-25 per instance) is far below the script's float64 noise at Cityscapes scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric

from seglightning.metrics.confusion import as_class_indices
from seglightning.metrics.functional import confusion_counts, iou, nan_mean

__all__ = ["AVG_CLASS_SIZE", "CATEGORIES", "CityscapesInstanceIoU"]

# cityscapesscripts/evaluation/evalPixelLevelSemanticLabeling.py, args.avgClassSize
AVG_CLASS_SIZE = {
    "bicycle": 4672.3249222261,
    "caravan": 36771.8241758242,
    "motorcycle": 6298.7200839748,
    "rider": 3930.4788056518,
    "bus": 35732.1511111111,
    "train": 67583.7075812274,
    "car": 12794.0202738185,
    "person": 3462.4756337644,
    "truck": 27855.1264367816,
    "trailer": 16926.9763313609,
}
# cityscapesscripts/helpers/labels.py: the category of each train class
CATEGORIES = {
    "flat": ("road", "sidewalk"),
    "construction": ("building", "wall", "fence"),
    "object": ("pole", "traffic light", "traffic sign"),
    "nature": ("vegetation", "terrain"),
    "sky": ("sky",),
    "human": ("person", "rider"),
    "vehicle": ("car", "truck", "bus", "train", "motorcycle", "bicycle"),
}
INSTANCE_CATEGORIES = ("human", "vehicle")  # every label of the category has instances
_FIXED = 2**24


class CityscapesInstanceIoU(Metric):
    """Instance-weighted TP/FN sums for Cityscapes iIoU; :meth:`scores` gives the four numbers.

    Args:
        class_names: the 19 Cityscapes train classes (in train-id order).
        ignore_index: void label.

    ``update(preds, target, instances)``: ``instances`` the instanceIds map ``[B,H,W]`` (values
    ``> 1000`` are instances). ``scores(confmat)`` needs the dataset confusion matrix ``[C, C]``
    (rows ground truth) of the same pass, for FP and the IoU numbers.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    tp_w: Tensor
    fn_w: Tensor
    cat_tp_w: Tensor
    cat_fn_w: Tensor

    def __init__(self, class_names: Sequence[str], ignore_index: int | None = 255, **kwargs) -> None:
        super().__init__(**kwargs)
        names = list(class_names)
        missing = [n for group in CATEGORIES.values() for n in group if n not in names]
        if missing:
            raise ValueError(f"Cityscapes iIoU needs the Cityscapes train classes; missing {missing}")
        self.class_names, self.ignore_index = names, ignore_index
        c = len(names)
        self.category_of = np.full(c, -1, np.int64)
        for k, group in enumerate(CATEGORIES.values()):
            for n in group:
                self.category_of[names.index(n)] = k
        self.weight = np.array([AVG_CLASS_SIZE.get(n, 0.0) for n in names])
        self.things = np.array([n in AVG_CLASS_SIZE for n in names])
        self.add_state("tp_w", default=torch.zeros(c, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("fn_w", default=torch.zeros(c, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("cat_tp_w", default=torch.zeros(len(CATEGORIES), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("cat_fn_w", default=torch.zeros(len(CATEGORIES), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor, instances: Tensor) -> None:
        c = len(self.class_names)
        preds = as_class_indices(preds, target, c)
        gt_np, pred_np = target.detach().cpu().numpy(), preds.detach().cpu().numpy()
        inst_np = instances.detach().cpu().numpy()
        sums = np.zeros((2, c), np.int64)
        cat_sums = np.zeros((2, len(CATEGORIES)), np.int64)
        for gt, pred, inst in zip(gt_np, pred_np, inst_np):
            valid = gt != self.ignore_index if self.ignore_index is not None else np.ones(gt.shape, bool)
            sel = (inst > 1000) & valid
            if not sel.any():
                continue
            ids, inverse = np.unique(inst[sel], return_inverse=True)
            cls = np.zeros(len(ids), np.int64)
            cls[inverse] = gt[sel]  # an instance id encodes its label: one class per instance
            keep = self.things[cls]
            size = np.bincount(inverse, minlength=len(ids))
            hit = np.bincount(inverse, weights=pred[sel] == cls[inverse], minlength=len(ids))
            pred_cat = self.category_of[np.clip(pred[sel], 0, c - 1)]
            cat_hit = np.bincount(inverse, weights=pred_cat == self.category_of[cls[inverse]], minlength=len(ids))
            w = self.weight[cls] / size
            for row, values in ((0, hit), (1, size - hit)):
                np.add.at(sums[row], cls[keep], np.round(values * w * _FIXED).astype(np.int64)[keep])
            for row, values in ((0, cat_hit), (1, size - cat_hit)):
                np.add.at(
                    cat_sums[row], self.category_of[cls[keep]], np.round(values * w * _FIXED).astype(np.int64)[keep]
                )
        device = self.tp_w.device
        self.tp_w += torch.from_numpy(sums[0]).to(device)
        self.fn_w += torch.from_numpy(sums[1]).to(device)
        self.cat_tp_w += torch.from_numpy(cat_sums[0]).to(device)
        self.cat_fn_w += torch.from_numpy(cat_sums[1]).to(device)

    def scores(self, confmat: Tensor | np.ndarray) -> dict[str, Tensor]:
        """``{"IoU_class", "iIoU_class", "IoU_category", "iIoU_category"}`` (float64 scalars) and
        ``"iIoU"`` per class ``[C]`` (NaN for classes without instances) from the confusion matrix."""
        cm = torch.as_tensor(confmat).double().cpu()  # the suite's matrix may live on the GPU
        tp, fp, fn = confusion_counts(cm)
        class_iou = iou(tp, fp, fn)
        things = torch.from_numpy(self.things)
        itp, ifn = self.tp_w.cpu().double() / _FIXED, self.fn_w.cpu().double() / _FIXED
        iiou = torch.where(things, iou(itp, fp, ifn), float("nan"))
        k = len(CATEGORIES)
        onehot = torch.zeros(len(self.class_names), k, dtype=torch.float64)
        onehot[torch.arange(len(self.class_names)), torch.from_numpy(self.category_of)] = 1.0
        cat_cm = onehot.T @ cm @ onehot
        cat_tp, cat_fp, cat_fn = confusion_counts(cat_cm)
        cat_iou = iou(cat_tp, cat_fp, cat_fn)
        inst_cat = torch.tensor([name in INSTANCE_CATEGORIES for name in CATEGORIES])
        ctp, cfn = self.cat_tp_w.cpu().double() / _FIXED, self.cat_fn_w.cpu().double() / _FIXED
        cat_iiou = torch.where(inst_cat, iou(ctp, cat_fp, cfn), float("nan"))
        return {
            "IoU_class": nan_mean(class_iou),
            "iIoU_class": nan_mean(iiou),
            "IoU_category": nan_mean(cat_iou),
            "iIoU_category": nan_mean(cat_iiou),
            "iIoU": iiou,
        }

    def compute(self) -> dict[str, Tensor]:
        raise NotImplementedError("CityscapesInstanceIoU needs the confusion matrix: call scores(confmat)")
