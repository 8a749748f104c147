"""Predictions side by side: ``gallery.png`` (and the HTML gallery) and each cell's worst images.

Every run saves its predictions for the same images (``predictions/`` of the run dir, written by
:mod:`seglightning.tracking.predictions`: index PNGs in the dataset palette, the ground truth, the
image). The gallery shows, at one seed (the smallest seed that the most cells saved predictions
for, or the one asked for), a row per saved image: image | ground truth | each cell's prediction.
In a prediction, wrong pixels in the ground truth's Boundary IoU band (:mod:`seglightning.metrics.band`,
the band the bIoU metric counts: pixels of a class within ``d = max(1, round(0.02 × image diagonal))``
px, Chebyshev distance, of another label, of void or of the image frame) are painted in
:data:`BOUNDARY_COLOUR`, other wrong pixels in :data:`OTHER_COLOUR`, and correct pixels keep their
class colour, faded. Rows are ordered by how much the cells disagree on the image: the standard
deviation over cells of the image's mIoU (``per_image.csv`` of the same runs; the share of pixels on
which the cells' predictions differ when a run has no per-image table).

:func:`worst_images`: per cell, the 5 images of lowest mIoU (mean over the cell's seeds of the
image's mean IoU over the classes present in its ground truth or prediction, from ``per_image.csv``).

Reads only files (numpy, PIL, matplotlib; OpenCV for the band): no torch, no dataset.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from ..metrics.band import band_width, label_bands
from ..metrics.functional import mean_iou
from ..run.directory import PREDICTIONS_DIR, PREDICTIONS_INDEX, write_csv
from .cells import Cell
from .per_image import read_image_counts
from .runs import Run

BOUNDARY_COLOUR = (255, 215, 0)  # gold: wrong pixels inside the boundary band
OTHER_COLOUR = (230, 0, 230)  # magenta: other wrong pixels
BAND_RATIO = 0.02  # Boundary IoU's dilation ratio (Cheng et al., CVPR 2021)
WORST = 5
FADE = 0.5  # correct pixels: class colour blended halfway to white


@dataclass
class GalleryRow:
    """One saved image: its picture, ground truth and each cell's prediction (None: not saved)."""

    image_id: str
    disagreement: float
    image: np.ndarray  # uint8 [H,W,3]
    truth: np.ndarray  # uint8 [H,W,3], the ground truth in the palette
    predictions: list[np.ndarray | None]  # uint8 [H,W,3], errors highlighted
    errors: list[tuple[float, float] | None]  # share of valid pixels wrong in the band, elsewhere


@dataclass
class Gallery:
    seed: int | None
    labels: list[str]  # one per cell, in cell order
    rows: list[GalleryRow] = field(default_factory=list)
    measure: str = ""  # what orders the rows
    band: str = ""  # how the boundary band was drawn


@dataclass(frozen=True)
class Worst:
    label: str
    images: list[tuple[str, float, bool]]  # (id, mIoU, pictured in the gallery)


def cell_label(key: Sequence[str], columns: Sequence[str]) -> str:
    return ", ".join(f"{c}={v}" for c, v in zip(columns, key))


def read_index(run: Run) -> dict | None:
    path = run.path / PREDICTIONS_DIR / PREDICTIONS_INDEX
    try:
        index = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return index if isinstance(index, dict) and index.get("images") else None


def choose_seed(cells: Sequence[Cell], seed: int | None = None) -> int | None:
    """``seed`` if given, else the smallest seed among those most cells saved predictions for."""
    if seed is not None:
        return seed
    counts: dict[int | None, int] = {}
    for cell in cells:
        for s in {r.seed for r in cell.runs if read_index(r) is not None}:
            counts[s] = counts.get(s, 0) + 1
    if not counts:
        return None
    most = max(counts.values())
    return min((s for s, n in counts.items() if n == most), key=lambda s: (s is None, s or 0))


