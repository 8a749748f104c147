"""Non-finite losses (``module.nonfinite``): stop the run at once, or skip the update.

- ``raise`` (default): a NaN/Inf loss raises :class:`NonFiniteLossError` before the backward pass,
  naming the step, the loss terms that went non-finite and the batch's samples (``batch["meta"]``,
  every rank's under DDP). Nothing is saved on the way out, so ``last.ckpt`` keeps the last good state.
- ``skip``: the step's gradients are dropped before the optimizer step, so weights and optimizer
  state stay as they were, and the model's buffers (BatchNorm running statistics, which the forward
  pass already updated) are put back as they were before the step; the step counter and the
  learning-rate schedule advance, as when AMP's GradScaler skips a step. Skips are counted
  (``train/nonfinite_skips``; ``nonfinite_skips`` in ``metrics.json``), and
  ``module.max_nonfinite_skips`` consecutive skips stop the run with the error.

Under DDP the ranks OR their flags (one all-reduce per step), so all skip or stop at the same step;
the gradients of a skipped step are all-reduced first (NaN everywhere) and then dropped everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_warn

from ..data.datamodule import sample_name
from ..utils.distributed import any_rank, gather_objects

POLICIES = ("raise", "skip")


class NonFiniteLossError(FloatingPointError):
    """A training loss was NaN or infinite (see :class:`NonFiniteGuard`)."""


class NonFiniteGuard:
    def __init__(self, policy: str = "raise", max_consecutive_skips: int = 10):
        if policy not in POLICIES:
            raise ValueError(f"module.nonfinite={policy!r}: use one of {POLICIES}")
        if int(max_consecutive_skips) < 1:
            raise ValueError(
                f"module.max_nonfinite_skips={max_consecutive_skips}: use a count >= 1"
            )
        self.policy, self.max_consecutive_skips = policy, int(max_consecutive_skips)
        self.skipped = self.consecutive = 0
        self.drop_next_update = False
        self._buffers: list[torch.Tensor] = []

    def before_step(self, model: torch.nn.Module, batch_idx: int, accumulate: int) -> None:
        """Under ``skip``, at the start of each optimizer step's batches (one, or ``accumulate``):
        remember the model's buffers, which a skipped step puts back."""
        if self.policy == "skip" and batch_idx % accumulate == 0:
            self._buffers = [b.detach().clone() for b in model.buffers()]

    def check(
        self,
        module: Any,
        loss: torch.Tensor,
        terms: Mapping[str, torch.Tensor],
        batch: dict[str, Any],
        batch_idx: int,
    ) -> bool:
        """Whether this step's update is skipped; raises :class:`NonFiniteLossError` to stop the run."""
        trainer = module.trainer
        (bad,) = any_rank(trainer, not bool(torch.isfinite(loss.detach()).all()))
        if not bad:
            self.consecutive = 0
        else:
            where = describe(trainer, loss, terms, batch, batch_idx)
            if self.policy == "raise":
                raise NonFiniteLossError(
                    f"non-finite training loss at {where}. The run stopped before the update; "
                    "checkpoints/last.ckpt holds the last good state (module.nonfinite=skip skips such steps)"
                )
            self.skipped += 1
            self.consecutive += 1
            self.drop_next_update = True
            if self.consecutive >= self.max_consecutive_skips:
                raise NonFiniteLossError(
                    f"{self.consecutive} consecutive non-finite training losses (module.max_nonfinite_skips="
                    f"{self.max_consecutive_skips}); the last at {where}"
                )
            rank_zero_warn(
                f"skipping the update of a non-finite training loss at {where} ({self.skipped} skipped so far)"
            )
        if self.policy == "skip":
            module.log(
                "train/nonfinite_skips",
                float(self.skipped),
                on_step=True,
                on_epoch=False,
                batch_size=1,
            )
        return bad

    def drop_gradients(self, module: Any) -> None:
        """Before the optimizer step (after the backward pass, which needs the buffers as the
        forward left them): forget a skipped step's gradients, so the optimizer leaves every
        parameter and its state untouched, and put the model's buffers back."""
        if self.drop_next_update:
            for p in module.parameters():
                p.grad = None
            with torch.no_grad():
                for buffer, saved in zip(module.model.buffers(), self._buffers, strict=True):
                    buffer.copy_(saved)
            self.drop_next_update = False

    def state_dict(self) -> dict[str, int]:
        return {"skipped": self.skipped, "consecutive": self.consecutive}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        self.skipped, self.consecutive = int(state["skipped"]), int(state["consecutive"])


def describe(
    trainer: Any,
    loss: torch.Tensor,
    terms: Mapping[str, torch.Tensor],
    batch: dict[str, Any],
    batch_idx: int,
) -> str:
    """Step, epoch and batch, then per rank the non-finite terms and the batch's sample names."""
    bad_terms = {
        k: float(v) for k, v in terms.items() if not bool(torch.isfinite(torch.as_tensor(v)).all())
    }
    mine = {
        "loss": float(loss.detach()),
        "terms": bad_terms,
        "samples": [sample_name({"meta": m}) for m in batch.get("meta", [])],
    }
    infos = gather_objects(mine)
    parts = []
    for rank, info in enumerate(infos):
        if math.isfinite(info["loss"]):
            continue
        which = (
            ", ".join(f"{k}={v}" for k, v in info["terms"].items())
            or "none (the weighted sum overflowed)"
        )
        prefix = f"rank {rank}: " if len(infos) > 1 else ""
        parts.append(
            f"{prefix}loss {info['loss']}, non-finite terms: {which}; samples {info['samples']}"
        )
    step = trainer.global_step if trainer is not None else "?"
    epoch = trainer.current_epoch if trainer is not None else "?"
    return f"global step {step} (epoch {epoch}, batch {batch_idx}): " + " | ".join(parts)
