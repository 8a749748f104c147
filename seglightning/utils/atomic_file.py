"""Files replaced atomically: a kill, crash or power loss mid-write leaves the old file whole.

The new content goes to a temporary file beside the target and is made durable, then renamed over
the target (``os.replace``, atomic on POSIX file systems) and the folder is flushed, so the rename
itself survives a power loss. Used for checkpoints (:mod:`seglightning.checkpointing.atomic_io`)
and the run directory's JSON files (:mod:`seglightning.run.directory`); standard library only.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path


class DiskFull(OSError):
    """A write failed because the device is full: one message naming the file."""

    def __init__(self, path: Path):
        super().__init__(errno.ENOSPC, f"no space left on device while writing {path}")
        self.path = path

    def __str__(self) -> str:
        return str(self.strerror)


def disk_full(error: BaseException) -> bool:
    """Whether ``error`` or an error it was raised from is ENOSPC (torch.save reports a full disk
    as ``RuntimeError: [enforce fail ...] unexpected pos``, raised while handling the OSError)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def fsync(path: Path) -> None:
    """Flush a file's (or a folder's) content to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(target: Path, fill: Callable[[Path], None]) -> None:
    """``fill(tmp)`` writes a temporary file beside ``target`` and makes it durable; it is then
    renamed over ``target``. A failure anywhere leaves the old ``target`` and no temporary file; a
    full disk is :class:`DiskFull`."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        fill(tmp)
        os.replace(tmp, target)
        fsync(target.parent)
    except Exception as error:
        if disk_full(error) and not isinstance(error, DiskFull):
            raise DiskFull(target) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomically(target: Path, text: str) -> None:
    """Replace ``target`` with ``text`` atomically (durable before the rename; newlines as given)."""

    def fill(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    replace_atomically(Path(target), fill)
