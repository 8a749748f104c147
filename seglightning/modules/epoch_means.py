"""Epoch means of the training loss and its terms, kept off the per-step hot path (why:
docs/design-notes.md).

Each step adds ``value * batch_size`` to a running sum on the value's device; at the epoch's end
``mean = sum / Σ batch_size`` (Lightning's batch-size-weighted epoch mean), the sums added over the
processes under DDP (the mean of all ranks' samples). The sums travel in checkpoints, so an epoch
resumed mid-way has the mean of all its steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor


class EpochMeans:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.weight = 0.0

    def add(self, values: Mapping[str, Tensor], weight: float) -> None:
        """Adds one step's values (tensors, any device), weighted by ``weight`` (its batch size)."""
        for name, value in values.items():
            weighted = value.detach().float() * weight
            self.sums[name] = self.sums[name] + weighted if name in self.sums else weighted
        self.weight += float(weight)

    def compute(self, reduce_sum: Callable[[Tensor], Tensor] = lambda t: t) -> dict[str, Tensor]:
        """``{name: mean}`` over the steps added (``reduce_sum`` sums a tensor over the processes)."""
        if not self.sums:
            return {}
        names = list(self.sums)
        device = self.sums[names[0]].device
        stacked = torch.stack([self.sums[n].to(device).reshape(()) for n in names])
        totals = reduce_sum(torch.cat([stacked, torch.tensor([self.weight], device=device)]))
        return {name: totals[i] / totals[-1] for i, name in enumerate(names)}

    def state_dict(self) -> dict[str, Any]:
        return {"sums": {k: v.cpu() for k, v in self.sums.items()}, "weight": self.weight}

    def load_state_dict(self, state: Mapping[str, Any], device: torch.device | None = None) -> None:
        self.sums = {k: v.to(device) if device is not None else v for k, v in state["sums"].items()}
        self.weight = float(state["weight"])