def boundary_band(truth: np.ndarray, ignore_index: int) -> np.ndarray:
    """The ground truth's Boundary IoU band at :data:`BAND_RATIO`: each pixel in the band of its own
    class (:func:`~seglightning.metrics.band.label_bands`); void pixels in none."""
    valid = truth != ignore_index
    classes = int(truth[valid].max()) + 1 if valid.any() else 0
    return label_bands(np.where(valid, truth, classes), classes, band_width(BAND_RATIO, *truth.shape))


def error_panel(
    pred: np.ndarray, truth: np.ndarray, lut: np.ndarray, ignore_index: int, band: np.ndarray
) -> tuple[np.ndarray, tuple[float, float]]:
    """The prediction in class colours (faded where correct), boundary errors and other errors in
    their colours; with the share of valid pixels that are boundary / other errors."""
    valid = truth != ignore_index
    wrong = (pred != truth) & valid
    panel = (lut[pred].astype(np.float32) * (1 - FADE) + 255.0 * FADE).astype(np.uint8)
    panel[wrong & band] = BOUNDARY_COLOUR
    panel[wrong & ~band] = OTHER_COLOUR
    n = max(int(valid.sum()), 1)
    return panel, (float((wrong & band).sum()) / n, float((wrong & ~band).sum()) / n)


