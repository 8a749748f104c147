"""Read a run's ``per_image.csv`` (written by :func:`seglightning.tracking.media.per_image_table`)
back as the per-image TP/FP/FN counts that the report's paired bootstrap resamples."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..run_dir import PER_IMAGE_FILE
from .stats import ImageCounts


def read_image_counts(run_dir: Path) -> tuple[str, ImageCounts] | None:
    """``(split, counts)`` of the run's per-image file; None if the run has none (or no rows).
    A file that is not such a table (no ``id`` or ``TP/<class>`` columns, a row cut short, a count
    that is no integer) raises a ``ValueError`` naming the file and the line."""
    path = Path(run_dir) / PER_IMAGE_FILE
    if not path.is_file():
        return None
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{path}: cannot be read as CSV ({error})") from error
    if not rows:
        return None
    classes = [k[len("TP/"):] for k in header if k.startswith("TP/")]
    needed = ["id", *(f"{kind}/{c}" for kind in ("TP", "FP", "FN") for c in classes)]
    missing = [k for k in needed if k not in header]
    if missing or not classes:
        raise ValueError(
            f"{path}: not a per-image table (missing column {(missing or ['TP/<class>'])[0]}; "
            f"header: {','.join(header)[:120]}); rerun the job's test pass or delete the file"
        )
    values = np.zeros((3, len(rows), len(classes)), dtype=np.int64)
    for line, row in enumerate(rows, start=2):
        for k, kind in enumerate(("TP", "FP", "FN")):
            for j, c in enumerate(classes):
                text = row.get(f"{kind}/{c}")
                try:
                    values[k, line - 2, j] = int(text)
                except (TypeError, ValueError):
                    raise ValueError(
                        f"{path}, line {line}: {kind}/{c} is {text!r}, not a count (the file is cut short or "
                        "damaged); rerun the job's test pass or delete the file"
                    ) from None
    split = rows[0].get("split") or "?"
    return split, ImageCounts([r["id"] for r in rows], values[0], values[1], values[2])
