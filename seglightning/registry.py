"""Plain name -> builder registries shared by models, losses and datasets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def lookup(registry: dict[str, Any], name: str, kind: str, config_key: str) -> Any:
    """Return ``registry[name]`` or raise a ``KeyError`` that names the config key and the choices."""
    try:
        return registry[name]
    except KeyError:
        choices = ", ".join(sorted(registry))
        raise KeyError(
            f"unknown {kind} '{name}' (config key '{config_key}'); choose one of: {choices}"
        ) from None


def register(registry: dict[str, Any], name: str) -> Callable[[Any], Any]:
    """Decorator that adds a builder to ``registry`` under ``name`` (a duplicate is an error)."""

    def add(builder: Any) -> Any:
        if name in registry:
            raise ValueError(f"'{name}' is registered twice")
        registry[name] = builder
        return builder

    return add
