"""Loss cost: forward+backward time of every registered semantic loss as a ratio to cross-entropy,
Lovász-softmax next to segmentation_models_pytorch's ``LovaszLoss``, and the data workers' cost of
``dist_map`` (signed distance maps) per sample.

Inputs: random logits and blob-shaped masks (argmax of upsampled noise, 5 % void) of
``batch x classes x size^2``; the issue's size is 8 x 19 x 256^2 (``--full``); the default is a
smaller 2 x 19 x 128^2 so that the run stays short on a CPU. Losses that need ``dist_map`` get it
precomputed (the workers make it). Timings are medians over ``--repeats`` runs, taken round-robin
(each loss alternates with CE, so machine-load drift hits both alike).
Run: ``python -m benchmarks.losses [--full] [--batch 8 --classes 19 --size 256] [--repeats 5] [--device cuda]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

IGNORE = 255
# the semantic (multiclass) losses of issue #3; binary-only and model-owned terms are left out
LOSS_NAMES = (
    "ce", "wce", "focal", "dice", "generalized_dice", "jaccard", "iou_balanced", "boundary",
    "lovasz", "topk", "dpce", "sensitivity_specificity", "hausdorff", "tversky",
)


def blob_masks(batch: int, classes: int, size: int, seed: int = 0) -> torch.Tensor:
    """Index masks with blob-shaped regions (argmax of upsampled noise) and ~5 % void pixels."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(batch, classes, max(size // 16, 2), max(size // 16, 2), generator=generator)
    masks = F.interpolate(noise, size=(size, size), mode="bilinear", align_corners=False).argmax(1)
    void = torch.rand(batch, size, size, generator=generator) < 0.05
    return torch.where(void, IGNORE, masks)


def _timed(fn: Callable[[], None], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def _step(
    loss: Callable[..., torch.Tensor], logits: torch.Tensor, target: torch.Tensor, extras: dict[str, Any]
) -> Callable[[], None]:
    def run() -> None:
        x = logits.detach().requires_grad_()
        loss(x, target, **extras).backward()

    return run


def _round_robin(fns: dict[str, Callable[[], None]], repeats: int, device: torch.device) -> dict[str, float]:
    """Median seconds of each function, measured alternately after one warm-up call each."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(_timed(fn, device))
    return {name: statistics.median(ts) for name, ts in times.items()}


def run(batch: int, classes: int, size: int, repeats: int, device: torch.device) -> dict[str, Any]:
    from seglightning.data.extras import signed_distance_map
    from seglightning.losses import build_loss, signed_distance_maps

    target = blob_masks(batch, classes, size).to(device)
    logits = torch.randn(batch, classes, size, size, generator=torch.Generator().manual_seed(1)).to(device)
    extras = {"dist_map": signed_distance_maps(target, classes, IGNORE)}  # made by the workers
    ce = _step(build_loss("ce", ignore_index=IGNORE), logits, target, extras)

    ratios: dict[str, tuple[float, float]] = {}
    frequency = torch.linspace(0.01, 0.3, classes)  # wce: median-frequency weights of a skewed split
    for name in LOSS_NAMES:
        loss = build_loss(name, ignore_index=IGNORE, num_classes=classes, class_frequency=lambda: frequency).to(device)
        times = _round_robin({"ce": ce, name: _step(loss, logits, target, extras)}, repeats, device)
        ratios[name] = (times[name], times[name] / times["ce"])

    from segmentation_models_pytorch.losses import LovaszLoss

    lovasz = _round_robin(
        {
            "seglightning": _step(build_loss("lovasz", ignore_index=IGNORE), logits, target, {}),
            "smp": _step(LovaszLoss(mode="multiclass", ignore_index=IGNORE), logits, target, {}),
        },
        repeats,
        device,
    )

    masks = target.cpu().numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        for mask in masks:
            signed_distance_map(mask, classes, IGNORE)
    dist_map_ms = (time.perf_counter() - start) / (repeats * len(masks)) * 1e3
    return {
        "shape": (batch, classes, size, size),
        "device": str(device),
        "ratios": ratios,
        "lovasz": lovasz,
        "dist_map_ms_per_sample": dist_map_ms,
    }


def report(result: dict[str, Any]) -> str:
    b, c, h, w = result["shape"]
    lines = [f"## Losses: forward+backward at {b} x {c} x {h}x{w} on {result['device']} (median, ratio to ce)", ""]
    lines += ["| loss | ms | x ce |", "|---|---:|---:|"]
    for name, (seconds, ratio) in sorted(result["ratios"].items(), key=lambda kv: kv[1][1]):
        lines.append(f"| {name} | {seconds * 1e3:.1f} | {ratio:.2f} |")
    ours, smp = result["lovasz"]["seglightning"], result["lovasz"]["smp"]
    lines += [
        "",
        "| Lovász-softmax | ms |",
        "|---|---:|",
        f"| seglightning lovasz | {ours * 1e3:.1f} |",
        f"| smp LovaszLoss | {smp * 1e3:.1f} |",
        f"| speed-up (smp / ours) | {smp / ours:.2f}x |",
    ]
    lines += [
        "",
        f"dist_map in the workers: {result['dist_map_ms_per_sample']:.1f} ms per sample "
        f"({c} classes, {h}x{w}, scipy EDT)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the issue's size: 8 x 19 x 256^2")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--classes", type=int, default=19)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    if args.full:
        args.batch, args.classes, args.size = 8, 19, 256
    result = run(args.batch, args.classes, args.size, args.repeats, torch.device(args.device))
    print(report(result))
    return result


if __name__ == "__main__":
    main()