def read_mask(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """An index PNG's indices and its palette as a [256, 3] table."""
    if not path.is_file():
        return None
    with Image.open(path) as im:
        palette = im.getpalette() or []
        indices = np.asarray(im if im.mode in ("P", "L") else im.convert("L"))
    lut = np.zeros((256, 3), np.uint8)
    table = np.asarray(palette[:768], np.uint8).reshape(-1, 3)
    lut[: len(table)] = table
    return indices.astype(np.int64), lut


def image_miou(run: Run) -> dict[str, float]:
    """``{image id: mIoU}`` from the run's ``per_image.csv`` (IoU per class from TP/FP/FN; the mean
    over classes present in the image's ground truth or prediction)."""
    read = read_image_counts(run.path)
    if read is None:
        return {}
    _, counts = read
    return dict(zip(counts.ids, mean_iou(counts.tp, counts.fp, counts.fn).tolist()))


def build_gallery(cells: Sequence[Cell], columns: Sequence[str], seed: int | None = None) -> Gallery | None:
    """The gallery at ``seed`` (module docstring); None when no run saved predictions."""
    seed = choose_seed(cells, seed)
    runs: list[Run | None] = []
    for cell in cells:
        runs.append(next((r for r in cell.runs if r.seed == seed and read_index(r) is not None), None))
    indexes = [read_index(r) if r is not None else None for r in runs]
    first = next((i for i in indexes if i is not None), None)
    if first is None:
        return None
    ignore = int(first.get("ignore_index", 255))
    scores = [image_miou(r) if r is not None else {} for r in runs]
    ids = list(dict.fromkeys(img["id"] for index in indexes if index for img in index["images"]))
    stems = {img["id"]: img["stem"] for index in indexes if index for img in index["images"]}
    gallery = Gallery(seed, [cell_label(c.key, columns) for c in cells])
    use_scores = all(any(i in s for s in scores if s) for i in ids) and sum(bool(s) for s in scores) >= 2
    gallery.measure = (
        "standard deviation over cells of the image's mIoU (per_image.csv)"
        if use_scores
        else "share of pixels on which the cells' predictions differ"
    )
    for image_id in ids:
        stem = stems[image_id]
        source = next(r for r, i in zip(runs, indexes) if i and any(img["id"] == image_id for img in i["images"]))
        folder = source.path / PREDICTIONS_DIR
        truth_read = read_mask(folder / f"{stem}_gt.png")
        if truth_read is None:
            continue
        truth, lut = truth_read
        picture_path = folder / f"{stem}_image.jpg"
        if picture_path.is_file():
            with Image.open(picture_path) as im:
                picture = np.asarray(im.convert("RGB"))
        else:
            picture = np.full((*truth.shape, 3), 128, np.uint8)
        band = boundary_band(truth, ignore)
        panels, errors, preds = [], [], []
        for run in runs:
            read = read_mask(run.path / PREDICTIONS_DIR / f"{stem}.png") if run is not None else None
            if read is None or read[0].shape != truth.shape:
                panels.append(None)
                errors.append(None)
                continue
            panel, err = error_panel(read[0], truth, lut, ignore, band)
            panels.append(panel)
            errors.append(err)
            preds.append(read[0])
        if use_scores:
            values = [s.get(image_id, np.nan) for s in scores if s]
            finite = [v for v in values if np.isfinite(v)]
            disagreement = float(np.std(finite)) if len(finite) > 1 else 0.0
        else:
            stack = np.stack(preds) if preds else np.zeros((1, *truth.shape))
            disagreement = float((stack != stack[:1]).any(0).mean())
        truth_rgb = lut[np.clip(truth, 0, 255)]
        gallery.rows.append(GalleryRow(image_id, disagreement, picture, truth_rgb, panels, errors))
    gallery.rows.sort(key=lambda row: -row.disagreement)
    width = f"{band_width(BAND_RATIO, *gallery.rows[0].truth.shape[:2])} px, " if gallery.rows else ""
    gallery.band = f"in the ground truth's Boundary IoU band ({width}{BAND_RATIO:g} of the diagonal)"
    return gallery


def worst_images(cells: Sequence[Cell], columns: Sequence[str], gallery: Gallery | None, n: int = WORST) -> list[Worst]:
    """Per cell, its ``n`` images of lowest mIoU (mean over the cell's seeds; module docstring)."""
    pictured = {row.image_id for row in gallery.rows} if gallery else set()
    out = []
    for cell in cells:
        per_seed = [s for s in (image_miou(r) for r in cell.runs) if s]
        if not per_seed:
            continue
        ids = list(dict.fromkeys(i for s in per_seed for i in s))
        means = {}
        for i in ids:
            values = [s[i] for s in per_seed if i in s and np.isfinite(s[i])]
            if values:
                means[i] = float(np.mean(values))
        ranked = sorted(means.items(), key=lambda kv: (kv[1], kv[0]))[:n]
        out.append(Worst(cell_label(cell.key, columns), [(i, v, i in pictured) for i, v in ranked]))
    return out


def write_worst_csv(path: Path, worst: Sequence[Worst]) -> Path:
    """``worst_images.csv``: per cell its images from the worst mIoU up, and whether each is pictured."""
    rows = [
        [w.label, rank, image_id, value, pictured]
        for w in worst
        for rank, (image_id, value, pictured) in enumerate(w.images, 1)
    ]
    return write_csv(path, ["cell", "rank", "id", "mIoU", "in_gallery"], rows)


def gallery_figure(gallery: Gallery) -> Figure:
    """``gallery.png``: a row per image (most disagreement first), image | ground truth | cells."""
    ncols = 2 + len(gallery.labels)
    nrows = max(len(gallery.rows), 1)
    h, w = gallery.rows[0].truth.shape[:2] if gallery.rows else (1, 1)
    cell_w = 2.0
    cell_h = cell_w * h / w
    fig = Figure(figsize=(cell_w * ncols, cell_h * nrows + 1.2), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    titles = ["image", "ground truth", *gallery.labels]
    for r, row in enumerate(gallery.rows):
        panels = [row.image, row.truth, *row.predictions]
        for c, panel in enumerate(panels):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if panel is None:
                ax.text(0.5, 0.5, "not saved", ha="center", va="center", fontsize=7, transform=ax.transAxes)
            else:
                ax.imshow(panel, interpolation="nearest")
            if r == 0:
                ax.set_title(titles[c], fontsize=7)
            if c == 0:
                ax.set_ylabel(f"{row.image_id}\n{row.disagreement:.3f}", fontsize=7)
    fig.suptitle(
        f"seed {gallery.seed}: rows by disagreement ({gallery.measure}); gold: wrong {gallery.band}; "
        "magenta: other wrong pixels; correct pixels faded class colours",
        fontsize=8,
        wrap=True,
    )
    return fig
