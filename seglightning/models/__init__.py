"""Architectures. ``build_model(name, num_classes=..., **kwargs) -> nn.Module``.

Every semantic model returns ``{"logits": [B,C,H,W] at input resolution, ...aux outputs}``.
A model may declare ``requires`` (batch extras it needs, e.g. ``("edge",)``) and
``loss_terms`` (extra loss-factory terms it owns, e.g. an auxiliary head).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ..utils.registry import call_checked, lookup
from . import deeplab, fastfcn, gscnn, maskrcnn, smp_adapter, unet  # noqa: F401  (register)
from .registry import MODELS


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the architecture registered as ``name`` (config key ``model.name``)."""
    return call_checked(lookup(MODELS, name, "model", "model.name"), kwargs, f"model '{name}'", "model")


__all__ = ["MODELS", "build_model"]
