"""``seglightning.testing`` stays the documented import of the fixture writers: a re-export of
``seglightning.data.fixtures`` (the same objects) that defines nothing of its own."""

from __future__ import annotations

import seglightning.data.fixtures as fixtures
import seglightning.testing as testing

# the public names seglightning.testing had when it held the writers itself
DOCUMENTED = (
    "Size", "DEFAULT_SIZE", "DEFAULT_COUNTS", "VOC_SHAPES", "CITYSCAPES_SHAPES", "CITYSCAPES_BANDS",
    "CAMVID11_SHAPES", "CAMVID11_BANDS", "COCO_CATEGORIES", "CAMVID32_CLASS_DICT", "CAMVID32_SHAPES",
    "CAMVID32_BANDS", "probe_colors", "voc_id", "write_voc", "write_voc_aug", "CITIES", "cityscapes_instance_ids",
    "write_cityscapes", "camvid_stem", "write_camvid", "write_camvid32", "uncompressed_rle", "compressed_rle",
    "mask_polygons", "RECTS_FILE", "coco_rects", "write_coco", "FOLDER_CLASSES", "FOLDER_COLORS", "FOLDER_VOID",
    "write_folder", "FIXTURES", "write_fixture",
)  # fmt: skip


def test_documented_names_are_the_fixture_module_s():
    missing = [n for n in DOCUMENTED if n not in testing.__all__]
    assert not missing, f"seglightning.testing no longer exports {missing}; add them to data/fixtures/__init__.py"
    assert all(getattr(testing, n) is getattr(fixtures, n) for n in DOCUMENTED)


def test_testing_defines_nothing_of_its_own():
    own = sorted(n for n in vars(testing) if not n.startswith("__") and n not in fixtures.__all__)
    assert not own, f"seglightning/testing.py defines {own}; it only re-exports seglightning.data.fixtures"
