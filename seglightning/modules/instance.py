"""The instance-segmentation loop (Mask R-CNN) on the conventions of the semantic loop.

``InstanceSegmentationModule`` and the semantic ``SegmentationModule`` both subclass
``BaseSegmentationModule`` and share its optimizer and per-step scheduler (``configure_optimizers``), the
RNG state carried in checkpoints, the semantic metric suite (``EvaluationMetrics``), logging names
and ``predict_step``. It takes the same constructor arguments, so ``seglightning-train`` builds it
the same way; what differs:

- the model (``model.name: maskrcnn``) computes its own losses (torchvision convention); the
  ``loss`` config is the *mask head's* loss, built by the loss factory in binary mode (default
  ``bce``, the paper's); it is checked on a dummy mask before training starts;
- batches carry ``targets`` (``data.instances: true``): a list of ``{"boxes", "labels", "masks",
  "iscrowd"}`` per image; masks are zero-padded to the padded image size;
- the training loss is the sum of torchvision's five losses (``train/loss_step``,
  ``train/loss_epoch``), each also logged as ``train/loss/<name>``; ``val/loss`` is the same sum
  on validation batches, computed without
  gradients, with BatchNorm in eval mode (running statistics untouched) and the training-mode
  proposal sampling run on a forked RNG (so validation does not shift the training stream);
- evaluation logs COCO mask and box mAP (torchmetrics ``MeanAveragePrecision`` with the pycocotools
  backend and COCOeval's float64 thresholds, so the values equal COCOeval's:
  ``val/mask_mAP``, ``val/mask_mAP50``, ``val/mask_mAP75``, ``val/box_mAP``...) and the
  semantic metrics (``val/mIoU``, ``val/mDice``, ``val/bF1``, ...) of the rasterised prediction:
  detections with score >= ``score_threshold`` (0.5), masks binarised at ``mask_threshold`` (0.5),
  the higher score winning where masks overlap, background (class 0) elsewhere. Instance label
  ``k`` is semantic class ``k`` of the dataset.

``forward(image)`` in evaluation mode returns ``{"logits": one-hot of the rasterised prediction
[B,C,H,W], "detections": [...]}``, so overlays and prediction work as for semantic models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses import build_loss
from ..models import MODELS, build_model
from ..models.contract import contract_of
from .base import STAGES, BaseSegmentationModule

MAP_KEYS = {"map": "mAP", "map_50": "mAP50", "map_75": "mAP75"}


def is_instance_model(name: str) -> bool:
    """Whether the registered model ``name`` is an instance model (trained by this module)."""
    builder = MODELS.get(name)
    return builder is not None and contract_of(builder).task == "instance"


def rasterize(
    detections: Sequence[dict[str, Tensor]],
    size: Sequence[int],
    score_threshold: float = 0.5,
    mask_threshold: float = 0.5,
) -> Tensor:
    """Semantic label maps [B,H,W] from detections (see the module docstring; 0 = background)."""
    maps = []
    for det in detections:
        keep = det["scores"] >= score_threshold
        masks = det["masks"][keep, 0, : size[0], : size[1]] >= mask_threshold  # [N,H,W]
        label_map = torch.zeros(tuple(size), dtype=torch.long, device=det["scores"].device)
        if masks.shape[0]:
            score_map = torch.where(masks, det["scores"][keep][:, None, None], -1.0)
            best, winner = score_map.max(0)
            label_map = torch.where(best >= 0, det["labels"][keep][winner], label_map)
        maps.append(label_map)
    return torch.stack(maps)


def _padded_targets(targets: Sequence[dict[str, Tensor]], size: Sequence[int]) -> list[dict[str, Tensor]]:
    """Targets with their masks zero-padded (bottom/right) to the batch's image size."""
    out = []
    for t in targets:
        masks = t["masks"]
        masks = F.pad(masks, (0, size[1] - masks.shape[-1], 0, size[0] - masks.shape[-2]))
        out.append({**t, "masks": masks})
    return out


