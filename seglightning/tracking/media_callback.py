"""``TrackerMedia``: the one callback through which media reach every active tracker.

- Overlays (image | ground truth | prediction) of a fixed seeded set of validation images, every
  ``every_n_epochs`` epochs and at the end of fit: PNGs in ``<run_dir>/overlays`` (see
  :class:`~seglightning.callbacks.OverlayImages`), then handed to each logger.
- At the end of fit, the per-class table (IoU, Dice, boundary F1, ground-truth pixels) and the
  row-normalised confusion matrix of the **last validation epoch** of this fit: the state of the
  module's ``metrics["val"]`` is copied (all-reduced across processes) in
  ``on_validation_epoch_end``, before the module computes and resets it, so the table matches
  ``metrics.json["final"]``. Written to ``<run_dir>/per_class.csv`` and
  ``<run_dir>/confusion_matrix.png``, then handed to each logger.

A logger takes part by implementing :class:`~seglightning.tracking.media.MediaLogger`; the CSV
logger does not (the files are in the run dir already).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L

from ..callbacks import OverlayImages
from .media import MediaLogger, Overlay, class_report


def _val_state(metrics: Any) -> dict[str, Any]:
    """Confusion matrix and per-class boundary F1 of an ``EvaluationMetrics``, summed over processes."""
    confusion, bf1 = metrics.confusion, metrics.bf1
    with confusion.sync_context(), bf1.sync_context():
        confmat = confusion.confmat.detach().cpu().numpy().copy()
        per_class = bf1.per_class().detach().cpu().numpy().reshape(len(bf1.tolerances), -1)
    if len(bf1.tolerances) == 1:
        columns = {"bF1": per_class[0]}
    else:
        columns = {f"bF1@{t:g}px": row for t, row in zip(bf1.tolerances, per_class)}
    return {"confmat": confmat, "bf1": columns, "class_names": list(metrics.class_names)}


class TrackerMedia(OverlayImages):
    """Overlays during training, per-class table and confusion matrix at the end; to every tracker."""

    def __init__(self, run_dir: Path, num_images: int = 4, every_n_epochs: int = 0, seed: int = 0):
        super().__init__(Path(run_dir) / "overlays", num_images, every_n_epochs, seed)
        self.run_dir = Path(run_dir)
        self._val: dict[str, Any] | None = None

    def _render(self, trainer: L.Trainer, pl_module: L.LightningModule, tag: str) -> list[Overlay]:
        overlays = super()._render(trainer, pl_module, tag)
        if overlays:
            names = list(pl_module.metrics["val"].class_names)
            for logger in _media_loggers(trainer):
                logger.log_overlays(overlays, names, trainer.global_step)
        return overlays

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._val = _val_state(pl_module.metrics["val"])  # on every process: the all-reduce is collective

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_fit_end(trainer, pl_module)
        if self._val is None or not trainer.is_global_zero:
            return
        report = class_report(self._val["confmat"], self._val["bf1"], self._val["class_names"], self.run_dir)
        for logger in _media_loggers(trainer):
            logger.log_class_report(report, trainer.global_step)


def _media_loggers(trainer: L.Trainer) -> list[MediaLogger]:
    return [lg for lg in trainer.loggers if isinstance(lg, MediaLogger)]

