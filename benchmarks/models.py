"""Architecture cost: parameters, GFLOPs at 512x512 and CPU forward latency relative to U-Net.

Each row is a ``seglightning-train`` model selection (config overrides, composed through the real
config tree, so the numbers are those of the configs users get; ``{size}`` is the measured image
size), built for 21 classes (VOC):

- **params**: trainable and non-trainable parameters (auxiliary heads included: they are part of
  the trained model and run at evaluation, where the loop computes the validation loss);
- **GFLOPs**: floating-point operations of one forward pass of a 3x512x512 image, counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (2 per multiply-accumulate of convolutions and
  matrix products; elementwise ops, pooling, interpolation, RoIAlign and NMS are not counted);
- **CPU latency vs U-Net**: median wall time of a batch-1 512x512 forward in eval mode under
  ``torch.no_grad()``, divided by the classic U-Net's (base 64, the paper's width), measured
  round-robin (every repeat times each model once) so that load drift on a shared machine hits
  all rows alike. Mask R-CNN's cost depends on how many boxes survive (untrained weights here).

Run: ``python -m benchmarks.models [--size 512] [--repeats 5] [--threads N] [--json out.json]``;
``scripts/model_table.py`` renders the same measurement into the README.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

NUM_CLASSES = 21
REFERENCE = "model=unet model.base_channels=64"
ROWS = [
    REFERENCE,
    "model=unet_resnet34",
    "model=deeplabv3",
    "model=deeplabv3plus",
    "model=fastfcn",
    "model=fastfcn model.head=psp",
    "model=fastfcn model.head=aspp",
    "model=gscnn",
    "model=smp model.arch=unetplusplus model.encoder=resnet34",
    "model=smp model.arch=fpn model.encoder=resnet34",
    "model=smp model.arch=segformer model.encoder=mit_b2",
    "model=maskrcnn loss=bce model.min_size={size} model.max_size={size}",  # no resize: same input as the others
]


def model_kwargs(row: str) -> dict[str, Any]:
    """The ``model`` config of a row, composed through the real config tree."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from seglightning.cli import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=row.split())
    return OmegaConf.to_container(cfg.model, resolve=True)


def build(row: str) -> torch.nn.Module:
    from seglightning.models import build_model

    kwargs = model_kwargs(row)
    torch.manual_seed(0)
    return build_model(kwargs.pop("name"), num_classes=NUM_CLASSES, **kwargs).eval()


def gflops(model: torch.nn.Module, image: torch.Tensor) -> float:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(image)
    return counter.get_total_flops() / 1e9


def latencies(models: dict[str, torch.nn.Module], image: torch.Tensor, repeats: int) -> dict[str, float]:
    """Median seconds per forward of each model, timed round-robin after one warm-up pass."""
    times: dict[str, list[float]] = {name: [] for name in models}
    with torch.no_grad():
        for model in models.values():
            model(image)
        for _ in range(repeats):
            for name, model in models.items():
                start = time.perf_counter()
                model(image)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux), else the platform's machine type."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def measure(rows: list[str] = ROWS, size: int = 512, repeats: int = 5, threads: int | None = None) -> dict[str, Any]:
    """Parameters, GFLOPs and CPU latency (and its ratio to ``REFERENCE``) of every row."""
    if threads is not None:
        torch.set_num_threads(threads)
    image = torch.randn(1, 3, size, size)
    models = {row.format(size=size): build(row.format(size=size)) for row in rows}
    seconds = latencies(models, image, repeats)
    results = [
        {
            "model": row,
            "params": sum(p.numel() for p in model.parameters()),
            "gflops": gflops(model, image),
            "cpu_seconds": seconds[row],
            "cpu_ratio_vs_unet": seconds[row] / seconds[REFERENCE],
        }
        for row, model in models.items()
    ]
    machine = {
        "cpu": cpu_name(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "size": size,
        "repeats": repeats,
        "num_classes": NUM_CLASSES,
    }
    return {"machine": machine, "rows": results}


def markdown(result: dict[str, Any]) -> str:
    """A markdown table of ``measure``'s result."""
    m = result["machine"]
    lines = [
        f"| model (config overrides) | params (M) | GFLOPs @{m['size']}² | CPU latency vs U-Net |",
        "|---|---:|---:|---:|",
    ]
    for r in result["rows"]:
        ratio = r["cpu_ratio_vs_unet"]
        lines.append(f"| `{r['model']}` | {r['params'] / 1e6:.1f} | {r['gflops']:.1f} | {ratio:.2f}x |")
    unet = next(r for r in result["rows"] if r["model"] == REFERENCE)
    lines.append("")
    lines.append(
        f"{m['num_classes']} classes, batch 1, eval mode; "
        f"U-Net (base 64) takes {unet['cpu_seconds']:.2f} s per forward "
        f"on {m['cpu']} ({m['threads']} threads, torch {m['torch']}); median of {m['repeats']} round-robin repeats."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.models", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", type=Path, default=None, help="also write the measurement here")
    args = parser.parse_args(argv)
    result = measure(size=args.size, repeats=args.repeats, threads=args.threads)
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
