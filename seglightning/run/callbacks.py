"""Callbacks of the shared loop: metric history and config-in-checkpoint (overlays and other media:
``tracking/``)."""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch

from ..utils.redact import redact


def _scalars(metrics: dict[str, Any], prefix: str) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if k.startswith(prefix) and torch.as_tensor(v).numel() == 1}


class MetricHistory(L.Callback):
    """Keeps every epoch's validation metrics (saved in checkpoints, so it survives a resume)."""

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        row = {
            "epoch": trainer.current_epoch,
            "step": trainer.global_step,
            **_scalars(trainer.callback_metrics, "val/"),
        }
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
    """Stores the resolved run config in every checkpoint, so eval/predict need only the file;
    tokens redacted there and in the hyperparameters (:mod:`seglightning.utils.redact`)."""

    def __init__(self, config: dict[str, Any]):
        self.config = config

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint["seglightning_config"] = redact(self.config)
        if "hyper_parameters" in checkpoint:
            checkpoint["hyper_parameters"] = redact(checkpoint["hyper_parameters"])
