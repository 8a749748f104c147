"""Media for the run dir and the trackers: overlay pictures (image | ground truth | prediction, in the
dataset's class colours), the confusion-matrix plot, the per-class and per-image tables, and the
sweep report's tables and plots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..metrics.evaluation import EvaluationSnapshot
from ..metrics.functional import confusion_counts, dice, iou, ratio
from ..run.directory import CONFUSION_FILE, PER_CLASS_FILE, PER_IMAGE_FILE, RELIABILITY_FILE, write_csv, write_figure

VOID_COLOUR = (255, 255, 255)


def colourize(mask: np.ndarray, palette: Sequence[Sequence[int]], ignore_index: int = 255) -> np.ndarray:
    """RGB uint8 [H,W,3] of an index mask; void pixels white, indices past the palette black."""
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(palette)] = np.asarray(palette, np.uint8)[:256]
    if 0 <= ignore_index < 256:
        lut[ignore_index] = VOID_COLOUR
    return lut[np.clip(mask, 0, 255).astype(np.uint8)]


def overlay_panel(
    image: np.ndarray,
    target: np.ndarray,
    pred: np.ndarray,
    palette: Sequence[Sequence[int]],
    ignore_index: int = 255,
    alpha: float = 0.6,
) -> np.ndarray:
    """[H, 3W, 3] uint8: the image, the ground truth blended over it, the prediction blended over it."""

    def blend(mask: np.ndarray) -> np.ndarray:
        colour = colourize(mask, palette, ignore_index).astype(np.float32)
        return (alpha * colour + (1 - alpha) * image.astype(np.float32)).astype(np.uint8)

    return np.concatenate([image, blend(target), blend(pred)], axis=1)


def denormalize(image: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """uint8 [H,W,3] from a normalised float [3,H,W] (albumentations' Normalize with max 255)."""
    x = image.transpose(1, 2, 0) * np.asarray(std) + np.asarray(mean)
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Overlay:
    """One rendered validation image: the arrays (for trackers with native masks) and its PNG."""

    name: str
    image: np.ndarray  # uint8 [H,W,3]
    target: np.ndarray  # int [H,W], void pixels = ignore_index
    pred: np.ndarray  # int [H,W]
    panel: np.ndarray  # uint8 [H,3W,3], see overlay_panel
    path: Path  # the panel as PNG in the run dir


@dataclass(frozen=True)
class ClassReport:
    """Per-class scores and the confusion matrix of one evaluation, with the files written for them."""

    columns: list[str]  # "class", "IoU", "Dice", "bF1" (or "bF1@<t>px" per tolerance), "bIoU" (...), "pixels"
    rows: list[list[Any]]  # one row per class, in class order
    table_path: Path  # CSV of columns/rows
    figure_path: Path  # PNG of the row-normalised confusion matrix
    figures: dict[str, Path] = field(default_factory=dict)  # other plots by tracker key ("val/reliability")


@dataclass(frozen=True)
class ReportMedia:
    """A sweep report as the trackers receive it (built by :mod:`seglightning.sweeps.tracker`)."""

    tables: dict[
        str, tuple[list[str], list[list[Any]]]
    ]  # "runs", "results", "comparison" -> (columns, rows), None = missing
    texts: dict[str, str]  # "results", "comparison" -> the markdown of results.md / comparison.md
    images: dict[str, Path]  # "heatmap", "bars", "paired" -> PNG
    files: dict[str, Path]  # every file of the report by its name ("results.csv", ..., "report.html")


@runtime_checkable
class MediaLogger(Protocol):
    """What a Lightning logger implements to receive media from :class:`TrackerMedia` and sweep
    reports from ``seglightning-report --logger``."""

    def log_overlays(self, overlays: Sequence[Overlay], class_names: Sequence[str], step: int) -> None: ...

    def log_class_report(self, report: ClassReport, step: int) -> None: ...

    def log_report(self, report: ReportMedia) -> None:
        """Log a sweep report: tables as the tracker's tables where it has them, plots as images."""
        ...


def class_report(snapshot: EvaluationSnapshot, out_dir: Path) -> ClassReport:
    """Write ``per_class.csv`` and ``confusion_matrix.png`` to ``out_dir`` and return their content.

    The snapshot's ``confmat`` is the dataset-level ``[C, C]`` confusion matrix, rows ground truth
    (docs/design.md: IoU and Dice come from it, NaN for a class absent from ground truth and prediction);
    its ``bf1`` maps a column name to per-class boundary F1 (NaN: class never seen), its ``columns``
    the other families' per-class scores (``bIoU``, ...). With the calibration family on, also
    ``reliability.png`` (:func:`plot_reliability`), in ``figures`` as ``val/reliability``.
    """
    confmat, class_names = snapshot.confmat, snapshot.class_names
    extra = {**snapshot.bf1, **snapshot.columns}
    counts = confusion_counts(np.asarray(confmat, np.float64))
    class_iou, class_dice = iou(*counts).astype(np.float32), dice(*counts).astype(np.float32)  # as logged
    columns = ["class", "IoU", "Dice", *extra, "pixels"]
    pixels = confmat.sum(1)
    rows = [
        [name, float(class_iou[c]), float(class_dice[c]), *(v[c].item() for v in extra.values()), int(pixels[c])]
        for c, name in enumerate(class_names)
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    table_path = write_csv(out_dir / PER_CLASS_FILE, columns, rows)
    figure_path = out_dir / CONFUSION_FILE
    plot_confusion(confmat, class_names, figure_path)
    figures = {}
    if snapshot.reliability is not None:
        figures["val/reliability"] = plot_reliability(snapshot.reliability, out_dir / RELIABILITY_FILE)
    return ClassReport(columns, rows, table_path, figure_path, figures)


def per_image_table(snapshot: EvaluationSnapshot, out_dir: Path, split: str) -> Path | None:
    """Write ``per_image.csv`` for the pass of ``snapshot`` on ``split``: per image (sorted by id)
    ``split``, ``id``, ``valid_pixels``, then per class ``IoU/<c>``, ``Dice/<c>``, ``<bF1>/<c>``
    (NaN: class in neither mask) and the pixel counts ``TP/<c>``, ``FP/<c>``, ``FN/<c>`` (void
    excluded) that the sweep report's bootstrap resamples, then each other family's blocks
    (``bIoU/<c>`` = ``bIoU.I/<c> / bIoU.U/<c>`` with the band counts, calibration sums
    ``cal.n/<k>`` ...; see ``metrics/evaluation.py``). None if the pass recorded no image."""
    per_image = snapshot.per_image
    if per_image is None:
        return None
    names = snapshot.class_names
    blocks: dict[str, tuple[Sequence[str], np.ndarray]] = {
        "IoU": (names, per_image.iou()),
        "Dice": (names, per_image.dice()),
        **{k: (names, v) for k, v in per_image.bf1.items()},
        "TP": (names, per_image.tp),
        "FP": (names, per_image.fp),
        "FN": (names, per_image.fn),
    }
    for kind, (_, values) in per_image.blocks.items():
        if kind.endswith(".U") and kind[:-2] + ".I" in per_image.blocks:  # intersection / union counts
            inter = per_image.blocks[kind[:-2] + ".I"][1]
            blocks[kind[:-2]] = (names, ratio(inter, values))
    blocks.update({k: (names if labels is None else labels, v) for k, (labels, v) in per_image.blocks.items()})
    header = ["split", "id", "valid_pixels", *(f"{kind}/{c}" for kind, (labels, _) in blocks.items() for c in labels)]
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [
        [split, image_id, int(per_image.valid_pixels[i]), *(v.item() for _, block in blocks.values() for v in block[i])]
        for i, image_id in enumerate(per_image.ids)
    ]
    return write_csv(out_dir / PER_IMAGE_FILE, header, rows)


def plot_reliability(reliability: dict[str, np.ndarray], path: Path) -> Path:
    """Reliability diagram as a PNG: per confidence bin the accuracy (bars) against the diagonal,
    the mean confidence (dots) and, below, the pixel count per bin (log scale)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    edges, count = np.asarray(reliability["edges"]), np.asarray(reliability["count"])
    centres, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    fig = Figure(figsize=(5, 6))
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.bar(centres, np.nan_to_num(reliability["accuracy"]), width, edgecolor="black", label="accuracy")
    top.plot(centres, reliability["confidence"], "o", color="C1", label="mean confidence")
    top.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    top.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy", title="reliability (valid pixels)")
    top.legend(fontsize=8, loc="upper left")
    bottom.bar(centres, count, width, edgecolor="black", color="C2")
    if count.any():
        bottom.set_yscale("log")
    bottom.set(xlabel="confidence (top-label probability)", ylabel="pixels")
    fig.tight_layout()
    return write_figure(path, fig)


def plot_confusion(confmat: np.ndarray, class_names: Sequence[str], path: Path) -> None:
    """Row-normalised confusion matrix (each ground-truth class sums to 1) as a PNG (matplotlib, Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = np.asarray(confmat, dtype=np.float64)
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    n = len(class_names)
    size = min(4 + 0.45 * n, 24)
    fig = Figure(figsize=(size, size * 0.85))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    im = ax.imshow(rates, vmin=0, vmax=1, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set(
        xticks=range(n),
        yticks=range(n),
        xlabel="prediction",
        ylabel="ground truth",
        title="confusion matrix (row-normalised)",
    )
    ax.set_xticklabels(class_names, rotation=90)
    ax.set_yticklabels(class_names)
    if n <= 30:
        for i, j in np.ndindex(n, n):
            ax.text(
                j,
                i,
                f"{rates[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if rates[i, j] > 0.5 else "black",
            )
    fig.tight_layout()
    write_figure(path, fig)
