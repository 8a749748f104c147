"""Callbacks of the shared loop: metric history, config-in-checkpoint, overlay pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from PIL import Image

from .data.transforms import IMAGENET_MEAN, IMAGENET_STD
from .tracking.media import Overlay, denormalize, overlay_panel


def _scalars(metrics: dict[str, Any], prefix: str) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if k.startswith(prefix) and torch.as_tensor(v).numel() == 1}


class MetricHistory(L.Callback):
    """Keeps every epoch's validation metrics (saved in checkpoints, so it survives a resume)."""

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        row = {"epoch": trainer.current_epoch, "step": trainer.global_step, **_scalars(trainer.callback_metrics, "val/")}
        self.history = [r for r in self.history if r["epoch"] != row["epoch"]] + [row]

    def best(self, monitor: str, mode: str) -> dict[str, float] | None:
        rows = [r for r in self.history if monitor in r and not np.isnan(r[monitor])]
        if not rows:
            return None
        pick = max if mode == "max" else min
        return pick(rows, key=lambda r: r[monitor])  # first best epoch on ties, as ModelCheckpoint

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict["history"])


class ConfigInCheckpoint(L.Callback):
    """Stores the resolved run config in every checkpoint, so eval/predict need only the file."""

    def __init__(self, config: dict[str, Any]):
        self.config = config

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint["seglightning_config"] = self.config


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
                Image.fromarray(panel).save(path)
                self.last.append(Overlay(name, image, target, pred, panel, path))
        pl_module.train(was_training)
        return self.last

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking and self.every_n_epochs > 0 and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self._render(trainer, pl_module, f"epoch{trainer.current_epoch:03d}")

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._render(trainer, pl_module, "final")
