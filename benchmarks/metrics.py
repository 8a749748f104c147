"""Metric and distance-map cost at real resolution, as ratios measured side by side in one run.

- **BoundaryF1** (``update`` on CPU tensors, tolerance 0.0075 of the diagonal) against a
  per-image, per-class DAVIS implementation with OpenCV (numpy ``seg2bmap`` + ``cv2.dilate`` with
  the disk, the ``davis2017-evaluation`` ``f_measure``), on realistic predictions: *smooth* (the
  ground truth's blobs perturbed and shifted by (3, -4) px) and *noisy* (5 % of pixels relabelled
  at random); goal >= 2x faster. Its share of the DeepLab v3+ ResNet-50 forward on the same batch
  (eval, ``no_grad``); goal <= 5 %. Both at 32 x 64x64 (5 classes) and 2 x 512x1024 (19 classes).
  The F values of both are checked to be identical.
- **Distance maps**: ``signed_distance_map`` (boundary loss, data workers) of a 19-class 512x1024
  mask against a bare loop of two ``cv2.distanceTransform(DIST_L2, DIST_MASK_PRECISE)`` per
  present class; goal <= 1.25x. The Hausdorff-DT loss's per-step distance field of the prediction
  (2 x 19 x 512x1024) as a share of the forward.
- **BoundaryIoU** (``update`` on CPU tensors, 0.02 of the diagonal: 23 px at 512x1024) against the
  per-image, per-class ``mask_to_boundary`` of the boundary-iou-api (``cv2.erode`` of the zero-padded
  binary mask); its share of the forward, goal <= 5 %; counts checked identical.
- **Calibration** (``update`` on the [B, C, H, W] float32 logits: softmax, ECE bins, Brier, NLL)
  as a share of the forward, goal <= 2 %.
- **Metric suite**: ``EvaluationMetrics.update`` (confusion matrix + BoundaryF1 + BoundaryIoU +
  calibration, the default ``module.metrics``) as a share of the forward, at 2 x 512x1024.
- **Opt-in families** (``module.metrics``): ``SurfaceDistances.update`` (HD95, ASSD, NSD@2px) and
  ``ObjectRecall.update`` (8-connected components, no instance map) on the same batches, as a share
  of the same forward.

Timings are medians over ``--repeats`` rounds, each timing every contender once (round-robin), so
load on a shared machine hits all alike. Masks are ``benchmarks.losses.blob_masks`` (5 % void).
Run: ``python -m benchmarks.metrics [--repeats 3] [--quick]`` (``--quick``: 64x64 rows only).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.losses import IGNORE, blob_masks

TOLERANCE = 0.0075
BIOU_RATIO = 0.02


def predictions(target: torch.Tensor, classes: int, kind: str, seed: int = 1) -> torch.Tensor:
    """Realistic predictions for a blob target: ``smooth`` (perturbed, shifted) or ``noisy``."""
    generator = torch.Generator().manual_seed(seed)
    b, h, w = target.shape
    if kind == "smooth":
        clean = torch.where(target == IGNORE, 0, target)
        onehot = F.one_hot(clean, classes).permute(0, 3, 1, 2).float()
        noise = torch.randn(b, classes, max(h // 16, 2), max(w // 16, 2), generator=generator)
        noise = F.interpolate(noise, size=(h, w), mode="bilinear", align_corners=False)
        return (onehot + 0.6 * noise).argmax(1).roll((3, -4), (1, 2))
    flip = torch.rand(b, h, w, generator=generator) < 0.05
    return torch.where(flip, torch.randint(0, classes, (b, h, w), generator=generator), target.clamp_max(classes - 1))


# ---------------------------------------------------------------- the DAVIS reference (per image, per class)
def _davis_seg2bmap(seg: np.ndarray) -> np.ndarray:
    e, s, se = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    e[:, :-1], s[:-1, :], se[:-1, :-1] = seg[:, 1:], seg[1:, :], seg[1:, 1:]
    b = seg ^ e | seg ^ s | seg ^ se
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def _davis_f(pred: np.ndarray, gt: np.ndarray, disk: np.ndarray) -> float:
    bp, bg = _davis_seg2bmap(pred), _davis_seg2bmap(gt)
    n_p, n_g = int(bp.sum()), int(bg.sum())
    if n_p == 0 or n_g == 0:
        return float(n_p == n_g)
    precision = np.count_nonzero(bp & cv2.dilate(bg.view(np.uint8), disk).view(bool)) / n_p
    recall = np.count_nonzero(bg & cv2.dilate(bp.view(np.uint8), disk).view(bool)) / n_g
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def davis_boundary_f1(preds: np.ndarray, target: np.ndarray, classes: int) -> np.ndarray:
    """Per-class sum of F over the images where the class occurs, DAVIS ``f_measure`` per pair."""
    h, w = target.shape[1:]
    d = math.ceil(TOLERANCE * math.hypot(h, w))
    yy, xx = np.mgrid[-d : d + 1, -d : d + 1]
    disk = (xx**2 + yy**2 <= d * d).astype(np.uint8)
    sums = np.zeros(classes)
    for pred, gt in zip(preds, target):
        valid = gt != IGNORE
        for c in range(classes):
            p, g = (pred == c) & valid, (gt == c) & valid
            if p.any() or g.any():
                sums[c] += _davis_f(p, g, disk)
    return sums


# ---------------------------------------------------------------- timing
def round_robin(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds of each function over ``repeats`` rounds (after one warm-up call each)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def deeplab(classes: int) -> torch.nn.Module:
    from benchmarks.models import model_kwargs
    from seglightning.models import build_model

    kwargs = model_kwargs("model=deeplabv3plus")
    torch.manual_seed(0)
    return build_model(kwargs.pop("name"), num_classes=classes, **kwargs).eval()


def boundary_rows(batch: int, classes: int, size: tuple[int, int], repeats: int) -> list[dict[str, Any]]:
    target = blob_masks(batch, classes, max(size), seed=0)[:, : size[0], : size[1]].contiguous()
    image = torch.randn(batch, 3, *size, generator=torch.Generator().manual_seed(2))
    model = deeplab(classes)
    return [_boundary_row(model, image, target, predictions(target, classes, kind), kind, classes, repeats)
            for kind in ("smooth", "noisy")]


def _mask_to_boundary(mask: np.ndarray, dilation_ratio: float) -> np.ndarray:
    """boundary-iou-api ``mask_to_boundary`` (``boundary_iou/utils/boundary_utils.py``)."""
    h, w = mask.shape
    dilation = max(1, int(round(dilation_ratio * np.sqrt(h**2 + w**2))))
    new_mask = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    eroded = cv2.erode(new_mask, np.ones((3, 3), np.uint8), iterations=dilation)[1 : h + 1, 1 : w + 1]
    return mask - eroded


def reference_biou_counts(preds: np.ndarray, target: np.ndarray, classes: int) -> np.ndarray:
    """``[2, C]`` band intersection and union sums, per image and class with ``mask_to_boundary``."""
    out = np.zeros((2, classes), np.int64)
    for pred, gt in zip(preds, target):
        valid = gt != IGNORE
        for c in range(classes):
            p = _mask_to_boundary(((pred == c) & valid).astype(np.uint8), BIOU_RATIO).astype(bool)
            g = _mask_to_boundary(((gt == c) & valid).astype(np.uint8), BIOU_RATIO).astype(bool)
            out[0, c] += np.count_nonzero(p & g)
            out[1, c] += np.count_nonzero(p | g)
    return out


def _boundary_row(model: torch.nn.Module, image: torch.Tensor, target: torch.Tensor, preds: torch.Tensor,
                  kind: str, classes: int, repeats: int) -> dict[str, Any]:
    from seglightning.metrics import BoundaryF1, BoundaryIoU, Calibration, EvaluationMetrics
    from seglightning.metrics.objects import ObjectRecall
    from seglightning.metrics.surface import SurfaceDistances

    metric = BoundaryF1(classes, tolerance=TOLERANCE, ignore_index=IGNORE)
    biou = BoundaryIoU(classes, BIOU_RATIO, ignore_index=IGNORE)
    calibration = Calibration(classes, ignore_index=IGNORE)
    suite = EvaluationMetrics(classes, IGNORE, [str(c) for c in range(classes)], TOLERANCE)
    loss = torch.tensor(1.0)
    preds_np, target_np = preds.numpy(), target.numpy()
    onehot = F.one_hot(preds, classes).permute(0, 3, 1, 2).float()
    logits = 4 * onehot + torch.randn(onehot.shape, generator=torch.Generator().manual_seed(5))
    top_class = logits.argmax(1)  # the suite's predictions, computed by the module anyway

    def ours() -> None:
        metric.reset()
        metric.update(preds, target)

    def ours_biou() -> None:
        biou.reset()
        biou.update(preds, target)

    def ours_calibration() -> None:
        calibration.reset()
        calibration.update(logits, target, from_logits=True, predicted=top_class)  # as the suite calls it

    def full_suite() -> None:
        suite.reset()
        suite.update(preds, target, loss, scores=logits)

    def forward() -> None:
        with torch.no_grad():
            model(image)

    def davis() -> np.ndarray:
        return davis_boundary_f1(preds_np, target_np, classes)

    def biou_reference() -> np.ndarray:
        return reference_biou_counts(preds_np, target_np, classes)

    surface, objects = SurfaceDistances(classes, ignore_index=IGNORE), ObjectRecall(classes, ignore_index=IGNORE)

    def surface_update() -> None:
        surface.reset()
        surface.update(preds, target)

    def objects_update() -> None:
        objects.reset()
        objects.update(preds, target)

    times = round_robin({"ours": ours, "davis": davis, "forward": forward, "suite": full_suite, "biou": ours_biou,
                         "biou_ref": biou_reference, "calibration": ours_calibration,
                         "surface": surface_update, "objects": objects_update}, repeats)
    ours()
    identical = np.allclose(metric.f_sum[0].double().numpy() / 2**40, davis(), rtol=0, atol=1e-9)
    ours_biou()
    biou_identical = np.array_equal(torch.stack([biou.intersection[0], biou.union[0]]).numpy(), biou_reference())
    b, h, w = target.shape
    return {"input": f"{b} x {h}x{w}, {classes} classes, {kind}", "times": times, "identical": identical,
            "biou_identical": biou_identical}


def distance_rows(classes: int, size: tuple[int, int], repeats: int) -> list[dict[str, Any]]:
    from seglightning.data.extras import signed_distance_map
    from seglightning.losses.distance import unsigned_distance_field

    mask = blob_masks(1, classes, max(size), seed=3)[0, : size[0], : size[1]].numpy().copy()

    def bare_loop() -> None:
        for c in np.unique(mask[mask != IGNORE]):
            inside = (mask == c).view(np.uint8)
            cv2.distanceTransform(1 - inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)

    times = round_robin({"ours": lambda: signed_distance_map(mask, classes, IGNORE), "bare": bare_loop}, repeats)
    grid = (max(size[0] // 16, 2), max(size[1] // 16, 2))
    logits = torch.randn(2, classes, *grid, generator=torch.Generator().manual_seed(4))
    probs = F.interpolate(logits, size=size, mode="bilinear", align_corners=False).softmax(1)
    field = round_robin({"field": lambda: unsigned_distance_field(probs > 0.5)}, repeats)
    return [{"input": f"1 x {classes} x {size[0]}x{size[1]}", "times": times, "field": field["field"]}]


def report(boundary: list[dict[str, Any]], distance: list[dict[str, Any]]) -> str:
    lines = ["## BoundaryF1 (CPU) vs the per-image cv2 DAVIS reference, and share of the DeepLab v3+ R50 forward", "",
             "| input | ours ms | DAVIS cv2 ms | speed-up (goal >= 2) | forward ms | share (goal <= 5 %) "
             "| metric suite share | identical F |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for row in boundary:
        t = row["times"]
        lines.append(
            f"| {row['input']} | {t['ours'] * 1e3:.1f} | {t['davis'] * 1e3:.1f} | {t['davis'] / t['ours']:.1f}x | "
            f"{t['forward'] * 1e3:.0f} | {100 * t['ours'] / t['forward']:.1f} % | "
            f"{100 * t['suite'] / t['forward']:.1f} % | "
            f"{'yes' if row['identical'] else 'NO'} |"
        )
    lines += ["", "## BoundaryIoU and Calibration (CPU) as a share of the DeepLab v3+ R50 forward", "",
              "| input | bIoU ms | mask_to_boundary cv2 ms | speed-up | bIoU share (goal <= 5 %) | identical counts "
              "| calibration ms | calibration share (goal <= 2 %) |",
              "|---|---:|---:|---:|---:|---|---:|---:|"]
    for row in boundary:
        t = row["times"]
        lines.append(
            f"| {row['input']} | {t['biou'] * 1e3:.1f} | {t['biou_ref'] * 1e3:.1f} | "
            f"{t['biou_ref'] / t['biou']:.1f}x | "
            f"{100 * t['biou'] / t['forward']:.1f} % | {'yes' if row['biou_identical'] else 'NO'} | "
            f"{t['calibration'] * 1e3:.1f} | {100 * t['calibration'] / t['forward']:.1f} % |"
        )
    lines += ["", "## Opt-in metric families (module.metrics), share of the DeepLab v3+ R50 forward", "",
              "| input | surface (HD95, ASSD, NSD) ms | share | objects (recall by size) ms | share |",
              "|---|---:|---:|---:|---:|"]
    for row in boundary:
        t = row["times"]
        lines.append(f"| {row['input']} | {t['surface'] * 1e3:.1f} | {100 * t['surface'] / t['forward']:.1f} % | "
                     f"{t['objects'] * 1e3:.1f} | {100 * t['objects'] / t['forward']:.1f} % |")
    lines += ["", "## Distance maps (exact EDT) vs a bare cv2.distanceTransform loop over the present classes", "",
              "| input | signed_distance_map ms | bare cv2 loop ms | ratio (goal <= 1.25) |", "|---|---:|---:|---:|"]
    for row in distance:
        t = row["times"]
        ratio = t["ours"] / t["bare"]
        lines.append(f"| {row['input']} | {t['ours'] * 1e3:.1f} | {t['bare'] * 1e3:.1f} | {ratio:.2f} |")
    forward = next((r["times"]["forward"] for r in reversed(boundary) if "512" in r["input"]), None)
    for row in distance:
        share = f" = {100 * row['field'] / forward:.1f} % of the forward above" if forward else ""
        lines.append(f"\nHausdorff-DT prediction distance field, 2 x {row['input'][4:]}: "
                     f"{row['field'] * 1e3:.0f} ms per step{share}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="64x64 rows only")
    args = parser.parse_args(argv)
    print(f"torch threads: {torch.get_num_threads()}", flush=True)
    boundary = boundary_rows(32, 5, (64, 64), args.repeats)
    distance = []
    if not args.quick:
        boundary += boundary_rows(2, 19, (512, 1024), args.repeats)
        distance = distance_rows(19, (512, 1024), args.repeats)
    print(report(boundary, distance))
    return {"boundary": boundary, "distance": distance}


if __name__ == "__main__":
    main()
