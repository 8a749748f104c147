"""The shared reading helpers: label maps, colour maps, 16-bit PNGs, readers' error texts."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seglightning.data.io import ColorMap, DatasetError, LabelMap, read_image, read_index_png


def test_identity_label_map():
    lm = LabelMap.identity(3, 255, void_values=(7,))
    raw = np.array([[0, 1, 2], [255, 7, 0]], np.uint8)
    np.testing.assert_array_equal(lm(raw, "m.png"), [[0, 1, 2], [255, 255, 0]])
    with pytest.raises(DatasetError, match=r"m.png: label values 3, 200 outside the valid set \[0, 3\) ∪ \{255, 7\}"):
        lm(np.array([[3, 200, 1]], np.uint8), "m.png")


def test_mapping_label_map_handles_wide_values():
    lm = LabelMap.from_mapping({0: 255, 5: 0, 9: 1}, "ids 0, 5, 9")
    np.testing.assert_array_equal(lm(np.array([5, 9, 0]), "x"), [0, 1, 255])
    with pytest.raises(DatasetError, match="label values 70000 outside"):
        lm(np.array([5, 70000], np.int64), "x")
    with pytest.raises(DatasetError, match="label values -1 outside"):
        lm(np.array([-1, 5], np.int64), "x")


def test_colour_map():
    cm = ColorMap(((0, 0, 0), (255, 0, 0), (9, 9, 9)), (0, 1, 255), source="table.csv")
    rgb = np.array([[[255, 0, 0], [0, 0, 0], [9, 9, 9]]], np.uint8)
    np.testing.assert_array_equal(cm(rgb, "l.png"), [[1, 0, 255]])
    rgb[0, 0] = (1, 2, 3)
    with pytest.raises(DatasetError, match=r"l.png: colours not in table.csv: \(1, 2, 3\) x1"):
        cm(rgb, "l.png")
    with pytest.raises(DatasetError, match="listed twice"):
        ColorMap(((1, 1, 1), (1, 1, 1)), (0, 1))


def test_sixteen_bit_and_palette_pngs(tmp_path):
    arr = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 3001).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "i.png")
    np.testing.assert_array_equal(read_index_png(tmp_path / "i.png"), arr)
    pal = Image.frombytes("P", (2, 1), bytes([3, 255]))
    pal.putpalette([0, 0, 0] * 256)
    pal.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_index_png(tmp_path / "p.png"), [[3, 255]])  # indices, not colours
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(DatasetError, match="rgb.png: expected a single-channel index label PNG"):
        read_index_png(tmp_path / "rgb.png")


def test_read_image_converts_to_rgb_and_names_missing_files(tmp_path):
    Image.fromarray(np.full((2, 3), 7, np.uint8)).save(tmp_path / "g.png")
    img = read_image(tmp_path / "g.png")
    assert img.shape == (2, 3, 3) and img.dtype == np.uint8 and (img == 7).all()
    with pytest.raises(DatasetError, match="nope.jpg: image file not found"):
        read_image(tmp_path / "nope.jpg")
