"""Loss specs (config group ``loss``): how a spec is read, and how it is named in tags and reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def loss_label(spec: str | Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
    """A short name for a loss spec, for tracker tags and report columns: the loss name, or the term
    names joined by ``+`` (``ce+dice``)."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, Mapping) and "terms" not in spec:
        return str(spec.get("name"))
    terms = spec["terms"] if isinstance(spec, Mapping) else spec
    return "+".join(str(t.get("name")) for t in terms)
