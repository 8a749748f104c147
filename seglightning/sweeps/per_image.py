"""Read a run's ``per_image.csv`` (written by :func:`seglightning.tracking.media.per_image_table`)
back as the per-image TP/FP/FN counts that the report's paired bootstrap resamples."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..run_dir import PER_IMAGE_FILE
from .stats import ImageCounts


def read_image_counts(run_dir: Path) -> tuple[str, ImageCounts] | None:
    """``(split, counts)`` of the run's per-image file; None if the run has none."""
    path = Path(run_dir) / PER_IMAGE_FILE
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    classes = [k[len("TP/"):] for k in rows[0] if k.startswith("TP/")]

    def counts(kind: str) -> np.ndarray:
        return np.array([[int(r[f"{kind}/{c}"]) for c in classes] for r in rows], dtype=np.int64).reshape(
            len(rows), len(classes)
        )

    split = rows[0].get("split") or "?"
    return split, ImageCounts([r["id"] for r in rows], counts("TP"), counts("FP"), counts("FN"))
