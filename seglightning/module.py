"""The shared semantic-segmentation loop: any registered model x any loss x the metric suite.

The loop knows no architecture or loss: the model returns ``{"logits", ...aux}``; the loss gets
``(logits, mask, **aux outputs, **batch extras)`` and owns every term (auxiliary heads included,
through the model's ``loss_terms``); metrics are dataset-level (DESIGN.md). Logged names:
``train/loss`` (+ ``train/loss/<term>``), ``val/loss``, ``val/mIoU``, ``val/mDice``, ``val/bF1``
(+ ``val/bF1@<t>px`` for several tolerances), ``val/pixel_acc``, ``val/IoU/<class>``; the same under
``test/``. Checkpoints carry the RNG state so a resumed run continues bit-identically.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn
from torchmetrics import MeanMetric

from .losses import build_loss
from .metrics import BoundaryF1, ConfusionMetrics
from .models import build_model
from .optim import build_optimizer, build_scheduler

BATCH_KEYS = ("image", "mask", "meta", "targets")


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
                raise ValueError("this loss needs class frequencies but none were given; build the module from a datamodule (class_frequency=dm.class_frequency)")
            self.value = [float(v) for v in np.asarray(self.fn())]
        return np.asarray(self.value)


SCHEDULE_VALUES = ("start", "step", "min", "max")


def with_model_terms(main: list[dict[str, Any]], model_terms: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The user's loss terms plus the terms a model owns (``model.loss_terms``).

    A model term with ``name: None`` means "the main loss on another output": every main term is
    repeated on the term's ``input`` (e.g. ``aux_logits``) with its weight, or its schedule, scaled
    by the term's weight (the auxiliary-head recipe of FastFCN/torchvision, 0.4).
    """
    out = [dict(t) for t in main]
    for term in model_terms:
        if term.get("name") is not None:
            out.append(dict(term))
            continue
        scale = float(term.get("weight", 1.0))
        for m in main:
            copy = {**m, "input": term["input"]}
            if m.get("schedule"):
                copy["schedule"] = {k: v * scale if k in SCHEDULE_VALUES and v is not None else v for k, v in m["schedule"].items()}
            elif isinstance(m.get("weight", 1.0), (int, float)):
                copy["weight"] = scale * m.get("weight", 1.0)
            else:  # a non-numeric `weight` is the loss's class weighting (e.g. wce median_frequency)
                copy["kwargs"] = {**m.get("kwargs", {}), "weight": m["weight"]}
                copy["weight"] = scale
            out.append(copy)
    return out


def boundary_tolerance(model: nn.Module, configured: float | Sequence[float] | None) -> float | Sequence[float]:
    """``module.bf1_tolerance`` if set, else the model's declared default (Gated-SCNN: 3, 5, 9,
    12 px), else DAVIS's 0.0075 of the image diagonal."""
    return configured if configured is not None else getattr(model, "bf1_tolerance", 0.0075)


class EvaluationMetrics(nn.Module):
    """Confusion-matrix scores, boundary F1 and the mean loss for one stage (val or test).

    Every state is a sum that all-reduces, so N processes give exactly the one-process metric
    values. The loss is the sample-weighted mean of batch losses over all processes (not a mean of
    per-process means); for a batch-pooled loss such as Dice it still depends on batch composition."""

    def __init__(self, num_classes: int, ignore_index: int, class_names: Sequence[str], bf1_tolerance: float | Sequence[float]):
        super().__init__()
        self.class_names = list(class_names)
        self.confusion = ConfusionMetrics(num_classes, ignore_index=ignore_index)
        self.tolerances = list(bf1_tolerance) if isinstance(bf1_tolerance, Sequence) else [bf1_tolerance]
        self.bf1 = BoundaryF1(num_classes, tolerance=bf1_tolerance, ignore_index=ignore_index)
        self.loss = MeanMetric()

    def update(self, preds: torch.Tensor, target: torch.Tensor, loss: torch.Tensor) -> None:
        self.confusion.update(preds, target)
        self.bf1.update(preds, target)
        self.loss.update(loss.detach(), weight=target.shape[0])

    def compute(self, prefix: str) -> dict[str, torch.Tensor]:
        scores = self.confusion.compute()
        out = {f"{prefix}/{k}": scores[k] for k in ("mIoU", "mDice", "pixel_acc")}
        out[f"{prefix}/loss"] = self.loss.compute()
        for name, iou in zip(self.class_names, scores["IoU"]):
            out[f"{prefix}/IoU/{name}"] = iou
        bf1 = self.bf1.compute()
        if isinstance(bf1, dict):
            for t, v in bf1.items():
                out[f"{prefix}/bF1@{t:g}px"] = v
            out[f"{prefix}/bF1"] = bf1[self.tolerances[0]]
        else:
            out[f"{prefix}/bF1"] = bf1
        return out

    def reset(self) -> None:
        self.confusion.reset()
        self.bf1.reset()
        self.loss.reset()


