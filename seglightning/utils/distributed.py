"""Decisions every process of a distributed run must take together (stop, skip, save).

A rank that decides alone hangs the others in the next collective (DDP's gradient all-reduce, a
checkpoint barrier), so each such flag is OR-ed over the ranks with one all-reduce of a tiny tensor.
"""

from __future__ import annotations

from typing import Any

import torch


def any_rank(trainer: Any, *flags: bool) -> tuple[bool, ...]:
    """Each flag OR-ed over all processes (one all-reduce; no communication on one process)."""
    if trainer is None or trainer.world_size == 1:
        return tuple(bool(f) for f in flags)
    local = torch.tensor([float(f) for f in flags], device=trainer.strategy.root_device)
    total = trainer.strategy.reduce(local, reduce_op="sum")
    return tuple(bool(v > 0) for v in total.tolist())


def gather_objects(trainer: Any, obj: Any) -> list[Any]:
    """``obj`` from every rank, in rank order (``[obj]`` on one process)."""
    if trainer is None or trainer.world_size == 1 or not torch.distributed.is_initialized():
        return [obj]
    out: list[Any] = [None] * trainer.world_size
    torch.distributed.all_gather_object(out, obj)
    return out
