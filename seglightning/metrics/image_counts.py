"""Per-image counts of one evaluation pass: what the suite's snapshot writes to ``per_image.csv``
(:func:`seglightning.tracking.media.per_image_table`) and the sweep report reads back
(:func:`seglightning.sweeps.per_image.read_image_counts`) for its paired bootstrap. numpy only: the
report imports it without torch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .functional import dice, iou


@dataclass(frozen=True)
class ImageCounts:
    """Per image (each once) and class, the TP/FP/FN pixel counts (void pixels excluded); IoU and
    Dice follow from them. ``bf1``: boundary F per column name (NaN where the class is in neither
    mask); ``blocks``: every other family's per-image columns, block name -> (column labels, None for
    the class names, and values ``[N, k]``), e.g. ``bIoU.I`` / ``bIoU.U`` (Boundary IoU counts)."""

    ids: list[str]  # the samples' ``meta["id"]``
    tp: np.ndarray  # int64 [N, C]
    fp: np.ndarray  # int64 [N, C]
    fn: np.ndarray  # int64 [N, C]
    bf1: dict[str, np.ndarray] = field(default_factory=dict)  # column name -> F [N, C]
    blocks: dict[str, tuple[list[str] | None, np.ndarray]] = field(default_factory=dict)

    @property
    def valid_pixels(self) -> np.ndarray:
        """Non-void ground-truth pixels per image ``[N]``."""
        return (self.tp + self.fn).sum(1)

    def iou(self) -> np.ndarray:
        """:func:`~seglightning.metrics.functional.iou` per image and class, NaN where the union is empty."""
        return iou(self.tp, self.fp, self.fn)

    def dice(self) -> np.ndarray:
        """:func:`~seglightning.metrics.functional.dice` per image and class, NaN where both masks are empty."""
        return dice(self.tp, self.fp, self.fn)

    def select(self, ids: Sequence[str]) -> ImageCounts:
        """The rows of ``ids``, in that order."""
        where = {i: k for k, i in enumerate(self.ids)}
        rows = [where[i] for i in ids]
        return ImageCounts(
            list(ids), self.tp[rows], self.fp[rows], self.fn[rows], {k: v[rows] for k, v in self.bf1.items()},
            {k: (labels, v[rows]) for k, (labels, v) in self.blocks.items()},
        )
