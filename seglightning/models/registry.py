"""The model registry: name -> builder(num_classes=..., **kwargs) -> nn.Module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..utils.registry import register as _register

MODELS: dict[str, Callable[..., Any]] = {}


def register_model(name: str) -> Callable[[Any], Any]:
    return _register(MODELS, name)