class InstanceSegmentationModule(BaseSegmentationModule):
    """Mask R-CNN training/evaluation on the shared loop (see the module docstring). No calibration:
    its rasterised masks carry no per-pixel class distribution (nothing is logged for it)."""

    gives_scores = False

    def __init__(self, *, score_threshold: float = 0.5, mask_threshold: float = 0.5, **kwargs: Any):
        """``BaseSegmentationModule``'s arguments (``loss``: the mask head's; ``class_frequency`` is
        unused) and the rasterisation's thresholds (see the module docstring)."""
        super().__init__(**kwargs)
        if not self.inference.plain:
            raise ValueError(
                "module.inference: Mask R-CNN predicts whole images only (mode=whole, scales=[1.0], flip=false)"
            )
        self.requires: tuple[str, ...] = ()
        self.map_metrics = nn.ModuleDict({s: _mean_average_precision() for s in STAGES})

    def build_network(self, name: str, options: dict[str, Any]) -> nn.Module:
        """Mask R-CNN with the loss factory's ``loss`` (binary mode) as its mask-head loss."""
        if "mask_loss" in options:
            raise ValueError("set Mask R-CNN's mask-head loss with the loss group (loss=<name>), not model.mask_loss")
        spec = self.hparams.loss
        mask_loss = build_loss(spec, ignore_index=self.hparams.ignore_index, mode="binary")
        _check_binary(mask_loss, spec)
        return build_model(name, num_classes=self.hparams.num_classes, mask_loss=mask_loss, **options)

    def forward(self, image: Tensor) -> dict[str, Any]:
        if self.training:
            raise RuntimeError(
                "InstanceSegmentationModule.forward is for inference; training_step calls the model with targets"
            )
        if self.hparams.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        detections = self.model(image)
        labels = rasterize(detections, image.shape[-2:], self.hparams.score_threshold, self.hparams.mask_threshold)
        logits = F.one_hot(labels, self.hparams.num_classes).permute(0, 3, 1, 2).to(image.dtype)
        return {"logits": logits, "detections": detections}

    @staticmethod
    def _targets(batch: dict[str, Any]) -> list[dict[str, Tensor]]:
        if "targets" not in batch:
            raise ValueError(
                "Mask R-CNN needs instance targets in the batch: set data.instances=true (model=maskrcnn does)"
            )
        return _padded_targets(batch["targets"], batch["image"].shape[-2:])

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        losses = self.model(batch["image"], self._targets(batch))
        return self._record_training_loss(sum(losses.values()), losses, batch, batch_idx)

    def _eval_loss(self, image: Tensor, targets: list[dict[str, Tensor]]) -> Tensor:
        """torchvision's training losses (their sum) without touching weights, statistics or RNG."""
        norms = [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        devices = [image.device.index or 0] if image.is_cuda else []
        self.model.train()
        for norm in norms:
            norm.eval()
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=devices):
                return sum(self.model(image, targets).values())
        finally:
            self.model.eval()

    def _eval_step(self, batch: dict[str, Any], stage: str) -> dict[str, Tensor]:
        out = self(batch["image"])
        targets = self._targets(batch)
        preds = out["logits"].argmax(1)
        self.metrics[stage].update(preds, batch["mask"], self._eval_loss(batch["image"], targets), batch.get("meta"))
        self.map_metrics[stage].update(
            [
                {
                    "boxes": d["boxes"],
                    "scores": d["scores"],
                    "labels": d["labels"],
                    "masks": d["masks"][:, 0] >= self.hparams.mask_threshold,
                }
                for d in out["detections"]
            ],
            [
                {"boxes": t["boxes"], "labels": t["labels"], "masks": t["masks"].bool(), "iscrowd": t["iscrowd"]}
                for t in targets
            ],
        )
        return {"preds": preds}

    def _reset_metrics(self, stage: str) -> None:
        super()._reset_metrics(stage)
        self.map_metrics[stage].reset()

    def _log_metrics(self, stage: str) -> None:
        scores = self.map_metrics[stage].compute()
        self.log_dict(
            {
                f"{stage}/{kind}_{MAP_KEYS[key]}": scores[f"{prefix}_{key}"]
                for kind, prefix in (("mask", "segm"), ("box", "bbox"))
                for key in MAP_KEYS
            },
            sync_dist=False,
        )
        self.map_metrics[stage].reset()
        super()._log_metrics(stage)

    def set_epoch_state(self) -> None:
        self.model.mask_loss.set_epoch(self.current_epoch)


def _mean_average_precision() -> nn.Module:
    """COCO mask and box mAP with COCOeval's own thresholds: torchmetrics' defaults are float32
    (``torch.linspace``: IoU 0.6 becomes 0.6000000238), which flips an IoU or a recall lying exactly
    on a threshold; the float64 ``np.linspace`` values of pycocotools' ``Params`` reach COCOeval
    unchanged, so the scores equal COCOeval's."""
    from pycocotools.cocoeval import Params
    from torchmetrics.detection import MeanAveragePrecision

    params = Params("segm")
    return MeanAveragePrecision(
        iou_type=("bbox", "segm"),
        backend="pycocotools",
        iou_thresholds=params.iouThrs.tolist(),
        rec_thresholds=params.recThrs.tolist(),
    )


def _check_binary(loss: nn.Module, spec: Any) -> None:
    """Fail before training when ``spec`` cannot be a binary (mask-head) loss."""
    logits = torch.zeros(2, 1, 4, 4)
    target = torch.zeros(2, 4, 4)
    target[:, 1:3, 1:3] = 1.0
    try:
        loss(logits, target)
    except (ValueError, RuntimeError) as err:
        raise ValueError(
            f"loss={spec!r} cannot be Mask R-CNN's mask-head loss: it has no binary mode ({err}); "
            "use e.g. loss=bce or loss=dice"
        ) from None
