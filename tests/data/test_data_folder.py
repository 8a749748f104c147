"""Folder datasets: index and colour masks, classes.yaml, split lists and the seeded split."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from seglightning.data import build_dataset
from seglightning.data.io import DatasetError

COLOURS = {(0, 0, 0): 0, (230, 25, 75): 1, (60, 180, 75): 2, (0, 130, 200): 3, (245, 130, 48): 4, (255, 255, 255): 255}


def test_index_and_colour_masks(written, datamodule):
    root = written("folder")
    dm = datamodule("folder", root)
    assert dm.class_names == ["background", "disk", "square", "triangle", "cross"] and dm.palette[1] == (230, 25, 75)
    modes = set()
    for stage in ("train", "val"):
        ds = dm.dataset(stage)
        assert [s.id for s in ds.base.samples] == (root / "splits" / f"{stage}.txt").read_text().split()
        for i in range(len(ds)):
            png = Image.open(ds.base.samples[i].mask)
            modes.add(png.mode)
            raw = np.asarray(png)
            if raw.ndim == 3:
                expected = np.vectorize(lambda r, g, b: COLOURS[(r, g, b)])(raw[..., 0], raw[..., 1], raw[..., 2])
            else:
                expected = raw
            np.testing.assert_array_equal(ds[i]["mask"].numpy(), expected)
    assert modes == {"L", "RGB"}


def test_seeded_split_ratio(written, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(written("folder"), root)
    shutil.rmtree(root / "splits")
    stems = sorted(p.stem for p in (root / "images").iterdir())
    train = build_dataset("folder", root=root, split="train", val_ratio=0.34, seed=3)
    val = build_dataset("folder", root=root, split="val", val_ratio=0.34, seed=3)
    assert len(val) == 2 and sorted([s.id for s in train.samples] + [s.id for s in val.samples]) == stems
    again = build_dataset("folder", root=root, split="val", val_ratio=0.34, seed=3)
    assert [s.id for s in again.samples] == [s.id for s in val.samples]
    other = [build_dataset("folder", root=root, split="val", val_ratio=0.34, seed=s).samples for s in range(6)]
    assert len({tuple(x.id for x in o) for o in other}) > 1  # the seed matters
    with pytest.raises(DatasetError, match="splits/test.txt"):
        build_dataset("folder", root=root, split="test")


def test_index_only_and_gray_rgb(tmp_path):
    root = tmp_path / "d"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "classes.yaml").write_text("classes: [bg, fg]\n")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "images" / "a.png")
    gray = np.zeros((8, 8), np.uint8)
    gray[2:4] = 1
    Image.fromarray(np.stack([gray] * 3, -1)).save(root / "masks" / "a.png")  # an index mask saved as RGB
    ds = build_dataset("folder", root=root, split="all")
    np.testing.assert_array_equal(ds[0]["mask"], gray)
    with pytest.raises(DatasetError, match=r"masks/a.png.*mask_format=index"):
        build_dataset("folder", root=root, split="all", mask_format="index")[0]
    with pytest.raises(DatasetError, match=r"classes.yaml.*colors"):
        build_dataset("folder", root=root, split="all", mask_format="color")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("colors: [[0, 0, 0]]\n", "'classes' must be"),
        ("classes: [a, b]\ncolors: [[0, 0, 0]]\n", "1 colors for 2 classes"),
        ("classes: [a, b]\nignore_index: 1\n", "collides"),
        ("classes: [a, b\n", "not valid YAML"),
    ],
)
def test_bad_classes_yaml_names_the_file(tmp_path, text, match):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    (tmp_path / "classes.yaml").write_text(text)
    with pytest.raises(DatasetError, match=match) as err:
        build_dataset("folder", root=tmp_path, split="all")
    assert str(tmp_path / "classes.yaml") in str(err.value)
