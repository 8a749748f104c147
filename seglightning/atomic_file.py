"""Files replaced atomically: a kill, crash or power loss mid-write leaves the old file whole.

The new content goes to a temporary file beside the target and is made durable, then renamed over
the target (``os.replace``, atomic on POSIX file systems) and the folder is flushed, so the rename
itself survives a power loss. Used for checkpoints (:mod:`seglightning.checkpointing.atomic_io`)
and the run directory's JSON files (:mod:`seglightning.run_dir`); standard library only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def fsync(path: Path) -> None:
    """Flush a file's (or a folder's) content to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(target: Path, fill: Callable[[Path], None]) -> None:
    """``fill(tmp)`` writes a temporary file beside ``target`` and makes it durable; it is then
    renamed over ``target``. A failure anywhere leaves the old ``target`` and no temporary file."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        fill(tmp)
        os.replace(tmp, target)
        fsync(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
