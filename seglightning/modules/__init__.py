"""The LightningModules: ``BaseSegmentationModule`` (shared base), the semantic ``SegmentationModule`` and
the instance ``InstanceSegmentationModule`` (Mask R-CNN); ``module_class`` picks one for a model."""

from .base import BaseSegmentationModule
from .instance import InstanceSegmentationModule, is_instance_model, rasterize
from .semantic import SegmentationModule


def module_class(model_name: str) -> type[BaseSegmentationModule]:
    """The LightningModule that trains the registered model ``model_name`` (instance models: Mask R-CNN)."""
    return InstanceSegmentationModule if is_instance_model(model_name) else SegmentationModule


__all__ = [
    "InstanceSegmentationModule",
    "BaseSegmentationModule",
    "SegmentationModule",
    "is_instance_model",
    "module_class",
    "rasterize",
]
