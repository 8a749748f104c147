"""``seglightning-report`` on a study-sized synthetic sweep: files only, no training.

The sweep (default: the size issue 23 names) is 20 grid cells (5 losses x 4 architectures) x 3
seeds = 60 run dirs, each as ``seglightning-train -m`` leaves it (``.hydra/``, ``config.yaml``,
``metrics.json`` with best/final/test sections, ``per_image.csv`` of 500 test images x 19 classes
with the per-class IoU/Dice/bF1 and TP/FP/FN columns of the real writer). The cells differ by a small
quality offset, so the ranking is neither trivial nor random.

It times the console script as a user runs it (a fresh interpreter: start-up, imports, reading the
files, 10 000 bootstrap draws for every comparison and the rank stability, every table and plot),
best of ``--repeats`` runs (the machine may be shared: the best run is the one least disturbed),
and the import of the report module alone, and says whether torch or Lightning were loaded.

Run: ``python -m benchmarks report [-- --runs 60 --images 500 --classes 19 --repeats 3]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

LOSSES = ("ce", "dice", "focal", "lovasz", "boundary", "tversky", "wce", "hausdorff")
MODELS = ("unet", "deeplabv3plus", "segformer", "pspnet", "fpn")
SEEDS_PER_CELL = 3
BIN = Path(sys.executable).parent


def _metrics(rng: np.random.Generator, prefix: str, quality: float, classes: list[str]) -> dict[str, float]:
    values = {f"{prefix}{m}": float(np.clip(quality + 0.02 * rng.standard_normal(), 0, 1))
              for m in ("mIoU", "mDice", "bF1", "pixel_acc")}
    return values | {f"{prefix}IoU/{c}": float(rng.random()) for c in classes} | {f"{prefix}loss": float(rng.random())}


def write_run(root: Path, loss: str, model: str, seed: int, quality: float, images: int, classes: list[str],
              rng: np.random.Generator) -> Path:
    """One job dir of a finished sweep, with its ``per_image.csv``."""
    overrides = [f"loss={loss}", f"model={model}", f"seed={seed}"]
    path = root / ",".join(overrides)
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (path / ".hydra" / "hydra.yaml").write_text(
        yaml.safe_dump({"hydra": {"runtime": {"choices": {"loss": loss, "model": model}}}})
    )
    (path / "config.yaml").write_text(yaml.safe_dump({"seed": seed, "loss": {"name": loss}, "model": {"name": model}}))
    result = {
        "status": "complete",
        "monitor": "val/mIoU",
        "final": {"epoch": 9, "step": 1000, **_metrics(rng, "val/", quality, classes)},
        "best": {"epoch": 8, "step": 900, **_metrics(rng, "val/", quality, classes)},
        "test": _metrics(rng, "test/", quality, classes),
    }
    (path / "metrics.json").write_text(json.dumps(result))
    size = rng.integers(2_000, 40_000, (images, len(classes)))  # ground-truth pixels per class
    present = rng.random((images, len(classes))) < 0.6
    tp = (size * np.clip(quality + 0.15 * rng.standard_normal(size.shape), 0, 1) * present).astype(np.int64)
    fn = (size * present - tp).clip(0)
    fp = (rng.integers(0, 3_000, size.shape) * (1.2 - quality)).astype(np.int64)
    union = tp + fp + fn
    iou = np.where(union > 0, tp / np.maximum(union, 1), np.nan)
    dice = np.where(union > 0, 2 * tp / np.maximum(union + tp, 1), np.nan)
    header = ["split", "id", "valid_pixels", *(f"{k}/{c}" for k in ("IoU", "Dice", "bF1", "TP", "FP", "FN")
                                              for c in classes)]
    with open(path / "per_image.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i in range(images):
            writer.writerow(["test", f"img{i:05d}", int(size[i].sum()), *iou[i], *dice[i], *rng.random(len(classes)),
                             *tp[i], *fp[i], *fn[i]])
    return path


def make_sweep(root: Path, runs: int = 60, images: int = 500, classes: int = 19, seed: int = 0) -> Path:
    """A finished sweep of ``runs`` run dirs (cells of :data:`SEEDS_PER_CELL` seeds) under ``root``."""
    rng = np.random.default_rng(seed)
    names = [f"class{c:02d}" for c in range(classes)]
    cells = [(loss, model) for model in MODELS for loss in LOSSES][: max(1, runs // SEEDS_PER_CELL)]
    made = 0
    for k, (loss, model) in enumerate(cells):
        quality = 0.55 + 0.004 * k  # neighbouring cells overlap: the ranking is uncertain
        for s in range(SEEDS_PER_CELL):
            if made < runs:
                write_run(root, loss, model, s, quality, images, names, rng)
                made += 1
    return root


def time_command(command: list[str], repeats: int) -> list[float]:
    """Wall-clock seconds of each of ``repeats`` runs of ``command`` (which must succeed)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return times


IMPORT_PROBE = (
    "import sys, time; t = time.perf_counter(); import seglightning.sweeps.report, seglightning.cli; "
    "print(time.perf_counter() - t, 'torch' in sys.modules, 'lightning' in sys.modules)"
)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks report")
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--classes", type=int, default=19)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="write the sweep here and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "sweep"
        started = time.perf_counter()
        make_sweep(root, args.runs, args.images, args.classes)
        print(f"sweep: {args.runs} runs, {args.images} images x {args.classes} classes in per_image.csv "
              f"({time.perf_counter() - started:.1f} s to write) at {root}")
        imports = []
        for _ in range(args.repeats):
            out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True)
            seconds, torch, lightning = out.stdout.split()
            imports.append(float(seconds))
        print(f"import seglightning.sweeps.report + cli: best {min(imports):.2f} s of {args.repeats} "
              f"(torch loaded: {torch}, lightning loaded: {lightning})")
        times = time_command([str(BIN / "seglightning-report"), str(root)], args.repeats)
        print(f"seglightning-report {root.name}: best {min(times):.1f} s of {args.repeats} "
              f"({', '.join(f'{t:.1f}' for t in times)} s; 10000 bootstrap draws)")
