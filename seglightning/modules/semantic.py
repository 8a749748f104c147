"""The shared semantic-segmentation loop: any registered model x any loss x the metric suite.

The loop knows no architecture or loss: the model returns ``{"logits", ...aux}``; the loss gets
``(logits, mask, **aux outputs, **batch extras)`` and owns every term (auxiliary heads included,
through the model's ``loss_terms``); metrics are dataset-level (docs/design.md). Logged names:
``train/loss_step``, ``train/loss_epoch`` (+ ``train/loss/<term>``, epoch means), ``val/loss``,
``val/mIoU``, ``val/mDice``, ``val/bF1`` (+ ``val/bF1@<t>px``, or ``val/bF1@<f>diag`` for a
fraction of the diagonal, when several are logged), ``val/bIoU`` (likewise ``val/bIoU@<r>``),
``val/ECE``, ``val/Brier``, ``val/NLL`` (on the inference mode's probabilities), ``val/pixel_acc``,
``val/IoU/<class>`` (the families of ``module.metrics``); the
same under ``test/``. Checkpoints carry the RNG state so a resumed run continues bit-identically.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..losses import build_loss
from ..losses.model_terms import with_model_terms
from ..models import build_model
from ..models.contract import contract_of
from .base import BaseSegmentationModule

BATCH_KEYS = ("image", "mask", "meta", "targets", "instance_ids")


def batch_extras(batch: dict[str, Any]) -> dict[str, Any]:
    """The extras in a batch (everything but image, mask, meta and instance targets)."""
    return {k: v for k, v in batch.items() if k not in BATCH_KEYS}


class _Memo:
    """Calls ``fn`` at most once and remembers the value (class frequencies for ``wce``)."""

    def __init__(self, fn: Callable[[], Any] | Sequence[float] | None):
        self.fn, self.value = fn, None if callable(fn) or fn is None else list(fn)

    def __call__(self) -> np.ndarray:
        if self.value is None:
            if self.fn is None:
                raise ValueError(
                    "this loss needs class frequencies but none were given; "
                    "build the module from a datamodule (class_frequency=dm.class_frequency)"
                )
            self.value = [float(v) for v in np.asarray(self.fn())]
        return np.asarray(self.value)


class SegmentationModule(BaseSegmentationModule):
    """The training loop shared by every semantic architecture (config: model, loss, optim, scheduler)."""

    def __init__(self, **kwargs: Any):
        """``BaseSegmentationModule``'s arguments."""
        super().__init__(**kwargs)
        hp, contract = self.hparams, contract_of(self.model)
        spec = with_model_terms(hp.loss, list(contract.loss_terms))
        frequency = _Memo(kwargs.get("class_frequency"))  # not a hyperparameter: a callable
        self.loss = build_loss(
            spec, ignore_index=hp.ignore_index, num_classes=hp.num_classes, class_frequency=frequency
        )
        hp["class_frequency"] = frequency.value  # persisted so a checkpoint rebuilds the same loss
        self.requires = tuple(sorted(set(self.loss.requires) | set(contract.requires)))

    def build_network(self, name: str, options: dict[str, Any]) -> nn.Module:
        return build_model(name, num_classes=self.hparams.num_classes, **options)

    def _loss(self, out: dict[str, torch.Tensor], batch: dict[str, Any]) -> torch.Tensor:
        aux = {k: v for k, v in out.items() if k != "logits"}
        return self.loss(out["logits"], batch["mask"], **aux, **batch_extras(batch))

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss = self._loss(self(batch["image"]), batch)
        return self._record_training_loss(loss, self.loss.last_terms, batch, batch_idx)

    def _eval_step(self, batch: dict[str, Any], stage: str) -> dict[str, torch.Tensor]:
        out = self(batch["image"])  # the loss is the whole-image one; predictions follow module.inference
        logits = self.infer(batch["image"], out["logits"])  # its softmax: the inference mode's probabilities
        preds = logits.argmax(1)
        loss = self._loss(out, batch)
        self.metrics[stage].update(
            preds, batch["mask"], loss, batch.get("meta"), scores=logits, instance_ids=batch.get("instance_ids")
        )
        return {"preds": preds}

    def set_epoch_state(self) -> None:
        self.loss.set_epoch(self.current_epoch)
