"""What every training loop shares: the model from the registry, one evaluation metric suite per
stage, the optimiser and per-step scheduler, metric logging, the non-finite loss guard
(:mod:`.nonfinite`), and the RNG state in checkpoints.

``SegmentationModule`` (semantic) and ``InstanceSegmentationModule`` (Mask R-CNN) subclass
:class:`BaseSegmentationModule`; a subclass builds its network in :meth:`build_network` and adds its
loss, its steps and any extra metrics.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from ..compat import should_update_logs
from ..metrics import EvaluationMetrics
from ..metrics.evaluation import DEFAULT_METRICS, needs_scores
from ..models.contract import contract_of
from ..optim import build_optimizer, build_scheduler
from .epoch_means import EpochMeans
from .inference import Inference
from .nonfinite import NonFiniteGuard

STAGES = ("val", "test")


def boundary_tolerance(model: nn.Module, configured: float | Sequence[float] | None) -> float | Sequence[float]:
    """``module.bf1_tolerance`` if set, else the model's declared default (Gated-SCNN: 0.0005,
    0.001875, 0.00375, 0.005 of the image diagonal), else DAVIS's 0.0075 of the diagonal."""
    if configured is not None:
        return configured
    declared = contract_of(model).bf1_tolerance
    return declared if declared is not None else 0.0075


def model_options(model: dict[str, Any], num_classes: int) -> dict[str, Any]:
    """The model config without ``name``; ``num_classes`` comes from the data (clear error if the
    config disagrees)."""
    options = {k: v for k, v in model.items() if k != "name"}
    if options.pop("num_classes", num_classes) != num_classes:
        raise ValueError(
            f"model.num_classes={model['num_classes']} but the dataset has {num_classes} classes; "
            "remove model.num_classes (it is set from the data)"
        )
    return options


