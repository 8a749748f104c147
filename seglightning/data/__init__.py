"""Datasets and the datamodule.

``build_dataset(name, root=..., split=..., transforms=None)[i]`` gives raw samples
(``image`` uint8 HxWx3, ``mask`` HxW train ids with 255 void, ``meta``);
``build_datamodule(name, **kw)`` gives the ``SegmentationDataModule`` used for training.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from ..utils.registry import lookup
from . import camvid, cityscapes, coco, folder, synthetic, voc  # noqa: F401  (register the datasets)
from .datamodule import SegmentationDataModule
from .registry import DATASETS
from .transforms import build_transforms


def build_dataset(
    name: str, root: str | None = None, split: str = "train", transforms: Any = None, **kwargs: Any
) -> Dataset:
    """The raw dataset ``name``; with ``transforms`` (a preset spec dict) items are transformed."""
    ds = lookup(DATASETS, name, "dataset", "data.name")(root=root, split=split, **kwargs)
    if transforms is None:
        return ds
    from .datamodule import SegmentationSamples

    return SegmentationSamples(ds, build_transforms(transforms, ds.ignore_index), ds.num_classes, ds.ignore_index)


def build_datamodule(name: str, **kwargs: Any) -> SegmentationDataModule:
    """The datamodule over dataset ``name`` (config group ``data``)."""
    return SegmentationDataModule(name=name, **kwargs)


__all__ = ["DATASETS", "SegmentationDataModule", "build_dataset", "build_datamodule"]
