"""The dataset registry: name -> Dataset class.

Each registered class is a ``torch.utils.data.Dataset`` built as ``cls(root=..., split=..., **kw)``
whose items are ``{"image": uint8 HxWx3, "mask": HxW int (train ids, ignore_index = void),
"meta": {"id": str, ...}}`` and which carries ``num_classes``, ``class_names``, ``palette``
(list of RGB tuples) and ``ignore_index`` as attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..utils.registry import register as _register

DATASETS: dict[str, Any] = {}


def register_dataset(name: str) -> Callable[[Any], Any]:
    return _register(DATASETS, name)


def resolve_splits(dataset_cls: Any, root: str | None, splits: dict[str, str]) -> dict[str, str]:
    """``{stage: split}`` with each split as the reader will read it (``folder``: ``test`` is ``val``
    without ``splits/test.txt``); the test pass's split is recorded as ``test_split``."""
    resolve = getattr(dataset_cls, "resolve_split", None)
    return {stage: resolve(root, split) if resolve and root else split for stage, split in splits.items()}
