"""``write_fixture`` refuses a split its format cannot hold before writing anything."""

from __future__ import annotations

import pytest

from seglightning.data import build_dataset
from seglightning.testing import write_fixture


@pytest.mark.parametrize("name", ["coco", "coco_voc", "cityscapes", "voc", "camvid", "camvid32"])
def test_unknown_split_is_refused_before_writing(tmp_path, name):
    root = tmp_path / name
    with pytest.raises(ValueError, match=rf"the {name.split('_')[0]}\w* fixture has no split 'extra'; use train, val"):
        write_fixture(name, root, counts={"train": 1, "val": 1, "extra": 1})
    assert not root.exists()


def test_coco_test_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no split 'test'; use train, val$"):
        write_fixture("coco", tmp_path / "coco", counts={"train": 2, "val": 1, "test": 1})
    assert not (tmp_path / "coco").exists()


@pytest.mark.parametrize("name", ["voc", "camvid"])
def test_test_split_is_written_where_the_format_has_one(tmp_path, name):
    root = write_fixture(name, tmp_path / name, counts={"train": 1, "val": 1, "test": 2})
    assert len(build_dataset(name, root=root, split="test")) == 2
