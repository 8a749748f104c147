"""``seglightning-data check``: the summary and the exit status, from the real data configs."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from PIL import Image

from seglightning.cli import CONFIG_DIR
from seglightning.data.check import check_dataset, main

DATASETS = ["voc", "voc_aug", "cityscapes", "camvid", "camvid32", "coco", "coco_voc", "folder"]


def data_config(name: str, root) -> dict:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"data={name}", f"data.root={root}"])
    return {"data": dict(cfg.data), "check": {"workers": 0}}


@pytest.mark.parametrize("name", DATASETS)
def test_clean_fixture_passes(name, written, capsys):
    root = written("coco" if name == "coco_voc" else name)
    assert main(data_config(name, root)) == 0
    out = capsys.readouterr().out
    assert f"seglightning-data check: {name} at {root}" in out
    assert "problems: 0" in out and out.rstrip().endswith("OK")


def test_summary_counts_sizes_and_frequencies(written):
    root = written("camvid")
    report = check_dataset("camvid", str(root), ["train", "val", "test"])
    assert [(s.split, s.images) for s in report.splits] == [("train", 4), ("val", 2), ("test", 2)]
    assert report.splits[0].sizes == {(96, 64): 4}
    # pixel counts equal a direct count over the label files (11 = void)
    counts = np.zeros(12, np.int64)
    for png in (root / "trainannot").iterdir():
        counts += np.bincount(np.asarray(Image.open(png)).ravel(), minlength=12)
    np.testing.assert_array_equal(report.splits[0].pixels, counts)
    text = report.render()
    assert "Sky" in text and "void (255)" in text and "96x64 x4" in text


def test_problems_fail_the_check(written, tmp_path, capsys):
    root = tmp_path / "voc"
    shutil.copytree(written("voc"), root)
    jpg = next((root / "VOCdevkit" / "VOC2012" / "JPEGImages").iterdir())
    jpg.write_bytes(b"\xff\xd8 broken")
    assert main(data_config("voc", root)) == 1
    out = capsys.readouterr().out
    assert str(jpg) in out and "cannot read image" in out and "FAILED" in out


def test_parallel_check_matches_serial(written):
    root = str(written("cityscapes"))
    serial, parallel = (
        check_dataset("cityscapes", root, ["train"]),
        check_dataset("cityscapes", root, ["train"], workers=2),
    )
    np.testing.assert_array_equal(serial.splits[0].pixels, parallel.splits[0].pixels)
    assert serial.render() == parallel.render()


def test_header_level_reads_no_pixels(written):
    report = check_dataset("voc", str(written("voc")), ["train"], level="header")
    assert report.ok and report.splits[0].pixels is None and report.splits[0].sizes == {(96, 64): 4}
