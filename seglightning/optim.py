"""Optimizers and per-step learning-rate schedules from config (``optim`` and ``scheduler`` groups).

Schedules (all stepped every optimizer step, with optional linear warmup from
``warmup_start`` x lr over ``warmup_steps`` or ``warmup_ratio`` of training):
- ``poly``: lr · (1 - t/T)^power (power 0.9, DeepLab/FastFCN recipe);
- ``cosine``: lr · (min_ratio + (1 - min_ratio)(1 + cos(pi t/T))/2);
- ``onecycle``: torch's OneCycleLR (its own warmup);
- ``constant``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}


def build_optimizer(params: Iterable[Any], name: str = "adamw", **kwargs: Any) -> torch.optim.Optimizer:
    from .utils.registry import lookup

    return lookup(OPTIMIZERS, name, "optimizer", "optim.name")(params, **kwargs)


def _warmup_factor(step: int, warmup: int, start: float) -> float:
    return start + (1.0 - start) * step / warmup if step < warmup else 1.0


def schedule_factor(
    name: str,
    step: int,
    total: int,
    warmup: int = 0,
    warmup_start: float = 0.001,
    power: float = 0.9,
    min_ratio: float = 0.0,
) -> float:
    """The lr multiplier at optimizer step ``step`` of ``total`` (pure function, tested by hand)."""
    t = min(step, total) / max(total, 1)
    if name == "poly":
        factor = (1.0 - t) ** power
    elif name == "cosine":
        factor = min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))
    elif name == "constant":
        factor = 1.0
    else:
        raise KeyError(
            f"unknown scheduler '{name}' (config key scheduler.name); choose one of constant, cosine, onecycle, poly"
        )
    return factor * _warmup_factor(step, warmup, warmup_start)


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    name: str = "poly",
    warmup_steps: int = 0,
    warmup_ratio: float = 0.0,
    **kwargs: Any,
) -> dict[str, Any]:
    """A Lightning ``lr_scheduler`` dict stepping every optimizer step."""
    warmup = max(int(warmup_steps), int(warmup_ratio * total_steps))
    if name == "onecycle":
        max_lr = [g["lr"] for g in optimizer.param_groups]
        sched: Any = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=max_lr, total_steps=max(total_steps, 2), **kwargs
        )
    else:
        schedule_factor(name, 0, total_steps)  # validates the name before training starts
        sched = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: schedule_factor(name, step, total_steps, warmup, **kwargs)
        )
    return {"scheduler": sched, "interval": "step", "frequency": 1}
