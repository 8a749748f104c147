"""Loading a trained run back: the module and the config stored in its checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .base import SegmentationLoop
from .inference import Inference


def load_checkpoint_config(path: str | Path) -> dict[str, Any]:
    """The resolved run config stored in a seglightning checkpoint (clear error if absent)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt={path}: no such checkpoint file")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if "seglightning_config" not in ckpt:
        raise ValueError(f"ckpt={path} was not written by seglightning-train (no stored config); pass data=<name> explicitly")
    return ckpt["seglightning_config"]


def load_module(
    path: str | Path, device: str | torch.device = "cpu", inference: dict[str, Any] | None = None
) -> SegmentationLoop:
    """The trained module (semantic loop, or the instance loop for an instance model); the
    non-null keys of ``inference`` replace those of the run's ``module.inference``."""
    from . import loop_class

    hparams = torch.load(path, map_location="cpu", weights_only=False, mmap=True).get("hyper_parameters", {})
    module = loop_class(hparams.get("model", {}).get("name", "")).load_from_checkpoint(str(path), map_location=device, weights_only=False)
    if inference:
        chosen = {k: v for k, v in inference.items() if v is not None}
        module.inference = Inference.from_config({**module.inference.as_dict(), **chosen})
    return module.eval()
