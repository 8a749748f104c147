"""Cost of the pre-training data check (``data.validate``) on a Cityscapes-sized train split.

Cityscapes' train split is 2975 image/label pairs at 2048x1024. The benchmark writes ``--distinct``
such pairs with ``seglightning.testing.write_cityscapes`` (8-bit RGB ``_leftImg8bit.png`` +
``_gtFine_labelIds.png``), copies them under new names up to ``--images`` pairs, and times the
reader's checks (best wall-clock and CPU time of ``--repeats``), the wall-clock time extrapolated to
2975 pairs (CPU time, summed over threads, is the figure least inflated by a loaded machine):

- ``header``: file headers only (sizes);
- ``masks`` (the default): headers + every label PNG decoded and its labelIds checked, on 1 thread
  and on ``--workers`` threads;
- ``full``: ``masks`` + every image decoded (``--full``).

The files are in the page cache (just written): a cold disk adds its read time.
Run: ``python -m benchmarks mask_check [-- --images 100 --workers 2 --full]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

CITYSCAPES_TRAIN = 2975


def _replicate(root: Path, distinct: int, images: int) -> None:
    """Copy the written pairs under new frame numbers until the train split holds ``images`` pairs."""
    pairs = sorted((root / "gtFine" / "train").rglob("*_gtFine_labelIds.png"))[:distinct]
    for k in range(len(pairs), images):
        label = pairs[k % len(pairs)]
        city = label.parent.name
        stem = label.name.removesuffix("_gtFine_labelIds.png")
        new = f"{city}_{900000 + k:06d}_{19 + k:06d}"
        image = root / "leftImg8bit" / "train" / city / f"{stem}_leftImg8bit.png"
        shutil.copyfile(image, image.with_name(f"{new}_leftImg8bit.png"))
        shutil.copyfile(label, label.with_name(f"{new}_gtFine_labelIds.png"))


def _best(fn: Any, repeats: int) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds (all threads) of ``fn`` over ``repeats`` runs."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        problems = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        assert problems == [], problems
    return min(wall), min(cpu)


def run(
    images: int = 100,
    distinct: int = 8,
    repeats: int = 3,
    workers: int | None = None,
    full: bool = False,
    size: tuple[int, int] = (1024, 2048),
) -> dict[str, Any]:
    """Rows ``{"check", "threads", "seconds", "ms_per_pair", "cpu_ms_per_pair", "cityscapes_s"}``."""
    import cv2

    from seglightning.data import build_dataset
    from seglightning.testing import write_cityscapes

    cv2.setNumThreads(1)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = workers or min(8, cores)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = write_cityscapes(tmp, counts={"train": min(distinct, images)}, size=size, coarse=False)
        _replicate(Path(root), distinct, images)
        ds = build_dataset("cityscapes", root=root, split="train")
        assert len(ds) == images
        label_kb = sum(s.mask.stat().st_size for s in ds.samples) / len(ds) / 1024
        plan = [("header", 1), ("masks", 1), ("masks", workers)] + ([("full", workers)] if full else [])
        for level, threads in dict.fromkeys(plan):
            seconds, cpu = _best(lambda: ds.problems(level, workers=threads), repeats)  # noqa: B023
            rows.append(
                {
                    "check": level,
                    "threads": threads,
                    "seconds": seconds,
                    "ms_per_pair": 1000 * seconds / images,
                    "cpu_ms_per_pair": 1000 * cpu / images,
                    "cityscapes_s": seconds / images * CITYSCAPES_TRAIN,
                }
            )
    return {"images": images, "distinct": distinct, "size": size, "cores": cores, "label_kb": label_kb, "rows": rows}


def report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['images']} pairs at {result['size'][1]}x{result['size'][0]} ({result['distinct']} distinct, "
        f"label PNG {result['label_kb']:.0f} KB on average), {result['cores']} usable cores",
        "| data.validate | threads | measured (s) | per pair (ms) | CPU per pair (ms) | 2975 pairs (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['check']} | {r['threads']} | {r['seconds']:.2f} | {r['ms_per_pair']:.1f} "
            f"| {r['cpu_ms_per_pair']:.1f} | {r['cityscapes_s']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mask_check", description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100, help="pairs in the train split (default 100)")
    parser.add_argument("--distinct", type=int, default=8, help="pairs generated; the rest are copies (default 8)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each check; the best counts")
    parser.add_argument("--workers", type=int, default=None, help="threads of the parallel rows (default: cores, <= 8)")
    parser.add_argument("--full", action="store_true", help="also time data.validate=full (decodes the images)")
    parser.add_argument("--size", type=int, nargs=2, default=(1024, 2048), metavar=("H", "W"), help="default 1024 2048")
    args = parser.parse_args(argv)
    print(report(run(args.images, args.distinct, args.repeats, args.workers, args.full, tuple(args.size))))


if __name__ == "__main__":
    main()