class BaseSegmentationModule(L.LightningModule):
    """The shared part of every loop. Its constructor's arguments are the one list for every
    subclass (a subclass adds only its own, keyword-only, and passes the rest on as ``**kwargs``); all
    are saved as hyperparameters, so a checkpoint rebuilds the same module. ``loss``: the loss spec
    (``losses/spec.py``; Mask R-CNN: its mask head's); ``class_frequency``: the dataset's class
    frequencies (a callable, computed only if the loss needs them); ``metrics``: the metric families of
    ``module.metrics`` (``metrics/evaluation.py``), less the families that score probabilities when
    ``gives_scores`` is False; ``biou_dilation``: Boundary IoU's band width(s); ``nsd_tolerance``:
    the surface family's NSD tolerance(s) in pixels; ``nonfinite`` and ``max_nonfinite_skips``: the
    non-finite loss guard (:mod:`.nonfinite`)."""

    gives_scores = True  # _eval_step hands the suite per-pixel class logits (calibration)

    def __init__(
        self,
        *,
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
        inference: dict[str, Any] | None = None,
        metrics: Sequence[str] | None = None,
        biou_dilation: float | Sequence[float] = 0.02,
        nsd_tolerance: float | Sequence[float] = 2.0,
        nonfinite: str = "raise",
        max_nonfinite_skips: int = 10,
    ):
        super().__init__()
        # collects the subclass's constructor arguments as well (Lightning walks the __init__ frames)
        self.save_hyperparameters(ignore=["class_frequency"])
        self.nonfinite = NonFiniteGuard(nonfinite, max_nonfinite_skips)
        self.model = self.build_network(model["name"], model_options(model, num_classes))
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        names = list(class_names) if class_names else [str(c) for c in range(num_classes)]
        tolerance = boundary_tolerance(self.model, bf1_tolerance)
        families = [m for m in (metrics or DEFAULT_METRICS) if self.gives_scores or not needs_scores(m)]
        options = (families, biou_dilation, nsd_tolerance)
        self.metrics = nn.ModuleDict(
            {s: EvaluationMetrics(num_classes, ignore_index, names, tolerance, *options) for s in STAGES}
        )
        # module.metrics: "objects" needs the ground-truth instance map in val/test batches
        self.requires_instance_ids = "objects" in (metrics or ())
        self.inference = Inference.from_config(inference)  # evaluation, test and prediction (modules/inference.py)
        self.train_means = EpochMeans()  # train/loss_epoch and train/loss/<term>, logged once per epoch

    def build_network(self, name: str, options: dict[str, Any]) -> nn.Module:
        raise NotImplementedError

    def forward(self, image: torch.Tensor) -> dict[str, Any]:
        if self.hparams.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        return self.model(image)

    def infer(self, image: torch.Tensor, whole: torch.Tensor | None = None) -> torch.Tensor:
        """Logits under ``self.inference`` (``whole``: this image's plain forward logits, if at hand)."""
        return self.inference.logits(lambda x: self(x)["logits"], image, whole)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self.infer(batch["image"]).argmax(1)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, torch.Tensor]:
        return self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, torch.Tensor]:
        return self._eval_step(batch, "test")

    def _eval_step(self, batch: dict[str, Any], stage: str) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _record_training_loss(
        self, loss: torch.Tensor, terms: dict[str, torch.Tensor], batch: dict[str, Any], batch_idx: int
    ) -> torch.Tensor:
        """A training step's loss after the non-finite guard: ``train/loss_step`` on the steps the
        loggers write (every ``trainer.log_every_n_steps``; also the progress bar's value) and the
        epoch means of the loss and each term (accumulated every step, logged once per epoch)."""
        if self.nonfinite.check(self, loss, terms, batch, batch_idx):
            return loss  # skipped: its gradients are dropped before the optimizer step
        bs = batch["image"].shape[0]
        if should_update_logs(self.trainer):  # Lightning's own rule for writing step metrics
            self.log("train/loss_step", loss.detach(), prog_bar=True, on_step=True, on_epoch=False, batch_size=bs)
        self.train_means.add({"train/loss_epoch": loss, **{f"train/loss/{k}": v for k, v in terms.items()}}, bs)
        return loss

    def on_train_epoch_end(self) -> None:
        means = self.train_means.compute(lambda t: self.trainer.strategy.reduce(t, reduce_op="sum"))
        self.log_dict(means, on_step=False, on_epoch=True, sync_dist=False)  # already summed over the ranks

    def _log_metrics(self, stage: str) -> None:
        metrics = self.metrics[stage]
        self.log_dict(metrics.compute(stage), sync_dist=False)  # states are already all-reduced
        if not self.trainer.sanity_checking:
            metrics.snapshot()
        metrics.reset()

    # A pass starts from zero in memory of its own: ddp_spawn hands the module to its workers through
    # shared memory, so without the reset (which allocates new state tensors) every worker would add
    # into the same metric tensors.
    def _reset_metrics(self, stage: str) -> None:
        self.metrics[stage].reset()

    def on_validation_epoch_start(self) -> None:
        self._reset_metrics("val")

    def on_test_epoch_start(self) -> None:
        self._reset_metrics("test")

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test")

    def configure_optimizers(self) -> Any:
        optim = dict(self.hparams.optim or {"name": "adamw", "lr": 1e-3})
        optimizer = build_optimizer(self.parameters(), **optim)
        sched = dict(self.hparams.scheduler or {"name": "constant"})
        return {
            "optimizer": optimizer,
            "lr_scheduler": build_scheduler(optimizer, int(self.trainer.estimated_stepping_batches), **sched),
        }

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        self.nonfinite.before_step(self.model, batch_idx, self.trainer.accumulate_grad_batches)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.nonfinite.drop_gradients(self)

    def set_epoch_state(self) -> None:
        """Epoch-dependent state (a loss's weight schedule) for ``self.current_epoch``."""

    def on_train_epoch_start(self) -> None:
        self.train_means.reset()
        self.set_epoch_state()

    def on_train_start(self) -> None:
        # a run resumed inside an epoch skips on_train_epoch_start (and keeps its epoch's sums)
        self.set_epoch_state()

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
        checkpoint["nonfinite"] = self.nonfinite.state_dict()
        checkpoint["train_epoch_means"] = self.train_means.state_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "nonfinite" in checkpoint:
            self.nonfinite.load_state_dict(checkpoint["nonfinite"])
        if "train_epoch_means" in checkpoint:
            self.train_means.load_state_dict(checkpoint["train_epoch_means"], self.device)
        state = checkpoint.get("rng_state")
        if state is None:
            return
        random.setstate(state["python"])
        kind, keys, pos, has_gauss, gauss = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
