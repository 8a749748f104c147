"""Fixtures of the dataset tests: tiny datasets written in each exact on-disk format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from seglightning.data import build_datamodule
from seglightning.testing import write_fixture

VAL_ONLY = {"train": {"preset": "val_default"}, "val": {"preset": "val_default"}}
# every reader with the kwargs its fixture needs (coco_voc: the fixture's objects are small)
READERS: dict[str, dict[str, Any]] = {
    "voc": {}, "voc_aug": {}, "cityscapes": {}, "camvid": {}, "camvid32": {},
    "coco": {}, "coco_voc": {"train_min_area": 0}, "folder": {},
}  # fmt: skip


@pytest.fixture(scope="session")
def written(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``written(name, **writer_kwargs)``: the fixture folder of ``name`` (written once per session)."""
    cache: dict[tuple, Path] = {}

    def make(name: str, **kwargs: Any) -> Path:
        key = (name, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = write_fixture(name, tmp_path_factory.mktemp(name), seed=0, **kwargs)
        return cache[key]

    return make


@pytest.fixture
def datamodule() -> Callable[..., Any]:
    """``datamodule(name, root, transforms=VAL_ONLY, **kw)`` with single-process loading."""

    def make(name: str, root: Path, transforms: dict | None = None, **kwargs: Any) -> Any:
        dataset = {**READERS.get(name, {}), **kwargs.pop("dataset", {})}
        return build_datamodule(
            name, root=str(root), batch_size=2, val_batch_size=2, num_workers=0,
            dataset=dataset, transforms=transforms or VAL_ONLY, **kwargs,
        )  # fmt: skip

    return make

