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
            reader = csv.reader(f)
            header = next(reader, None)
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{path}: cannot be read as CSV ({error})") from error
    if not header or not rows:
        return None
    column = {name: i for i, name in enumerate(header)}
    classes = [k[len("TP/"):] for k in header if k.startswith("TP/")]
    names = [f"{kind}/{c}" for kind in ("TP", "FP", "FN") for c in classes]
    missing = [k for k in ["id", *names] if k not in column]
    if missing or not classes:
        raise ValueError(
            f"{path}: not a per-image table (missing column {(missing or ['TP/<class>'])[0]}; "
            f"header: {','.join(header)[:120]}); rerun the job's test pass or delete the file"
        )
    damaged = "(the file is cut short or damaged); rerun the job's test pass or delete the file"
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)} {damaged}")
    # one conversion of the string table (not an int() per value: 60 runs x 500 images x 57 counts)
    table = np.array(rows, dtype=object)[:, [column[k] for k in names]]
    try:
        values = table.astype(np.float64)
    except ValueError:
        line, k = next((i, j) for i, r in enumerate(table) for j, v in enumerate(r) if not _is_count(v))
        raise ValueError(f"{path}, line {line + 2}: {names[k]} is {table[line, k]!r}, not a count {damaged}") from None
    values = values.astype(np.int64).reshape(len(rows), 3, len(classes))
    split = rows[0][column["split"]] if "split" in column and rows[0][column["split"]] else "?"
    ids = [r[column["id"]] for r in rows]
    return split, ImageCounts(ids, values[:, 0], values[:, 1], values[:, 2])


def _is_count(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
