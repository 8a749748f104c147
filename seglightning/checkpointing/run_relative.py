"""A run directory belongs to one run: ``best.ckpt``'s path is stored relative to its folder.

Lightning's ``ModelCheckpoint`` stores absolute paths (``best_model_path``, ``best_k_models``) and
restores ``best_model_path`` even when the folder changed, so a copied or moved run directory
resumed against the *old* directory's ``best.ckpt``: its test pass scored another run's file (or
failed when that was gone). Here the paths are written relative to the checkpoint folder and
re-anchored to this run's folder on load (absolute paths of older checkpoints too), so the
score and the top-k state are restored with the run's own files.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

_PATHS = ("best_model_path", "kth_best_model_path", "last_model_path")


class RunRelativeCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose stored paths are relative to ``dirpath`` (same state key, so
    checkpoints written before keep restoring)."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Lightning's; without its "Checkpoint directory ... exists and is not empty" warning: the folder is
        this run's own ``checkpoints/``, which holds files whenever the run resumes."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
            super().setup(trainer, pl_module, stage)

    @property
    def state_key(self) -> str:
        return ModelCheckpoint.__qualname__ + super().state_key[len(type(self).__qualname__) :]

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        folder = Path(self.dirpath) if self.dirpath else None
        for key in _PATHS:
            state[key] = _relative(state[key], folder)
        state["best_k_models"] = {_relative(k, folder): v for k, v in state["best_k_models"].items()}
        state["dirpath"] = "."
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        stored = state_dict.get("dirpath")
        old = Path(stored) if stored and stored != "." else None
        here = Path(self.dirpath) if self.dirpath else None

        def anchor(path: str) -> str:
            if not path or here is None:
                return path
            p = Path(path)
            if not p.is_absolute():
                return str(here / p)
            return str(here / p.name) if old is not None and p.parent == old else path

        state = {**state_dict, "dirpath": self.dirpath}
        for key in _PATHS:
            if key in state:
                state[key] = anchor(state[key])
        if "best_k_models" in state:
            state["best_k_models"] = {anchor(k): v for k, v in state["best_k_models"].items()}
        super().load_state_dict(state)


def _relative(path: str, folder: Path | None) -> str:
    if not path or folder is None:
        return path
    p = Path(path)
    return str(p.relative_to(folder)) if p.is_relative_to(folder) else path
