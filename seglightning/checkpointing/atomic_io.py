"""Checkpoint files written atomically: a kill (or a crash) during a write never leaves a corrupt
``last.ckpt``; the previous file stays valid until the new one is complete.

The checkpoint goes to a temporary file in the same folder, is flushed to disk (``fsync``), and
then renamed over the old one (:func:`seglightning.utils.atomic_file.replace_atomically`). Lightning writes every
checkpoint through this object (``Trainer(plugins=[AtomicCheckpointIO()])``), so ``best.ckpt`` and
the epoch-end ``last.ckpt`` are atomic too. Remote paths (``s3://...``) keep Lightning's writer (an
object store's upload is atomic).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from ..utils.atomic_file import fsync, replace_atomically
from .safe_load import load_checkpoint_file


def link_atomically(source: str | Path, target: str | Path) -> None:
    """``target`` becomes a hard link to ``source`` (the same bytes, no second write), replacing
    any old ``target`` atomically; a copy where hard links are impossible (another file system).
    Both names are only ever replaced by a rename, so rewriting one never changes the other."""

    def fill(tmp: Path) -> None:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
            fsync(tmp)

    replace_atomically(Path(target), fill)


def _torch_save(checkpoint: dict[str, Any]) -> Callable[[Path], None]:
    """Writes ``checkpoint`` straight to the file (Lightning's writer serialises into memory first
    and copies it out), then ``fsync``."""

    def fill(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())

    return fill


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
        replace_atomically(path, _torch_save(checkpoint))
        return None

    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """Every checkpoint Lightning reads (resume, the test pass's best.ckpt) as data only."""
        if "://" in str(path):
            return super().load_checkpoint(path, map_location, weights_only=True)
        return load_checkpoint_file(path, "checkpoint", map_location=map_location)
