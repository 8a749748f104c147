"""Decisions every process of a distributed run must take together (stop, skip, save), and the one
helper that gathers Python objects from every process.

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


def gather_objects(obj: Any) -> list[Any]:
    """``obj`` from every process of the ``torch.distributed`` group, in rank order (collective: every
    process calls it); ``[obj]`` on one process or without an initialised group."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
