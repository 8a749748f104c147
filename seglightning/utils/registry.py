"""Plain name -> builder registries shared by models, losses and datasets, and the ``_target_`` specs
of the config groups (a user's own callbacks and loggers)."""

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


def call_checked(builder: Callable[..., Any], kwargs: dict[str, Any], what: str, config_prefix: str) -> Any:
    """Call ``builder(**kwargs)``; an option it does not take is an error naming the config key."""
    import inspect

    params = inspect.signature(builder).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            raise TypeError(
                f"{what} has no option '{unknown[0]}' (config key {config_prefix}.{unknown[0]}); "
                f"its options: {', '.join(p for p in params if p != 'self')}"
            )
    return builder(**kwargs)


def register(registry: dict[str, Any], name: str) -> Callable[[Any], Any]:
    """Decorator that adds a builder to ``registry`` under ``name`` (a duplicate is an error)."""

    def add(builder: Any) -> Any:
        if name in registry:
            raise ValueError(f"'{name}' is registered twice")
        registry[name] = builder
        return builder

    return add


def instantiate_checked(spec: dict[str, Any], kind: type, config_key: str) -> Any:
    """``hydra.utils.instantiate(spec)``, which must give a ``kind``; an error names ``config_key``."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        built = instantiate(spec)
    except InstantiationException as err:
        raise ValueError(f"{config_key}: cannot be built ({err}); fix {config_key}._target_ or its arguments") from None
    if not isinstance(built, kind):
        built_kind = type(built).__name__
        raise TypeError(f"{config_key} built {built_kind}: set {config_key}._target_ to a {kind.__name__} class")
    return built
