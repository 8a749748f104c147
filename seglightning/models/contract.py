"""What an architecture provides to the training loop: the model contract, read in one place.

Required: ``forward(image [B,3,H,W]) -> {"logits": [B,C,H,W] at input resolution, ...aux outputs}``
(instance models: torchvision's detection interface). Optional attributes, on the class or set in
``__init__``, with their defaults:

- ``task``: ``"semantic"`` or ``"instance"`` (trained by the instance loop; Mask R-CNN);
- ``requires``: batch extras the model reads, e.g. ``("edge",)`` (computed in the data workers);
- ``loss_terms``: loss-factory terms the model owns (auxiliary heads, Gated-SCNN's edge and
  dual-task terms), e.g. ``[{"name": "ce", "weight": 0.4, "input": "aux_logits"}]``;
- ``bf1_tolerance``: the boundary-F1 tolerance(s) the paper evaluates with (px if >= 1, else a
  fraction of the image diagonal); ``None``: the loop's default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TASKS = ("semantic", "instance")


@dataclass(frozen=True)
class ModelContract:
    """A model's declared contract (see the module docstring)."""

    task: str = "semantic"
    requires: tuple[str, ...] = ()
    loss_terms: tuple[Mapping[str, Any], ...] = ()
    bf1_tolerance: float | tuple[float, ...] | None = None


def contract_of(model: Any) -> ModelContract:
    """The contract a model (or its registered class) declares; a malformed declaration is an
    error naming the model and the attribute."""
    name = getattr(model, "__name__", type(model).__name__)
    task = getattr(model, "task", "semantic")
    if task not in TASKS:
        raise TypeError(f"model {name}: task={task!r}, expected one of {TASKS}")
    requires = getattr(model, "requires", ())
    if isinstance(requires, str) or not all(isinstance(r, str) for r in requires):
        raise TypeError(f"model {name}: requires must be a tuple of batch-extra names, got {requires!r}")
    terms = getattr(model, "loss_terms", ())
    if not isinstance(terms, Sequence) or not all(isinstance(t, Mapping) and "name" in t for t in terms):
        raise TypeError(f"model {name}: loss_terms must be a list of loss-term mappings with a name, got {terms!r}")
    tolerance = getattr(model, "bf1_tolerance", None)
    if isinstance(tolerance, Sequence):
        tolerance = tuple(float(t) for t in tolerance)
    return ModelContract(task, tuple(requires), tuple(terms), tolerance)
