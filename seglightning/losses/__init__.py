"""Segmentation losses and the loss factory.

``build_loss(spec, **defaults) -> SegLoss``; every loss is ``loss(logits, target, **extras) ->
scalar`` (see ``base.SegLoss``). ``normalize_loss_spec(spec)`` reads any spec form into its terms
(``spec.py``; everything that reads a loss spec calls it). Each loss module registers its classes in ``LOSSES`` with
``@register_loss(name)``; add a module by adding its name to ``LOSS_MODULES`` below.

The package loads lazily: importing ``seglightning.losses`` (or the plain-Python ``losses.spec``,
which the sweep report reads run dirs with) imports no torch. The first use of a name below
(``from seglightning.losses import build_loss``) or of ``build_loss`` imports every loss module,
which registers the losses.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Loss modules: importing one registers its losses. A new loss family adds its name here.
LOSS_MODULES = (
    "boundary",
    "cross_entropy",
    "dpce",
    "focal",
    "generalized_dice",
    "hausdorff",
    "iou_balanced",
    "lovasz",
    "region",
    "sensitivity_specificity",
    "topk",
    "encnet",  # model-owned terms: FastFCN/EncNet SE-loss
    "gscnn",  # model-owned terms: Gated-SCNN
)

_EXPORTS = {
    "LOSSES": "registry",
    "CompoundLoss": "compound",
    "SegLoss": "base",
    "WeightSchedule": "compound",
    "build_loss": "factory",
    "normalize_loss_spec": "spec",
    "register_loss": "registry",
    "signed_distance_maps": "distance",
}
__all__ = sorted(_EXPORTS)


def load_losses() -> None:
    """Import every loss module (registering its losses in ``LOSSES``); cheap after the first call."""
    for name in LOSS_MODULES:
        import_module(f".{name}", __name__)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name != "normalize_loss_spec":
        load_losses()
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
