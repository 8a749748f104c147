"""Architectures. ``build_model(name, num_classes=..., **kwargs) -> nn.Module``.

Every semantic model returns ``{"logits": [B,C,H,W] at input resolution, ...aux outputs}``.
A model may declare ``requires`` (batch extras it needs, e.g. ``("edge",)``) and
``loss_terms`` (extra loss-factory terms it owns, e.g. an auxiliary head).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ..registry import lookup
from .registry import MODELS
from . import unet  # noqa: F401  (registers)


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the architecture registered as ``name`` (config key ``model.name``)."""
    return lookup(MODELS, name, "model", "model.name")(**kwargs)


__all__ = ["MODELS", "build_model"]
