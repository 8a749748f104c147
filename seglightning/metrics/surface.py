"""Surface distances for semantic segmentation: HD95, ASSD and NSD (normalised surface Dice).

Per image and class ``c`` whose binary masks ``P = (pred == c)`` and ``G = (gt == c)`` are both
non-empty (void pixels, ``ignore_index``, are zeroed in both masks first), as MONAI 1.x computes
them in 2-D with unit spacing and its defaults (``distance_metric="euclidean"``,
``use_subvoxels=False``; ``monai.metrics.utils.get_mask_edges`` / ``get_surface_distance``):

1. Edges: ``E(M) = M xor erode(M)``, the binary erosion with the 4-connected cross (scipy's
   default structure) and a border of 0, so mask pixels on the image frame are edge pixels.
2. Directed distances: for each edge pixel of ``P`` the Euclidean distance to the nearest edge
   pixel of ``G`` (``d_PG``), and the converse (``d_GP``), in pixels.
3. ``HD95 = max(q95(d_PG), q95(d_GP))`` with ``q95`` the linear-interpolation 95th percentile
   (``torch.quantile``) = ``compute_hausdorff_distance(percentile=95)``;
   ``ASSD = (sum d_PG + sum d_GP) / (|d_PG| + |d_GP|)`` =
   ``compute_average_surface_distance(symmetric=True)``;
   ``NSD@t = (|d_PG <= t| + |d_GP <= t|) / (|d_PG| + |d_GP|)`` =
   ``compute_surface_dice(class_thresholds=[t])`` (Nikolov et al., "Clinically applicable
   segmentation of head and neck anatomy for radiotherapy", JMIR 2021).

Aggregation: per class, the mean of each score over the images where the class is in both masks;
beside it the number of images where the class is in exactly one of them (there the distances are
infinite: they are counted, never averaged). The logged values are the means over classes of the
per-class means (classes never in both masks left out).

Distances are exact: OpenCV's exact Euclidean distance transform (``DIST_L2`` +
``DIST_MASK_PRECISE``) of the complement of one edge map, read at the other's edge pixels, on the
bounding box of ``P | G`` (every edge pixel lies in it, so the crop changes no distance). The sums
are int64 fixed point (order independent), so N processes give bit-identical results to one.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric

from seglightning.metrics.confusion import as_class_indices, check_labels
from seglightning.metrics.functional import nan_mean, ratio

__all__ = ["SurfaceDistances", "image_surface_scores", "mask_edges", "nsd_name"]

# Fixed-point resolutions of the summed per-image scores: distances (up to a few thousand pixels)
# at 2^-30 px, NSD (in [0, 1]) at 2^-40; int64 sums are exact and order independent.
_DIST_FIXED = 2**30
_NSD_FIXED = 2**40
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def nsd_name(tolerance: float) -> str:
    """Logged name of the NSD column at a tolerance in pixels: ``NSD@2px``."""
    return f"NSD@{tolerance:g}px"


def mask_edges(mask: np.ndarray) -> np.ndarray:
    """``mask xor erode(mask)`` (uint8 0/1) with the 3x3 cross and a zero border, as MONAI's
    ``get_mask_edges`` (scipy ``binary_erosion`` defaults)."""
    m = mask.view(np.uint8) if mask.dtype == np.bool_ else mask.astype(np.uint8)
    eroded = cv2.erode(m, _CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return m - eroded


def _distances(query: np.ndarray, target: np.ndarray) -> np.ndarray:
    """float32 distance of every ``query`` edge pixel to the nearest ``target`` edge pixel:
    ``float32(sqrt(k))`` of the exact integer squared distance ``k``, as MONAI's float64 KD-tree
    distances cast to float32. OpenCV's values can be off by an ulp (its SIMD square root), so ``k``
    is recovered by rounding their square: exact below 1448 px (k < 2^21), within an ulp beyond."""
    dist = cv2.distanceTransform(1 - target, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[query.view(bool)]
    return np.sqrt(np.rint(np.square(dist, dtype=np.float64))).astype(np.float32)


def image_surface_scores(
    pred: np.ndarray, gt: np.ndarray, tolerances: Sequence[float]
) -> tuple[float, float, list[float]]:
    """``(HD95, ASSD, [NSD@t ...])`` of two non-empty binary masks ``[H, W]`` (see module docs)."""
    union = (pred | gt).view(np.uint8)
    x, y, w, h = cv2.boundingRect(union)
    box = (slice(y, y + h), slice(x, x + w))
    ep, eg = mask_edges(pred[box]), mask_edges(gt[box])
    d_pg, d_gp = _distances(ep, eg), _distances(eg, ep)
    hd95 = max(float(torch.quantile(torch.from_numpy(d_pg), 0.95)), float(torch.quantile(torch.from_numpy(d_gp), 0.95)))
    n = d_pg.size + d_gp.size
    # a float32 distance is 0 or >= 1, hence a multiple of 2^-23: the integer sum is exact (a float
    # sum would depend on the arrays' memory alignment through numpy's SIMD pairwise summation)
    total = int((d_pg.astype(np.float64) * 2**23).astype(np.int64).sum())
    total += int((d_gp.astype(np.float64) * 2**23).astype(np.int64).sum())
    assd = total / 2**23 / n
    nsd = [
        (int(np.count_nonzero(d_pg <= np.float32(t))) + int(np.count_nonzero(d_gp <= np.float32(t)))) / n
        for t in tolerances
    ]
    return hd95, assd, nsd


class SurfaceDistances(Metric):
    """HD95, ASSD and NSD per image and class, averaged per class over images; see module docs.

    Args:
        num_classes: number of classes ``C``.
        nsd_tolerance: NSD tolerance(s) in pixels (``> 0``); each is logged as ``NSD@<t>px``.
        ignore_index: void label (zeroed in both masks); ``None``: none.

    ``update(preds, target)``: ``preds`` class indices ``[B,H,W]`` or logits ``[B,C,H,W]``.
    ``compute()``: ``{"HD95", "ASSD", "NSD@<t>px"...}`` means over classes (NaN if no class was in
    both masks of any image). :meth:`per_class` gives the per-class means and counts;
    ``last_per_image`` the per-image values ``{"HD95": [B, C], ...}`` of the latest batch (NaN where
    the class is not in both masks).
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    hd95_sum: Tensor
    assd_sum: Tensor
    nsd_sum: Tensor
    both: Tensor
    one_sided: Tensor

    def __init__(
        self,
        num_classes: int,
        nsd_tolerance: float | Sequence[float] = 2.0,
        ignore_index: int | None = 255,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        tolerances = [nsd_tolerance] if isinstance(nsd_tolerance, (int, float)) else list(nsd_tolerance)
        if not tolerances or any(not np.isfinite(t) or t < 0 for t in tolerances):
            raise ValueError(f"nsd_tolerance must be finite distances >= 0 in pixels, got {nsd_tolerance!r}")
        if ignore_index is not None and 0 <= ignore_index < num_classes:
            raise ValueError(f"ignore_index={ignore_index} collides with a class id in [0, {num_classes})")
        self.num_classes = num_classes
        self.tolerances = [float(t) for t in tolerances]
        self.ignore_index = ignore_index
        c = num_classes
        self.add_state("hd95_sum", default=torch.zeros(c, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("assd_sum", default=torch.zeros(c, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("nsd_sum", default=torch.zeros(len(tolerances), c, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("both", default=torch.zeros(c, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("one_sided", default=torch.zeros(c, dtype=torch.long), dist_reduce_fx="sum")
        self.last_per_image: dict[str, np.ndarray] | None = None

    @property
    def names(self) -> list[str]:
        """Score names in order: ``HD95``, ``ASSD``, then ``NSD@<t>px`` per tolerance."""
        return ["HD95", "ASSD", *(nsd_name(t) for t in self.tolerances)]

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add the per-image, per-class scores of one batch to the per-class sums."""
        preds = as_class_indices(preds, target, self.num_classes)
        check_labels(target, preds, self.num_classes, self.ignore_index)
        c, t = self.num_classes, len(self.tolerances)
        gt_np = target.detach().cpu().numpy()
        pred_np = preds.detach().cpu().numpy()
        b = gt_np.shape[0]
        values = np.full((2 + t, b, c), np.nan)
        one_sided = np.zeros(c, np.int64)
        for i in range(b):
            gt, pred = gt_np[i], pred_np[i]
            valid = gt != self.ignore_index if self.ignore_index is not None else np.ones(gt.shape, bool)
            void = np.flatnonzero(~valid)
            labels = np.where(valid, gt, c).ravel()
            in_gt = np.bincount(labels, minlength=c + 1)[:c] > 0
            pred_valid = pred.ravel().copy()
            pred_valid[void] = c
            in_pred = np.bincount(pred_valid, minlength=c + 1)[:c] > 0
            one_sided += in_gt ^ in_pred
            pred_valid = pred_valid.reshape(pred.shape)
            gt_valid = labels.reshape(gt.shape)
            for k in np.flatnonzero(in_gt & in_pred):
                hd95, assd, nsd = image_surface_scores(pred_valid == k, gt_valid == k, self.tolerances)
                values[:, i, k] = [hd95, assd, *nsd]
        self.last_per_image = dict(zip(self.names, values))
        present = ~np.isnan(values[0])
        fixed_dist = np.round(np.where(present, values[:2], 0) * _DIST_FIXED).astype(np.int64).sum(1)
        fixed_nsd = np.round(np.where(present, values[2:], 0) * _NSD_FIXED).astype(np.int64).sum(1)
        device = self.both.device
        self.hd95_sum += torch.from_numpy(fixed_dist[0]).to(device)
        self.assd_sum += torch.from_numpy(fixed_dist[1]).to(device)
        self.nsd_sum += torch.from_numpy(fixed_nsd).to(device)
        self.both += torch.from_numpy(present.sum(0)).to(device)
        self.one_sided += torch.from_numpy(one_sided).to(device)

    def per_class(self) -> dict[str, Tensor]:
        """Per-class means ``{"HD95": [C], "ASSD": [C], "NSD@<t>px": [C]...}`` over the images where
        the class is in both masks (NaN: never), plus ``"both"`` (that number of images) and
        ``"one_sided"`` (images where the class is in exactly one mask), int64 ``[C]``."""
        n = self.both.double()
        out = {
            "HD95": ratio(self.hd95_sum.double() / _DIST_FIXED, n),
            "ASSD": ratio(self.assd_sum.double() / _DIST_FIXED, n),
        }
        for name, row in zip(self.names[2:], self.nsd_sum):
            out[name] = ratio(row.double() / _NSD_FIXED, n)
        out["both"] = self.both.clone()
        out["one_sided"] = self.one_sided.clone()
        return out

    def compute(self) -> dict[str, Tensor]:
        """Means over classes (classes never in both masks left out) of the per-class means, and
        ``"one_sided"``: the total count of (image, class) pairs with the class in one mask only."""
        per_class = self.per_class()
        out = {name: nan_mean(per_class[name]).float() for name in self.names}
        out["one_sided"] = per_class["one_sided"].sum()
        return out
