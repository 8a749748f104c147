"""The loss registry: name -> ``SegLoss`` subclass.

A loss module registers its classes with ``@register_loss("name")`` and is imported once in
``seglightning/losses/__init__.py`` (one import line per module); Hydra configs name the key
(``loss.name``).
"""

from __future__ import annotations

from collections.abc import Callable

from ..utils.registry import register as _register

LOSSES: dict[str, type] = {}


def register_loss(name: str) -> Callable[[type], type]:
    """Class decorator: add a loss class to ``LOSSES`` under ``name`` and record it as ``cls.name``."""
    add = _register(LOSSES, name)

    def decorate(cls: type) -> type:
        cls.name = name
        return add(cls)

    return decorate
