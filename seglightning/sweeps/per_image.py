"""Read a run's ``per_image.csv`` (written by :func:`seglightning.tracking.media.per_image_table`)
back as the per-image counts that the report's paired bootstrap resamples: TP/FP/FN for mIoU, and
the Boundary IoU band intersection ``bIoU.I`` and union ``bIoU.U`` for bIoU (as ``tp = I``,
``fp = U - I``, ``fn = 0``, so the same ``TP / (TP + FP + FN)`` gives the dataset-level bIoU)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..metrics.image_counts import ImageCounts
from ..run.directory import PER_IMAGE_FILE

BOOTSTRAPPED = ("mIoU", "bIoU")  # the metrics whose per-image counts the bootstrap recomputes
DAMAGED = "(the file is cut short or damaged); rerun the job's test pass or delete the file"


def _band_block(header: list[str]) -> str | None:
    """The Boundary IoU block logged as ``bIoU``: ``bIoU`` (one width) or the first ``bIoU@<r>``."""
    blocks = [k.split("/")[0][: -len(".I")] for k in header if k.split("/")[0].endswith(".I") and k.startswith("bIoU")]
    return "bIoU" if "bIoU" in blocks else (blocks[0] if blocks else None)


def read_image_counts(run_dir: Path, metric: str = "mIoU") -> tuple[str, ImageCounts] | None:
    """``(split, counts)`` of the run's per-image file for ``metric`` (:data:`BOOTSTRAPPED`); None
    if the run has none (no rows, or no columns for ``metric``). A file that is not such a table (no
    ``id`` or ``TP/<class>`` columns, a row cut short, a count that is no number) raises a
    ``ValueError`` naming the file and the line."""
    path = Path(run_dir) / PER_IMAGE_FILE
    if not path.is_file():
        return None
    try:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{path}: cannot be read as CSV ({error})") from error
    if not header or not rows:
        return None
    column = {name: i for i, name in enumerate(header)}
    classes = [k[len("TP/"):] for k in header if k.startswith("TP/")]
    confusion = [f"{kind}/{c}" for kind in ("TP", "FP", "FN") for c in classes]
    missing = [k for k in ["id", *confusion] if k not in column]
    if missing or not classes:
        raise ValueError(
            f"{path}: not a per-image table (missing column {(missing or ['TP/<class>'])[0]}; "
            f"header: {','.join(header)[:120]}); rerun the job's test pass or delete the file"
        )
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)} {DAMAGED}")
    if metric == "bIoU":
        block = _band_block(header)
        if block is None:
            return None
        names = [f"{block}.{part}/{c}" for part in ("I", "U") for c in classes]
    else:
        names = confusion
    values = _counts(path, rows, column, names).reshape(len(rows), -1, len(classes))
    split = rows[0][column["split"]] if "split" in column and rows[0][column["split"]] else "?"
    ids = [r[column["id"]] for r in rows]
    if metric == "bIoU":
        inter, union = values[:, 0], values[:, 1]
        return split, ImageCounts(ids, inter, union - inter, np.zeros_like(inter))
    return split, ImageCounts(ids, values[:, 0], values[:, 1], values[:, 2])


def _counts(path: Path, rows: list[list[str]], column: dict[str, int], names: list[str]) -> np.ndarray:
    """The columns ``names`` of ``rows`` as int64 [rows, names], in one conversion of the string
    table (not an int() per value: 60 runs x 500 images x 57 counts)."""
    missing = [k for k in names if k not in column]
    if missing:
        raise ValueError(f"{path}: missing column {missing[0]}; rerun the job's test pass or delete the file")
    table = np.array(rows, dtype=object)[:, [column[k] for k in names]]
    try:
        return table.astype(np.float64).astype(np.int64)
    except ValueError:
        line, k = next((i, j) for i, r in enumerate(table) for j, v in enumerate(r) if not _is_count(v))
        raise ValueError(f"{path}, line {line + 2}: {names[k]} is {table[line, k]!r}, not a count {DAMAGED}") from None


def _is_count(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
