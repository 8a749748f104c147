"""Read a run's ``per_image.csv`` (written by :func:`seglightning.tracking.media.per_image_table`)
back as the per-image counts that the report's paired bootstrap resamples: TP/FP/FN for mIoU, and
the Boundary IoU band intersection ``bIoU.I`` and union ``bIoU.U`` for bIoU (as ``tp = I``,
``fp = U - I``, ``fn = 0``, so the same ``TP / (TP + FP + FN)`` gives the dataset-level bIoU)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..run_dir import PER_IMAGE_FILE
from .stats import ImageCounts

BOOTSTRAPPED = ("mIoU", "bIoU")  # the metrics whose per-image counts the bootstrap recomputes


def _band_block(header: list[str]) -> str | None:
    """The Boundary IoU block logged as ``bIoU``: ``bIoU`` (one width) or the first ``bIoU@<r>``."""
    blocks = [k.split("/")[0][: -len(".I")] for k in header if k.split("/")[0].endswith(".I") and k.startswith("bIoU")]
    return "bIoU" if "bIoU" in blocks else (blocks[0] if blocks else None)


def read_image_counts(run_dir: Path, metric: str = "mIoU") -> tuple[str, ImageCounts] | None:
    """``(split, counts)`` of the run's per-image file for ``metric`` (:data:`BOOTSTRAPPED`); None
    if the run has none (or no columns for ``metric``)."""
    path = Path(run_dir) / PER_IMAGE_FILE
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    classes = [k[len("TP/"):] for k in rows[0] if k.startswith("TP/")]
    if metric == "bIoU":
        block = _band_block(list(rows[0]))
        if block is None:
            return None
        inter = np.array([[int(r[f"{block}.I/{c}"]) for c in classes] for r in rows], dtype=np.int64)
        union = np.array([[int(r[f"{block}.U/{c}"]) for c in classes] for r in rows], dtype=np.int64)
        inter, union = inter.reshape(len(rows), len(classes)), union.reshape(len(rows), len(classes))
        split = rows[0].get("split") or "?"
        return split, ImageCounts([r["id"] for r in rows], inter, union - inter, np.zeros_like(inter))

    def counts(kind: str) -> np.ndarray:
        return np.array([[int(r[f"{kind}/{c}"]) for c in classes] for r in rows], dtype=np.int64).reshape(
            len(rows), len(classes)
        )

    split = rows[0].get("split") or "?"
    return split, ImageCounts([r["id"] for r in rows], counts("TP"), counts("FP"), counts("FN"))
