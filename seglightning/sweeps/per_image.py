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
        reader = csv.reader(f)
        header = next(reader, None)
        rows = list(reader)
    if not header or not rows:
        return None
    column = {name: i for i, name in enumerate(header)}
    classes = [k[len("TP/"):] for k in header if k.startswith("TP/")]
    # one conversion of the string table (not an int() per value: 60 runs x 500 images x 57 counts)
    wanted = [column[f"{kind}/{c}"] for kind in ("TP", "FP", "FN") for c in classes]
    table = np.array(rows, dtype=object)[:, wanted] if classes else np.zeros((len(rows), 0), dtype=object)
    values = table.astype(np.float64).astype(np.int64).reshape(len(rows), 3, len(classes))
    split = rows[0][column["split"]] if "split" in column and rows[0][column["split"]] else "?"
    ids = [r[column["id"]] for r in rows]
    return split, ImageCounts(ids, values[:, 0], values[:, 1], values[:, 2])
