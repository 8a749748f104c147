"""Object-level recall by COCO size bucket: does a loss find the small objects?

Objects of one image: each ground-truth instance where the dataset has instances (a per-pixel
instance map, 0 = no instance; Cityscapes' ``instanceIds >= 1000``), and every 8-connected
component of a class among the other valid pixels (``cv2.connectedComponents(connectivity=8)``,
the same components as ``scipy.ndimage.label`` with a 3x3 structure of ones). Void pixels
(``ignore_index``) belong to no object. For each object ``O`` of class ``c``:

* ``recall(O) = |O ∩ {pred == c}| / |O|`` (the share of its pixels predicted as its class);
* its size bucket from ``area = |O|`` at evaluation resolution, as COCO (Lin et al., "Microsoft
  COCO: Common Objects in Context", ECCV 2014; ``pycocotools`` ``areaRng``): small ``< 32^2``,
  medium ``< 96^2``, large otherwise;
* detected iff ``recall(O) >= 0.5``.

Logged per bucket ``b``: ``recall@b`` = mean recall over all objects of the bucket (every class),
``detected@b`` = share of them detected (NaN: no object of that size). Per class (``per_class``):
the same over that class's objects. States are per (bucket, class) sums: object counts, detected
counts and the recall sum as int64 fixed point (2^-40), so N processes equal 1 exactly.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric

from seglightning.metrics.confusion import as_class_indices, check_labels
from seglightning.metrics.functional import ratio

__all__ = ["BUCKETS", "ObjectRecall", "image_objects"]

BUCKETS = ("small", "medium", "large")
_EDGES = np.array([32**2, 96**2])  # area < 32^2: small, < 96^2: medium, else large
_FIXED = 2**40


def image_objects(
    pred: np.ndarray, gt: np.ndarray, num_classes: int, ignore_index: int | None, instances: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(class, area, hits)`` int64 arrays, one entry per ground-truth object of one image
    ``[H, W]`` (see module docs): its class, its pixel count and its pixels predicted as its class."""
    valid = gt != ignore_index if ignore_index is not None else np.ones(gt.shape, bool)
    classes, areas, hits = [], [], []
    free = valid
    if instances is not None:
        inst = valid & (instances > 0)
        free = valid & ~inst
        if inst.any():
            ids = instances[inst]
            cls = gt[inst].astype(np.int64)
            # one object per (instance id, class) pair: an id never spans two classes in practice
            keys, inverse = np.unique(ids.astype(np.int64) * (num_classes + 1) + cls, return_inverse=True)
            classes.append(keys % (num_classes + 1))
            areas.append(np.bincount(inverse, minlength=len(keys)))
            hits.append(np.bincount(inverse, weights=pred[inst] == cls, minlength=len(keys)).astype(np.int64))
    present = np.flatnonzero(np.bincount(gt[free].ravel().astype(np.int64), minlength=num_classes)[:num_classes])
    for c in present:
        mask = (free & (gt == c)).view(np.uint8)
        n, labels = cv2.connectedComponents(mask, connectivity=8, ltype=cv2.CV_32S)
        area = np.bincount(labels.ravel(), minlength=n)[1:]
        hit = np.bincount(labels[pred == c], minlength=n)[1:]
        classes.append(np.full(n - 1, c, np.int64))
        areas.append(area)
        hits.append(hit)
    if not classes:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(classes), np.concatenate(areas).astype(np.int64), np.concatenate(hits).astype(np.int64)


class ObjectRecall(Metric):
    """Per-object recall and detection rate by COCO size bucket; see module docs.

    ``update(preds, target, instances=None)``: ``preds`` class indices ``[B,H,W]`` or logits,
    ``instances`` an optional int instance map ``[B,H,W]`` (0: no instance). ``compute()``:
    ``{"recall@small", ..., "detected@large"}``; :meth:`per_class` the same per class ``[C]``;
    ``last_per_image`` the latest batch's per-image sums ``{"objects", "detected", "recall"}``,
    each ``[B, 3]`` (per bucket, all classes), from which any set of images' scores follow.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    objects: Tensor
    detected: Tensor
    recall_sum: Tensor

    def __init__(self, num_classes: int, ignore_index: int | None = 255, **kwargs) -> None:
        super().__init__(**kwargs)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        shape = (len(BUCKETS), num_classes)
        for name in ("objects", "detected", "recall_sum"):
            self.add_state(name, default=torch.zeros(shape, dtype=torch.long), dist_reduce_fx="sum")
        self.last_per_image: dict[str, np.ndarray] | None = None

    def update(self, preds: Tensor, target: Tensor, instances: Tensor | None = None) -> None:
        preds = as_class_indices(preds, target, self.num_classes)
        check_labels(target, preds, self.num_classes, self.ignore_index)
        gt_np, pred_np = target.detach().cpu().numpy(), preds.detach().cpu().numpy()
        inst_np = None if instances is None else instances.detach().cpu().numpy()
        c, nb = self.num_classes, len(BUCKETS)
        b = gt_np.shape[0]
        sums = np.zeros((3, nb, c), np.int64)
        per_image = np.zeros((3, b, nb), np.int64)
        for i in range(b):
            cls, area, hit = image_objects(
                pred_np[i], gt_np[i], c, self.ignore_index, None if inst_np is None else inst_np[i]
            )
            bucket = np.searchsorted(_EDGES, area, side="right")
            detected = 2 * hit >= area
            recall = np.round(hit / np.maximum(area, 1) * _FIXED).astype(np.int64)
            index = bucket * c + cls
            for k, values in enumerate((np.ones_like(hit), detected.astype(np.int64), recall)):
                np.add.at(sums[k].reshape(-1), index, values)  # exact int64 sums
                np.add.at(per_image[k, i], bucket, values)
        self.last_per_image = {"objects": per_image[0], "detected": per_image[1], "recall": per_image[2] / _FIXED}
        device = self.objects.device
        self.objects += torch.from_numpy(sums[0]).to(device)
        self.detected += torch.from_numpy(sums[1]).to(device)
        self.recall_sum += torch.from_numpy(sums[2]).to(device)

    def per_class(self) -> dict[str, Tensor]:
        """``{"recall@<bucket>": [C], "detected@<bucket>": [C], "objects@<bucket>": [C] (counts)}``."""
        out: dict[str, Tensor] = {}
        for k, name in enumerate(BUCKETS):
            n = self.objects[k]
            out[f"recall@{name}"] = ratio(self.recall_sum[k].double() / _FIXED, n)
            out[f"detected@{name}"] = ratio(self.detected[k].double(), n)
            out[f"objects@{name}"] = n.clone()
        return out

    def compute(self) -> dict[str, Tensor]:
        """Mean recall and detection rate over all objects of each bucket (NaN: none)."""
        out: dict[str, Tensor] = {}
        for k, name in enumerate(BUCKETS):
            n = self.objects[k].sum()
            out[f"recall@{name}"] = ratio(self.recall_sum[k].sum().double() / _FIXED, n).float()
            out[f"detected@{name}"] = ratio(self.detected[k].sum().double(), n).float()
        return out
