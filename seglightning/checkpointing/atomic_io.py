"""Checkpoint files written atomically: a kill (or a crash) during a write never leaves a corrupt
``last.ckpt``; the previous file stays valid until the new one is complete.

The checkpoint goes to a temporary file in the same folder, is flushed to disk (``fsync``), and
then renamed over the old one (``os.replace``, atomic on POSIX file systems). Lightning writes every
checkpoint through this object (``Trainer(plugins=[AtomicCheckpointIO()])``), so ``best.ckpt`` and
the epoch-end ``last.ckpt`` are atomic too. Remote paths (``s3://...``) keep Lightning's writer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO


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
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            super().save_checkpoint(checkpoint, tmp, storage_options)
            _fsync(tmp)
            os.replace(tmp, path)
            _fsync(path.parent)  # the rename itself survives a power loss
        finally:
            tmp.unlink(missing_ok=True)
        return None
