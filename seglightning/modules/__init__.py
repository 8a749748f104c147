"""The training loops: ``SegmentationLoop`` (shared base), the semantic ``SegmentationModule`` and
the instance ``InstanceSegmentationModule`` (Mask R-CNN); ``loop_class`` picks one for a model."""

from .base import SegmentationLoop
from .instance import InstanceSegmentationModule, is_instance_model, rasterize
from .semantic import SegmentationModule


def loop_class(model_name: str) -> type[SegmentationLoop]:
    """The loop that trains the registered model ``model_name`` (instance models: Mask R-CNN)."""
    return InstanceSegmentationModule if is_instance_model(model_name) else SegmentationModule


__all__ = [
    "InstanceSegmentationModule",
    "SegmentationLoop",
    "SegmentationModule",
    "is_instance_model",
    "loop_class",
    "rasterize",
]
