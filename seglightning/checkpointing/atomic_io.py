"""Checkpoint files written atomically: a kill (or a crash) during a write never leaves a corrupt
``last.ckpt``; the previous file stays valid until the new one is complete.

The checkpoint goes to a temporary file in the same folder, is flushed to disk (``fsync``), and
then renamed over the old one (``os.replace``, atomic on POSIX file systems). Lightning writes every
checkpoint through this object (``Trainer(plugins=[AtomicCheckpointIO()])``), so ``best.ckpt`` and
the epoch-end ``last.ckpt`` are atomic too. Remote paths (``s3://...``) keep Lightning's writer (an
object store's upload is atomic).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO


def link_atomically(source: str | Path, target: str | Path) -> None:
    """``target`` becomes a hard link to ``source`` (the same bytes, no second write), replacing
    any old ``target`` atomically; a copy where hard links are impossible (another file system).
    Both names are only ever replaced by a rename, so rewriting one never changes the other."""
    source, target = Path(source), Path(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
            _fsync(tmp)
        os.replace(tmp, target)
        _fsync(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        if storage_options is not None:
            raise TypeError(f"storage_options={storage_options!r}: local checkpoint files take none")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            # straight to the file (Lightning's writer serialises into memory first and copies it out)
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _fsync(path.parent)  # the rename itself survives a power loss
        finally:
            tmp.unlink(missing_ok=True)
        return None
