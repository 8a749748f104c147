"""Boundary F1 score (BF) for semantic segmentation, batched in torch.

Csurka, Larlus & Perronnin, "What is a good evaluation measure for semantic segmentation?",
BMVC 2013, as implemented by the DAVIS benchmark (Perazzi et al., CVPR 2016; ``f_measure`` and
``seg2bmap`` in ``davis2017-evaluation/davis2017/metrics.py``) and by Gated-SCNN (Takikawa et al.,
ICCV 2019; ``nv-tlabs/GSCNN/utils/f_boundary.py``). For each image and class ``c``:

1. Binary masks ``pred == c`` and ``gt == c``; void pixels (``ignore_index``) set to 0 in both.
2. 1-px boundary maps with DAVIS/Martin ``seg2bmap``: a pixel is a boundary pixel iff its value
   differs from its east, south or south-east neighbour (background pixels included, so the
   boundary sits half a pixel towards the origin); in the last row only the east neighbour is
   compared, in the last column only the south one, and the bottom-right pixel is never boundary.
   An object touching the image border therefore has no boundary along that border.
3. Tolerance ``d = th`` pixels if ``th >= 1``, else ``d = ceil(th * sqrt(H^2 + W^2))``.
4. ``P = |{p in B_pred : dist(p, B_gt) <= d}| / |B_pred|``, ``R`` the converse (``dist``
   Euclidean, i.e. dilation with the disk ``x^2 + y^2 <= d^2`` as ``skimage.morphology.disk``);
   ``F = 2PR / (P + R)`` (0 when ``P + R = 0``). DAVIS' empty cases: no predicted and no GT boundary
   -> ``P = R = 1`` (F = 1); only one of them empty -> F = 0.

Aggregation (docs/design.md): per class, the mean of F over the images in which the class occurs in the
prediction or the ground truth (valid pixels only), then the mean over classes that occurred at
least once. With ``gscnn_compat=True`` every image counts for every class (an absent class scores
F = 1, DAVIS' empty/empty branch) and the final mean runs over all classes; this is what GSCNN's
``eval_mask_boundary`` + ``train.py evaluate`` do (``Fc`` counts every image because
``db_eval_boundary`` never returns NaN, ``F_Score = sum(Fpc / Fc) / num_classes``) and reproduces
its published numbers. GSCNN's ``--eval_thresholds 0.0005,0.001875,0.00375,0.005`` are fractions of
the diagonal (2, 5, 9 and 12 px on 1024x2048 Cityscapes).

Matching is exact in integers, every tolerance from one pass, chosen by device. CPU tensors: every
class of a batch at once as per-pixel class bitsets in numpy/OpenCV
(:mod:`seglightning.metrics.boundary_bitset`: vertical ORs over growing half-heights, gathered at
the sparse boundary pixels only), large images spread over a thread pool. CUDA tensors (no host
copy, no per-image loop): a dense row pass (running max/min of boundary column indices) over a
batch of (image, class) pairs, then ``min_dy (dy^2 + row^2)`` with ``2 d_max + 1`` gathers at the
boundary pixels. Both give identical counts (tested), hence identical F values.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric

from seglightning.metrics.boundary_bitset import batch_counts
from seglightning.metrics.confusion import as_class_indices, check_labels
from seglightning.metrics.functional import f_measure, nan_mean, ratio

__all__ = ["BoundaryF1", "seg2bmap", "tolerance_pixels"]

# Per-image F values are summed as int64 fixed point (resolution 2^-40): the sums are exact and
# order independent, so N-process and 1-process results are bit-identical.
_FIXED_POINT = 2**40


def seg2bmap(mask: Tensor) -> Tensor:
    """1-px boundary map of binary masks ``[..., H, W]`` (DAVIS / D. Martin ``seg2bmap``)."""
    mask = mask.bool()
    e = torch.zeros_like(mask)
    s = torch.zeros_like(mask)
    se = torch.zeros_like(mask)
    e[..., :, :-1] = mask[..., :, 1:]
    s[..., :-1, :] = mask[..., 1:, :]
    se[..., :-1, :-1] = mask[..., 1:, 1:]
    b = (mask ^ e) | (mask ^ s) | (mask ^ se)
    b[..., -1, :] = mask[..., -1, :] ^ e[..., -1, :]
    b[..., :, -1] = mask[..., :, -1] ^ s[..., :, -1]
    b[..., -1, -1] = False
    return b


def tolerance_pixels(tolerance: float, height: int, width: int) -> int:
    """``th`` if ``th >= 1`` (whole pixels), else ``ceil(th * image diagonal)`` as DAVIS does."""
    if tolerance >= 1:
        return int(tolerance)
    return math.ceil(tolerance * math.sqrt(height * height + width * width))


def _row_sqdist(boundary: Tensor, cap: int) -> Tensor:
    """Squared horizontal distance ``[N, H, W]`` to the nearest ``True`` pixel in the same row,
    capped at ``cap^2`` (O(1) per pixel with running max/min of boundary column indices)."""
    w = boundary.shape[-1]
    idx = torch.arange(w, device=boundary.device, dtype=torch.int32).expand_as(boundary)
    none = w + cap + 1
    left = torch.cummax(torch.where(boundary, idx, -none), dim=-1).values
    right = torch.cummin(torch.where(boundary, idx, none).flip(-1), dim=-1).values.flip(-1)
    dx = torch.minimum(idx - left, right - idx).clamp_max(cap)
    return dx * dx


def _count_within(query: Tensor, boundary: Tensor, radii: list[int]) -> list[Tensor]:
    """For each radius ``r``: per pair ``[N]``, the number of ``query`` pixels whose Euclidean
    distance to a ``boundary`` pixel is ``<= r`` (same as dilating ``boundary`` with a disk).

    Exact squared distance ``min_dy (dy^2 + rowdist^2(y + dy))``: the row pass is dense, the
    column pass runs only at the (sparse) query pixels.
    """
    n_pairs, h, w = boundary.shape
    r_max = max(radii)
    exact = (query & boundary).sum((-2, -1))  # distance 0: matched at every radius
    if r_max == 0:
        return [exact for _ in radii]
    far = (r_max + 1) * (r_max + 1)
    rows = _row_sqdist(boundary, r_max + 1)
    rows = torch.nn.functional.pad(rows, (0, 0, r_max, r_max), value=far).flatten()
    pair, y, x = (query & ~boundary).nonzero(as_tuple=True)
    base = (pair * (h + 2 * r_max) + y + r_max) * w + x
    best = torch.full_like(base, far, dtype=rows.dtype)
    for dy in range(-min(r_max, h - 1), min(r_max, h - 1) + 1):
        best = torch.minimum(best, rows[base + dy * w] + dy * dy)
    return [exact + torch.bincount(pair[best <= r * r], minlength=n_pairs) for r in radii]


def _f_measure(n_pred: Tensor, n_gt: Tensor, match_pred: Tensor, match_gt: Tensor) -> Tensor:
    """DAVIS ``f_measure`` branches, vectorised; counts are int tensors of equal shape: 1 when both
    boundaries are empty, 0 when one is or nothing matches."""
    f = f_measure(ratio(match_pred.double(), n_pred), ratio(match_gt.double(), n_gt)).nan_to_num(0.0)
    return torch.where((n_pred == 0) & (n_gt == 0), 1.0, f)


# Below this many pixels per image the pairs run in the calling thread (a pool costs more).
_THREADED_PIXELS = 2**16


@functools.cache
def _thread_pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="boundary_f1")


class BoundaryF1(Metric):
    """Boundary F1 (Csurka et al. BMVC 2013) with DAVIS ``f_measure`` semantics; see module docs.

    Args:
        num_classes: number of classes ``C``.
        tolerance: one tolerance or a list; ``>= 1`` means whole pixels, ``< 1`` a fraction of the
            image diagonal (``0.0075`` is ~9 px at 512x1024), ``0`` exact boundary match.
        ignore_index: void label (zeroed in both masks before boundary extraction); ``None``: none.
        gscnn_compat: average every class over all images, absent classes scoring 1, and over all
            classes (Gated-SCNN's evaluation).
        chunk_pixels: (image, class) pairs are processed in chunks of at most this many pixels.

    ``update(preds, target)``: ``preds`` class indices ``[B,H,W]`` or logits ``[B,C,H,W]``.
    ``compute()``: ``{tolerance: float tensor}``, one entry per tolerance, for one tolerance too
    (NaN if no class occurred). :meth:`per_class` gives the per-class scores; ``last_per_image``
    the per-image F ``[T, B, C]`` of the latest batch (NaN where the class occurs in neither the
    prediction nor the ground truth, also with ``gscnn_compat``).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    f_sum: Tensor
    count: Tensor

    def __init__(
        self,
        num_classes: int,
        tolerance: float | Sequence[float] = 0.0075,
        ignore_index: int | None = 255,
        gscnn_compat: bool = False,
        chunk_pixels: int = 2**24,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        tolerances = [tolerance] if isinstance(tolerance, (int, float)) else list(tolerance)
        if not tolerances:
            raise ValueError("tolerance list is empty")
        for th in tolerances:
            if th < 0 or (th >= 1 and th != int(th)):
                raise ValueError(
                    f"tolerance {th!r} must be a whole number of pixels (>= 1) or a fraction of "
                    "the image diagonal in [0, 1)"
                )
        if ignore_index is not None and 0 <= ignore_index < num_classes:
            raise ValueError(
                f"ignore_index={ignore_index} collides with a class id in [0, {num_classes})"
            )
        self.num_classes = num_classes
        self.tolerances = tolerances
        self.ignore_index = ignore_index
        self.gscnn_compat = gscnn_compat
        self.chunk_pixels = chunk_pixels
        self.add_state(
            "f_sum",
            default=torch.zeros(len(tolerances), num_classes, dtype=torch.long),
            dist_reduce_fx="sum",
        )
        self.add_state(
            "count", default=torch.zeros(num_classes, dtype=torch.long), dist_reduce_fx="sum"
        )
        self.last_per_image: Tensor | None = None

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add the per-image, per-class F of one batch to the per-class sums."""
        preds = as_class_indices(preds, target, self.num_classes)
        b, h, w = target.shape
        c = self.num_classes
        radii = [tolerance_pixels(th, h, w) for th in self.tolerances]
        if preds.device.type == "cpu":
            img_idx, cls_idx, counts = self._cpu_counts(preds, target, radii)
        else:
            img_idx, cls_idx, counts = self._torch_counts(preds, target, radii)
        n_pred, n_gt, t = counts[0], counts[1], len(radii)
        f = torch.stack(
            [_f_measure(n_pred, n_gt, counts[2 + k], counts[2 + t + k]) for k in range(t)]
        )
        per_image = torch.full((t, b, c), float("nan"), dtype=torch.float64, device=f.device)
        per_image[:, img_idx, cls_idx] = f.double()
        self.last_per_image = per_image
        f_sum = torch.zeros_like(self.f_sum)
        f_sum.index_add_(1, cls_idx, torch.round(f * _FIXED_POINT).long())
        counts = torch.bincount(cls_idx, minlength=c)
        if self.gscnn_compat:  # absent (image, class) pairs: empty/empty -> F = 1
            f_sum += (b - counts) * _FIXED_POINT
            counts = torch.full_like(counts, b)
        self.f_sum += f_sum
        self.count += counts

    def _cpu_counts(
        self, preds: Tensor, target: Tensor, radii: list[int]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``(image, class)`` indices of the pairs present in a batch on the CPU and their counts
        ``[2 + 2T, N]`` (``n_pred, n_gt``, then matched predicted and matched ground-truth boundary
        pixels per radius): every class of the batch at once in numpy
        (:mod:`seglightning.metrics.boundary_bitset`; no torch intra-op threads, which stall on a
        loaded machine), large images spread over ``torch.get_num_threads()`` threads."""
        c = self.num_classes
        pred_np, gt_np = preds.numpy(), target.numpy()
        dtype = np.uint8 if c < 256 else np.int32  # c itself becomes the void label
        top = np.iinfo(dtype).max
        if not target.is_floating_point() and (self.ignore_index is None or 0 <= self.ignore_index <= top):
            if all(0 <= a.min() and a.max() <= top for a in (gt_np, pred_np) if a.size):
                pred_np, gt_np = pred_np.astype(dtype), gt_np.astype(dtype)  # checks on the small type
        valid = gt_np != self.ignore_index if self.ignore_index is not None else True
        outside = ((gt_np < 0) | (gt_np >= c)) & valid
        if target.is_floating_point() or outside.any() or (((pred_np < 0) | (pred_np >= c)) & valid).any():
            check_labels(target, preds, c, self.ignore_index)  # raises with the offending labels
        gt_np = np.where(valid, gt_np, c).astype(dtype, copy=False)  # void -> a label never c
        pred_np = np.where(valid, pred_np, c).astype(dtype, copy=False)
        b = gt_np.shape[0]
        offsets = (np.arange(b, dtype=np.intp) * (c + 1)).reshape(b, 1, 1)
        hits = np.bincount((offsets + gt_np).ravel(), minlength=b * (c + 1))
        hits += np.bincount((offsets + pred_np).ravel(), minlength=b * (c + 1))
        present = torch.from_numpy(hits.reshape(b, c + 1)[:, :c] > 0)  # class in pred or GT
        img_idx, cls_idx = present.nonzero(as_tuple=True)
        threads = min(torch.get_num_threads(), b)
        if threads > 1 and gt_np[0].size >= _THREADED_PIXELS:
            bounds = np.linspace(0, b, threads + 1).astype(int)
            parts = _thread_pool(threads).map(
                lambda s: batch_counts(pred_np[s], gt_np[s], c, radii),
                [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])],
            )
            counts = np.concatenate(list(parts), axis=1)
        else:
            counts = batch_counts(pred_np, gt_np, c, radii)
        return img_idx, cls_idx, torch.from_numpy(counts)[:, img_idx, cls_idx]

    def _torch_counts(
        self, preds: Tensor, target: Tensor, radii: list[int]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """As :meth:`_cpu_counts`, batched in torch (any device, no host copy), in pixel chunks."""
        check_labels(target, preds, self.num_classes, self.ignore_index)
        target = target.long()
        b, h, w = target.shape
        c = self.num_classes
        if self.ignore_index is not None:
            valid = target != self.ignore_index
            target = torch.where(valid, target, c)  # void -> an extra label that is never c
            preds = torch.where(valid, preds, c)
        # present[i, k]: class k occurs in prediction or GT of image i (valid pixels)
        offsets = torch.arange(b, device=target.device).view(b, 1, 1) * (c + 1)
        hits = torch.bincount((offsets + target).flatten(), minlength=b * (c + 1))
        hits += torch.bincount((offsets + preds).flatten(), minlength=b * (c + 1))
        present = hits.view(b, c + 1)[:, :c] > 0
        img_idx, cls_idx = present.nonzero(as_tuple=True)
        chunk = max(1, self.chunk_pixels // (h * w))
        parts = [torch.zeros(2 + 2 * len(radii), 0, dtype=torch.long, device=target.device)]
        for start in range(0, img_idx.numel(), chunk):
            ii, cc = img_idx[start : start + chunk], cls_idx[start : start + chunk]
            bp = seg2bmap(preds[ii] == cc.view(-1, 1, 1))
            bg = seg2bmap(target[ii] == cc.view(-1, 1, 1))
            n_pred, n_gt = bp.sum((-2, -1)), bg.sum((-2, -1))
            match_pred, match_gt = _count_within(bp, bg, radii), _count_within(bg, bp, radii)
            parts.append(torch.stack([n_pred, n_gt, *match_pred, *match_gt]))
        return img_idx, cls_idx, torch.cat(parts, dim=1)

    def per_class(self) -> Tensor:
        """Per-class boundary F ``[T, C]``, one row per tolerance; NaN: class never seen."""
        return ratio(self.f_sum.double() / _FIXED_POINT, self.count).float()

    def compute(self) -> dict[float, Tensor]:
        """``{tolerance: mean over classes of the per-class F}`` (classes never seen left out), one
        entry per tolerance in the order given, also for a single tolerance."""
        return {th: nan_mean(row) for th, row in zip(self.tolerances, self.per_class())}
