"""Loading a trained run back: the module and the config stored in its checkpoint (read as data
only: :mod:`seglightning.checkpointing.safe_load`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..modules.base import BaseSegmentationModule
from ..modules.inference import Inference
from .safe_load import load_checkpoint_file


def stored_config(path: str | Path, key: str = "ckpt") -> dict[str, Any] | None:
    """The resolved run config stored in a seglightning checkpoint (None if it has none)."""
    return load_checkpoint_file(path, key, mmap=True).get("seglightning_config")


def load_checkpoint_config(path: str | Path, key: str = "ckpt") -> dict[str, Any]:
    """The resolved run config stored in a seglightning checkpoint (clear error if absent)."""
    config = stored_config(path, key)
    if config is None:
        raise ValueError(
            f"{key}={path} was not written by seglightning-train (no stored config); pass data=<name> explicitly"
        )
    return config


def load_module(
    path: str | Path, device: str | torch.device = "cpu", inference: dict[str, Any] | None = None
) -> BaseSegmentationModule:
    """The trained module (semantic loop, or the instance loop for an instance model); the
    non-null keys of ``inference`` replace those of the run's ``module.inference``."""
    from ..modules import module_class

    hparams = load_checkpoint_file(path, "ckpt", mmap=True).get("hyper_parameters", {})
    module = module_class(hparams.get("model", {}).get("name", "")).load_from_checkpoint(
        str(path), map_location=device, weights_only=True
    )
    if inference:
        chosen = {k: v for k, v in inference.items() if v is not None}
        module.inference = Inference.from_config({**module.inference.as_dict(), **chosen})
    return module.eval()
