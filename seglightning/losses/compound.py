"""Weighted sums of loss terms with per-epoch weight schedules.

A term's weight follows ``WeightSchedule``: ``w(epoch) = clip(start + step * epoch, min, max)``
with epoch counted from 0. A constant weight is ``WeightSchedule(start=w)``. Kervadec et al.
(2019)'s region -> boundary schedule (LIVIAETS/boundary-loss: weights [1, 0.01], then
``StealWeight(0.01)`` after every epoch) is ``{start: 1.0, step: -0.01, min: 0.1}`` for the
region term and ``{start: 0.01, step: 0.01}`` for the boundary term.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .base import SegLoss


@dataclass(frozen=True)
class WeightSchedule:
    """``weight(epoch) = clip(start + step * epoch, min, max)`` (``None`` bounds are open)."""

    start: float
    step: float = 0.0
    min: float | None = None
    max: float | None = None

    def __call__(self, epoch: int) -> float:
        weight = self.start + self.step * epoch
        if self.min is not None:
            weight = max(weight, self.min)
        if self.max is not None:
            weight = min(weight, self.max)
        return weight


@dataclass(frozen=True)
class Term:
    """One term: its log key (``train/loss/<key>``), the loss, its weight schedule, and which
    model output it reads as logits (``"logits"``, or an auxiliary output such as ``"aux_logits"``)."""

    key: str
    loss: SegLoss
    schedule: WeightSchedule
    input: str = "logits"


class CompoundLoss(SegLoss):
    """``sum_t w_t(epoch) * loss_t(outputs[input_t], target, **extras)``.

    ``requires`` is the union of the terms' requirements; ``last_terms`` maps each term's key to
    its unweighted value in the last forward (detached); ``weights`` gives the current weights.
    """

    name = "compound"

    def __init__(self, terms: Sequence[Term]) -> None:
        super().__init__()
        if not terms:
            raise ValueError("a compound loss needs at least one term (config key loss.terms)")
        keys = [term.key for term in terms]
        if len(set(keys)) != len(keys):
            raise ValueError(f"compound loss term keys must be unique, got {keys}")
        self.keys = keys
        self.inputs = [term.input for term in terms]
        self.schedules = [term.schedule for term in terms]
        self.losses = nn.ModuleList([term.loss for term in terms])
        self.requires = tuple(sorted({key for term in terms for key in term.loss.requires}))
        self.epoch = 0
        self._last: dict[str, Tensor] = {}

    @property
    def weights(self) -> dict[str, float]:
        """Each term's weight at the current epoch."""
        return {key: schedule(self.epoch) for key, schedule in zip(self.keys, self.schedules)}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        for loss in self.losses:
            loss.set_epoch(epoch)

    @property
    def last_terms(self) -> dict[str, Tensor]:
        return dict(self._last)

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        outputs = {"logits": logits, **extras}
        total = logits.new_zeros(())
        last: dict[str, Tensor] = {}
        for key, source, loss, weight in zip(self.keys, self.inputs, self.losses, self.weights.values()):
            if outputs.get(source) is None:
                raise ValueError(
                    f"loss term '{key}' reads the model output '{source}' (config key loss.terms[].input), "
                    "which the model did not return; outputs available: "
                    f"{sorted(k for k, v in outputs.items() if torch.is_tensor(v))}"
                )
            value = loss(outputs[source], target, **extras)
            last[key] = value.detach()
            total = total + weight * value
        self._last = last
        return total
