"""One process per run directory: ``<run_dir>/run.lock``, an exclusive ``fcntl.flock``.

Two launches of the same run (or the same sweep) at once would write the same ``metrics.csv`` and
checkpoints. The first process to lock a run dir runs it; another gets :class:`RunLocked`, naming
the process (pid and host) that holds it: a single run stops with that error, a multirun skips the
job and goes on with the others.

The kernel releases the lock when its process ends, however it ends (``kill -9`` included), so a
lock file left by a killed process is taken over, with a warning naming that process. The file is
emptied when the run ends; a non-empty file nobody holds is such a leftover. Under DDP only rank
zero locks.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .directory import LOCK_FILE

log = logging.getLogger(__name__)


class RunLocked(RuntimeError):
    """The run dir is locked by another live process."""

    def __init__(self, run_dir: Path, holder: str):
        self.run_dir, self.holder = run_dir, holder
        super().__init__(
            f"{run_dir} is being run by {holder} (lock {run_dir / LOCK_FILE}); wait for it to end, "
            "or stop it and rerun this command (it resumes)"
        )


def _holder(fd: int) -> str:
    """``"pid 123 on host"`` as written in the lock file ('' if empty)."""
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 4096).decode(errors="replace").split()
    return f"pid {text[0]} on {text[1]}" if len(text) >= 2 else ""


@contextmanager
def run_lock(run_dir: Path, rank_zero: bool = True) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the block (only ``rank_zero`` locks); :class:`RunLocked` if another
    process holds it."""
    if not rank_zero:
        yield
        return
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLocked(run_dir, _holder(fd) or "another process") from None
        stale = _holder(fd)
        if stale:
            log.warning("%s: took over the lock left by %s (that process is gone)", run_dir, stale)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        os.fsync(fd)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # released: an empty file is no leftover
    finally:
        os.close(fd)  # releases the lock
