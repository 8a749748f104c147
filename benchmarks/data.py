"""Data pipeline throughput: default train transforms vs bare image+mask decoding.

A 2048x1024 Cityscapes-style sample (``seglightning.testing.write_cityscapes``: 8-bit RGB
``_leftImg8bit.png`` + ``_gtFine_labelIds.png``) is read in one process (what one loader worker
does) two ways:

- **bare**: decode the image and the label PNG (``read_image`` + ``read_index_png``), nothing else;
- **pipeline**: a training item of the ``cityscapes`` datamodule with ``conf/data/cityscapes.yaml``'s
  ``train_default`` transforms (labelId -> trainId, random scale 0.5-2.0, pad, 512x1024 crop,
  h-flip, photometric jitter, ImageNet normalisation, label check, tensor conversion).

It reports images/s of each (measured round-robin, so load drift on a shared machine hits both
alike) and their ratio (target >= 0.7), plus the reader alone (decode + labelId -> trainId).
Run: ``python -m benchmarks.data [--images 2] [--iters 30] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

TARGET = 0.7
CONFIG = Path(__file__).resolve().parents[1] / "conf" / "data" / "cityscapes.yaml"


def _interleaved(fns: dict[str, Any], n: int) -> dict[str, float]:
    """images/s of each function, measured round-robin so machine-load drift hits all alike."""
    for fn in fns.values():
        fn(0)  # warm-up (imports, allocator)
    spent = dict.fromkeys(fns, 0.0)
    for i in range(n):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(i)
            spent[name] += time.perf_counter() - start
    return {name: n / t for name, t in spent.items()}


def run(images: int = 2, iters: int = 30, seed: int = 0) -> dict[str, Any]:
    """Measure and return ``{"bare_ips", "pipeline_ips", "ratio", ...}``."""
    import cv2
    import torch

    from seglightning.data import build_datamodule
    from seglightning.data.io import read_image, read_index_png
    from seglightning.testing import write_cityscapes

    torch.set_num_threads(1)
    cv2.setNumThreads(1)  # one worker = one core
    cfg = yaml.safe_load(CONFIG.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        root = write_cityscapes(tmp, seed=seed, counts={"train": images}, size=(1024, 2048), coarse=False)
        dm = build_datamodule(
            "cityscapes", root=str(root), batch_size=1, num_workers=0, splits={"train": "train", "val": "train"},
            dataset=cfg["dataset"], transforms=cfg["transforms"], seed=seed,
        )  # fmt: skip
        train = dm.dataset("train")
        samples = train.base.samples
        png_mb = float(np.mean([s.image.stat().st_size for s in samples])) / 2**20

        def bare(i: int) -> None:
            s = samples[i % len(samples)]
            read_image(s.image)
            read_index_png(s.mask)

        def pipeline(i: int) -> None:
            train.set_epoch(i // len(samples))
            train[i % len(samples)]

        def load_only(i: int) -> None:
            train.base[i % len(samples)]

        rates = _interleaved({"bare": bare, "load": load_only, "pipeline": pipeline}, iters)
        bare_ips, load_ips, pipe_ips = rates["bare"], rates["load"], rates["pipeline"]
        out_shape = tuple(train[0]["image"].shape)
    return {
        "sample": f"2048x1024 Cityscapes-style PNG pair ({png_mb:.1f} MB image PNG), "
        f"{images} images x {iters} iters, 1 process",
        "transforms": cfg["transforms"]["train"],
        "output": out_shape,
        "bare_ips": bare_ips,
        "load_ips": load_ips,
        "pipeline_ips": pipe_ips,
        "ratio": pipe_ips / bare_ips,
        "target": TARGET,
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        "data pipeline throughput (images/s, one worker)",
        f"  sample     : {result['sample']}",
        f"  transforms : {result['transforms']}",
        f"  bare decode (image + label PNG)          : {result['bare_ips']:7.2f} img/s",
        f"  + labelId->trainId + checks (reader)     : {result['load_ips']:7.2f} img/s",
        f"  full train item {result['output']} : {result['pipeline_ips']:7.2f} img/s",
        f"  ratio pipeline / bare decode : {result['ratio']:.2f}  (target >= {result['target']})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = run(args.images, args.iters)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return result


if __name__ == "__main__":
    main()
