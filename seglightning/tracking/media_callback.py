"""``TrackerMedia``: the one callback through which media reach every active tracker.

- Overlays (image | ground truth | prediction) of a fixed seeded set of validation images, every
  ``every_n_epochs`` epochs and at the end of fit: PNGs in ``<run_dir>/overlays`` (see
  :class:`~seglightning.tracking.overlays.OverlayImages`), then handed to each logger.
- At the end of fit, the per-class table (IoU, Dice, boundary F1, ground-truth pixels) and the
  row-normalised confusion matrix of the **last validation epoch** of this fit: the snapshot that
  the module's ``metrics["val"]`` keeps of its last pass (``EvaluationMetrics.last``, all-reduced
  across processes before the reset), so the table matches ``metrics.json["final"]``.
  Written to ``<run_dir>/per_class.csv`` and
  ``<run_dir>/confusion_matrix.png``, then handed to each logger.
- ``<run_dir>/per_image.csv``: per image of the final validation pass (at the end of fit), replaced
  by the test pass's when the run is tested (the images the sweep report bootstraps over).

A logger takes part by implementing :class:`~seglightning.tracking.media.MediaLogger`; the CSV
logger does not (the files are in the run dir already).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L

from ..run.directory import OVERLAYS_DIR
from .media import MediaLogger, Overlay, class_report, per_image_table
from .overlays import OverlayImages


class TrackerMedia(OverlayImages):
    """Overlays during training, per-class table and confusion matrix at the end; to every tracker."""

    def __init__(self, run_dir: Path, num_images: int = 4, every_n_epochs: int = 0, seed: int = 0):
        super().__init__(Path(run_dir) / OVERLAYS_DIR, num_images, every_n_epochs, seed)
        self.run_dir = Path(run_dir)

    def _render(self, trainer: L.Trainer, pl_module: L.LightningModule, tag: str) -> list[Overlay]:
        overlays = super()._render(trainer, pl_module, tag)
        if overlays:
            names = list(pl_module.metrics["val"].class_names)
            for logger in _media_loggers(trainer):
                logger.log_overlays(overlays, names, trainer.global_step)
        return overlays

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_fit_end(trainer, pl_module)
        snapshot = pl_module.metrics["val"].last
        if snapshot is None or not trainer.is_global_zero:
            return
        report = class_report(snapshot, self.run_dir)
        per_image_table(snapshot, self.run_dir, "val")
        for logger in _media_loggers(trainer):
            logger.log_class_report(report, trainer.global_step)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        snapshot = pl_module.metrics["test"].last
        if snapshot is not None and trainer.is_global_zero:
            split = getattr(trainer.datamodule, "splits", {}).get("test", "test")  # "val" without a test split
            per_image_table(snapshot, self.run_dir, split)


def _media_loggers(trainer: L.Trainer) -> list[MediaLogger]:
    return [lg for lg in trainer.loggers if isinstance(lg, MediaLogger)]
