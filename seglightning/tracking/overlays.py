"""``OverlayImages``: image | ground truth | prediction pictures of a fixed seeded set of validation
images, in the dataset's class colours (``TrackerMedia`` hands them to the trackers)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from PIL import Image

from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..run.directory import write_image
from .media import Overlay, denormalize, overlay_panel


class OverlayImages(L.Callback):
    """Writes image | ground truth | prediction PNGs for a fixed seeded set of validation images.

    Written every ``every_n_epochs`` epochs to ``<run_dir>/overlays/epoch<E>_<id>.png`` and when
    training ends to ``final_<id>.png``; ``_render`` returns them as :class:`Overlay` records and
    ``self.last`` keeps the latest (``TrackerMedia`` hands them to the trackers).
    """

    def __init__(self, out_dir: Path, num_images: int = 4, every_n_epochs: int = 0, seed: int = 0):
        self.out_dir, self.num_images, self.every_n_epochs, self.seed = Path(out_dir), num_images, every_n_epochs, seed
        self.last: list[Overlay] = []

    def _render(self, trainer: L.Trainer, pl_module: L.LightningModule, tag: str) -> list[Overlay]:
        dm = trainer.datamodule
        ds = dm.dataset("val")
        n = min(self.num_images, len(ds))
        if n == 0 or not trainer.is_global_zero:
            return []
        indices = sorted(np.random.default_rng(self.seed).choice(len(ds), n, replace=False).tolist())
        spec = dict(dm.transform_specs.get("val") or {})
        mean, std = spec.get("mean", IMAGENET_MEAN), spec.get("std", IMAGENET_STD)
        was_training = pl_module.training
        pl_module.eval()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.last = []
        with torch.no_grad():
            for i in indices:
                sample = ds[i]
                logits = pl_module(sample["image"][None].to(pl_module.device))["logits"]
                pred = logits.argmax(1)[0].cpu().numpy()
                image, target = denormalize(sample["image"].numpy(), mean, std), sample["mask"].numpy()
                panel = overlay_panel(image, target, pred, dm.palette, dm.ignore_index)
                name = str(sample["meta"].get("id", i))
                path = self.out_dir / f"{tag}_{name}.png"
                write_image(path, Image.fromarray(panel))
                self.last.append(Overlay(name, image, target, pred, panel, path))
        pl_module.train(was_training)
        return self.last

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if (
            not trainer.sanity_checking
            and self.every_n_epochs > 0
            and (trainer.current_epoch + 1) % self.every_n_epochs == 0
        ):
            self._render(trainer, pl_module, f"epoch{trainer.current_epoch:03d}")

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._render(trainer, pl_module, "final")
