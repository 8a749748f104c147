"""Run a metric computation on two forked gloo processes (as Lightning's ``ddp_fork``: no re-import
of torch in the children), each with its share of the data; the tests compare rank 0's result with
one process over all the data."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _worker(rank: int, world: int, port: int, result_file: str, compute: Callable[[int, int], Any]) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    out = compute(rank, world)  # collective: every rank computes (all-reduces), rank 0 keeps the result
    if rank == 0:
        torch.save(out, result_file)
    dist.barrier()
    dist.destroy_process_group()


def on_two_processes(compute: Callable[[int, int], Any], folder: Path) -> Any:
    """``compute(rank, world)`` on 2 processes of one gloo group; rank 0's return value."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result_file = str(Path(folder) / "rank0.pt")
    mp.start_processes(_worker, args=(2, port, result_file, compute), nprocs=2, start_method="fork")
    return torch.load(result_file, weights_only=False)