class SegmentationModule(L.LightningModule):
    """The training loop shared by every semantic architecture (config: model, loss, optim, scheduler)."""

    def __init__(
        self,
        model: dict[str, Any],
        loss: Any,
        num_classes: int,
        ignore_index: int = 255,
        class_names: Sequence[str] | None = None,
        palette: Sequence[Sequence[int]] | None = None,
        optim: dict[str, Any] | None = None,
        scheduler: dict[str, Any] | None = None,
        bf1_tolerance: float | Sequence[float] | None = None,
        channels_last: bool = False,
        class_frequency: Callable[[], Any] | Sequence[float] | None = None,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["class_frequency"])
        model_kwargs = {k: v for k, v in model.items() if k != "name"}
        if model_kwargs.pop("num_classes", num_classes) != num_classes:
            raise ValueError(f"model.num_classes={model['num_classes']} but the dataset has {num_classes} classes; remove model.num_classes (it is set from the data)")
        self.model = build_model(model["name"], num_classes=num_classes, **model_kwargs)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        terms = loss if isinstance(loss, list) else loss.get("terms") if isinstance(loss, dict) and "terms" in loss else [loss if isinstance(loss, dict) else {"name": loss}]
        spec = with_model_terms(list(terms), getattr(self.model, "loss_terms", []))
        frequency = _Memo(class_frequency)
        self.loss = build_loss(spec, ignore_index=ignore_index, num_classes=num_classes, class_frequency=frequency)
        self.hparams["class_frequency"] = frequency.value  # persisted so a checkpoint rebuilds the same loss
        self.requires = tuple(sorted(set(self.loss.requires) | set(getattr(self.model, "requires", ()))))
        names = list(class_names) if class_names else [str(c) for c in range(num_classes)]
        tolerance = boundary_tolerance(self.model, bf1_tolerance)
        self.metrics = nn.ModuleDict({s: EvaluationMetrics(num_classes, ignore_index, names, tolerance) for s in ("val", "test")})

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.hparams.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        return self.model(image)

    def _loss(self, out: dict[str, torch.Tensor], batch: dict[str, Any]) -> torch.Tensor:
        aux = {k: v for k, v in out.items() if k != "logits"}
        return self.loss(out["logits"], batch["mask"], **aux, **batch_extras(batch))

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss = self._loss(self(batch["image"]), batch)
        bs = batch["image"].shape[0]
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=bs)
        for name, value in self.loss.last_terms.items():
            self.log(f"train/loss/{name}", value, on_step=False, on_epoch=True, batch_size=bs)
        return loss

    def _eval_step(self, batch: dict[str, Any], stage: str) -> dict[str, torch.Tensor]:
        out = self(batch["image"])
        preds = out["logits"].argmax(1)
        self.metrics[stage].update(preds, batch["mask"], self._loss(out, batch))
        return {"preds": preds}

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, torch.Tensor]:
        return self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, torch.Tensor]:
        return self._eval_step(batch, "test")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self(batch["image"])["logits"].argmax(1)

    def _log_metrics(self, stage: str) -> None:
        self.log_dict(self.metrics[stage].compute(stage), sync_dist=False)  # states are already all-reduced
        self.metrics[stage].reset()

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test")

    def on_train_epoch_start(self) -> None:
        self.loss.set_epoch(self.current_epoch)

    def configure_optimizers(self) -> Any:
        optim = dict(self.hparams.optim or {"name": "adamw", "lr": 1e-3})
        optimizer = build_optimizer(self.parameters(), **optim)
        sched = dict(self.hparams.scheduler or {"name": "constant"})
        return {"optimizer": optimizer, "lr_scheduler": build_scheduler(optimizer, int(self.trainer.estimated_stepping_batches), **sched)}

    # RNG state travels with the checkpoint (python, numpy, torch CPU and CUDA), stored as plain
    # types and tensors so that checkpoints load with torch.load(weights_only=True)
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        checkpoint["rng_state"] = {
            "python": random.getstate(),
            "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("rng_state")
        if state is None:
            return
        random.setstate(state["python"])
        kind, keys, pos, has_gauss, gauss = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
