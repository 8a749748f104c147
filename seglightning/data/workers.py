"""How many DataLoader worker processes a loader starts: ``data.num_workers`` at most, and no more
than the CPUs this process may run on (``os.sched_getaffinity``, else ``os.cpu_count``), the bound
torch's ``DataLoader`` warns about ("will create N worker processes ... suggested max ..."). The
number of workers never changes the data: augmentation is seeded per sample (datamodule.py)."""

from __future__ import annotations

import os


def available_cpus() -> int:
    """The CPUs this process may run on (a Slurm or container limit included where the OS applies it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def usable_workers(configured: int) -> int:
    """``configured`` worker processes, capped by the CPUs available (0: load in the main process)."""
    return min(int(configured), available_cpus())
