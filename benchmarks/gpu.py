"""GPU figures in one short script (a few minutes): without CUDA it says so and exits 0.

With CUDA, on the current device (its name is printed):

- the shared loop vs a bare PyTorch loop with ``trainer=gpu`` (bf16 autocast, ``channels_last``)
  on the default workload (``benchmarks.loop``, 1 epoch, 1 round after a warm-up);
- BoundaryF1 on CUDA tensors (the batched torch path, no host copy) vs the DeepLab v3+ ResNet-50
  forward, at 2 x 512x1024, 19 classes, smooth and noisy predictions (``benchmarks.metrics``);
- DeepLab v3+ ResNet-50 training steps per second at 2 x 512x1024 (bf16 autocast,
  ``channels_last``, AdamW, cross-entropy).

Run: ``python -m benchmarks.gpu`` (``make bench`` runs it too; on a CPU machine it only prints).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch
import torch.nn.functional as F


def _cuda_time(fn: Any, repeats: int) -> float:
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def boundary_vs_forward(repeats: int) -> list[str]:
    from benchmarks.losses import IGNORE, blob_masks
    from benchmarks.metrics import TOLERANCE, deeplab, predictions
    from seglightning.metrics import BoundaryF1

    classes, size = 19, (512, 1024)
    target = blob_masks(2, classes, max(size), seed=0)[:, : size[0], : size[1]].contiguous()
    model = deeplab(classes).cuda().to(memory_format=torch.channels_last)
    image = torch.randn(2, 3, *size, device="cuda").contiguous(memory_format=torch.channels_last)

    def forward() -> None:
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            model(image)

    forward_s = _cuda_time(forward, repeats)
    lines = ["| input | BoundaryF1 ms | forward ms (bf16) | share |", "|---|---:|---:|---:|"]
    gt = target.cuda()
    for kind in ("smooth", "noisy"):
        preds = predictions(target, classes, kind).cuda()
        metric = BoundaryF1(classes, tolerance=TOLERANCE, ignore_index=IGNORE).cuda()
        seconds = _cuda_time(lambda m=metric, p=preds: m.update(p, gt), repeats)
        share = 100 * seconds / forward_s
        row = f"| 2 x 512x1024, 19 classes, {kind} | {seconds * 1e3:.1f} | {forward_s * 1e3:.1f}"
        lines.append(f"{row} | {share:.1f} % |")
    return lines


def deeplab_steps_per_second(steps: int) -> float:
    from benchmarks.metrics import deeplab

    model = deeplab(19).cuda().train().to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    image = torch.randn(2, 3, 512, 1024, device="cuda").contiguous(memory_format=torch.channels_last)
    target = torch.randint(0, 19, (2, 512, 1024), device="cuda")

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(image)["logits"], target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("benchmarks.gpu: no CUDA device here; nothing to measure (run it on a GPU machine)")
        return 0
    from benchmarks.loop import measure
    from benchmarks.loop import report as loop_report

    print(f"## GPU: {torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA {torch.version.cuda})\n")
    print(loop_report(measure(["trainer=gpu", "module.channels_last=true"], epochs=1, repeats=1)), "\n")
    print("## BoundaryF1 on CUDA tensors vs the DeepLab v3+ R50 forward\n")
    print("\n".join(boundary_vs_forward(args.repeats)), "\n")
    steps = deeplab_steps_per_second(args.steps)
    print(f"DeepLab v3+ R50 training at 2 x 512x1024 (bf16, channels_last): {steps:.2f} steps/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
