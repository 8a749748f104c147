"""A CUDA out-of-memory error during training, explained: what was being trained at which size, and
what to change."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf


class TrainingOutOfMemoryError(RuntimeError):
    """The GPU ran out of memory during a training step (message: sizes and the fix)."""


def _crop_size(cfg: DictConfig) -> Any:
    crop = OmegaConf.select(cfg, "data.transforms.train.crop_size")
    if crop is None:
        return "none (full images)"
    return OmegaConf.to_container(crop) if OmegaConf.is_config(crop) else crop


def explain_out_of_memory(
    cfg: DictConfig, step: int, error: BaseException
) -> TrainingOutOfMemoryError:
    """The error to raise instead of torch's ``OutOfMemoryError`` (chained to it)."""
    batch = OmegaConf.select(cfg, "data.batch_size")
    accumulate = OmegaConf.select(cfg, "trainer.accumulate_grad_batches") or 1
    precision = OmegaConf.select(cfg, "trainer.precision")
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return TrainingOutOfMemoryError(
        f"CUDA out of memory at training step {step}: model {cfg.model.name} on {cfg.data.name} with "
        f"data.batch_size={batch} per process, crop {_crop_size(cfg)} (data.transforms.train.crop_size), "
        f"precision {precision}. Lower data.batch_size or the crop size, or keep the effective batch with "
        f"data.batch_size={max(1, int(batch or 1) // 2)} trainer.accumulate_grad_batches={2 * int(accumulate)}"
        f"{'; bf16 autocast (trainer=gpu) also halves activations' if str(precision).startswith('32') else ''}. "
        f"(torch: {first_line})"
    )
