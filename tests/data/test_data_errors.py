"""Bad data gives a DatasetError that names the file: at validation (setup / check) and at load."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seglightning.data import build_dataset
from seglightning.data.check import check_dataset
from seglightning.data.io import DatasetError


@pytest.fixture
def copy(written, tmp_path) -> Callable[[str], Path]:
    """A private, writable copy of a fixture."""

    def make(name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(written(name), dst)
        return dst

    return make


def voc_base(root: Path) -> Path:
    return root / "VOCdevkit" / "VOC2012"


def first_voc_id(root: Path, split: str = "train") -> str:
    return (voc_base(root) / "ImageSets" / "Segmentation" / f"{split}.txt").read_text().split()[0]


def assert_load_error(ds, index: int, path: Path, match: str) -> None:
    with pytest.raises(DatasetError, match=match) as err:
        ds[index]
    assert str(path) in str(err.value)


def assert_reported(name: str, root: Path, path: Path, match: str, level: str = "full", **kwargs) -> None:
    """validate() at ``level`` and the data check both report ``path``."""
    ds = build_dataset(name, root=root, split="train", **kwargs)
    with pytest.raises(DatasetError, match=match) as err:
        ds.validate(level)
    assert str(path) in str(err.value)
    report = check_dataset(name, str(root), ["train"], kwargs)
    assert not report.ok and any(str(path) in p for p in report.problems)
    assert str(path) in report.render()


# -- missing image for a listed id ----------------------------------------------------------
def test_voc_missing_image_for_listed_id(copy):
    root = copy("voc")
    lst = voc_base(root) / "ImageSets" / "Segmentation" / "train.txt"
    lst.write_text(lst.read_text() + "2012_999999\n")
    missing = voc_base(root) / "JPEGImages" / "2012_999999.jpg"
    assert_reported("voc", root, missing, "missing image for id '2012_999999'", level="index")
    ds = build_dataset("voc", root=root, split="train")
    assert_load_error(ds, len(ds) - 1, missing, "image file not found")


def test_folder_missing_image_for_listed_id(copy):
    root = copy("folder")
    (root / "splits" / "train.txt").write_text("nope\n")
    assert_reported("folder", root, root / "images" / "nope.png", "missing image for id 'nope'", level="index")


def test_coco_missing_image_file(copy):
    root = copy("coco")
    victim = sorted((root / "train2017").iterdir())[0]
    victim.unlink()
    assert_reported("coco", root, victim, "missing image for id", level="index")


def test_cityscapes_missing_label(copy):
    root = copy("cityscapes")
    label = next((root / "gtFine" / "train").rglob("*_gtFine_labelIds.png"))
    label.unlink()
    assert_reported("cityscapes", root, label, "missing gtFine label", level="index")


# -- image/mask size mismatch ---------------------------------------------------------------
def test_voc_size_mismatch(copy):
    root = copy("voc")
    png = voc_base(root) / "SegmentationClass" / f"{first_voc_id(root)}.png"
    small = Image.open(png).resize((48, 32), Image.NEAREST)
    small.save(png)
    assert_reported("voc", root, png, "mask size 48x32", level="header")
    assert_load_error(build_dataset("voc", root=root, split="train"), 0, png, "differs from image")


def test_camvid_size_mismatch(copy):
    root = copy("camvid")
    png = sorted((root / "trainannot").iterdir())[0]
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(png)
    assert_reported("camvid", root, png, "mask size 10x10", level="header")


def test_coco_json_size_differs_from_image(copy):
    root = copy("coco")
    ann_file = root / "annotations" / "instances_train2017.json"
    js = json.loads(ann_file.read_text())
    js["images"][0]["width"] = 100  # the annotations no longer fit the 96-px-wide file
    for a in js["annotations"]:
        if a["image_id"] == js["images"][0]["id"] and isinstance(a["segmentation"], dict):
            a["segmentation"]["size"] = [js["images"][0]["height"], 100]
            a["segmentation"] = {"size": a["segmentation"]["size"], "counts": [js["images"][0]["height"] * 100]}
    ann_file.write_text(json.dumps(js))
    image = root / "train2017" / js["images"][0]["file_name"]
    assert_reported("coco", root, image, "differs from 100x64 recorded in")
    assert_load_error(build_dataset("coco", root=root, split="train"), 0, image, str(ann_file).replace("\\", "\\\\"))


# -- label values outside [0, C) ∪ {ignore} -------------------------------------------------
def test_voc_palette_png_with_unknown_index(copy):
    root = copy("voc")
    png = voc_base(root) / "SegmentationClass" / f"{first_voc_id(root)}.png"
    img = Image.open(png)
    arr = np.asarray(img).copy()
    arr[0, :5] = 37
    bad = Image.frombytes("P", img.size, arr.tobytes())
    bad.putpalette(img.getpalette())
    bad.save(png)
    assert_reported("voc", root, png, r"label values 37 outside the valid set \[0, 21\) ∪ \{255\}")
    assert_load_error(build_dataset("voc", root=root, split="train"), 0, png, "label values 37")


def test_cityscapes_label_id_out_of_range(copy):
    root = copy("cityscapes")
    label = sorted((root / "gtFine" / "train").rglob("*_gtFine_labelIds.png"))[0]
    arr = np.asarray(Image.open(label)).copy()
    arr[3, 3] = 40
    Image.fromarray(arr).save(label)
    ds = build_dataset("cityscapes", root=root, split="train")
    index = next(i for i, s in enumerate(ds.samples) if s.mask == label)
    assert_load_error(ds, index, label, "label values 40 outside the valid set Cityscapes labelIds 0-33")


def test_cityscapes_bad_instance_ids(copy):
    root = copy("cityscapes")
    inst = sorted((root / "gtFine" / "train").rglob("*_gtFine_instanceIds.png"))[0]
    arr = np.asarray(Image.open(inst)).astype(np.uint16)
    arr[0, 0] = 50000  # labelId 50
    Image.fromarray(arr).save(inst)
    ds = build_dataset("cityscapes", root=root, split="train", instances=True)
    index = next(i for i, s in enumerate(ds.samples) if s.extra["instance_ids"] == inst)
    assert_load_error(ds, index, inst, "labelIds outside 0-33")


def test_camvid_label_above_void(copy):
    root = copy("camvid")
    png = sorted((root / "trainannot").iterdir())[0]
    arr = np.asarray(Image.open(png)).copy()
    arr[1, 1] = 12
    Image.fromarray(arr).save(png)
    assert_reported("camvid", root, png, r"label values 12 outside the valid set \[0, 11\) ∪ \{255, 11\}")


def test_folder_label_above_num_classes(copy):
    root = copy("folder")
    stem = (root / "splits" / "train.txt").read_text().split()[0]
    png = root / "masks" / f"{stem}.png"
    arr = np.asarray(Image.open(png)).copy()
    assert arr.ndim == 2
    arr[0, 0] = 9
    Image.fromarray(arr).save(png)
    assert_reported("folder", root, png, r"label values 9 outside the valid set \[0, 5\)")


def test_camvid32_unknown_colour(copy):
    root = copy("camvid32")
    png = sorted((root / "train_labels").iterdir())[0]
    arr = np.asarray(Image.open(png)).copy()
    arr[0, 0] = (1, 2, 3)
    Image.fromarray(arr).save(png)
    assert_reported("camvid32", root, png, r"colours not in .*class_dict.csv: \(1, 2, 3\) x1")


# -- unreadable / corrupt files -------------------------------------------------------------
def test_truncated_jpeg(copy):
    root = copy("voc")
    jpg = voc_base(root) / "JPEGImages" / f"{first_voc_id(root)}.jpg"
    jpg.write_bytes(jpg.read_bytes()[:400])
    assert_reported("voc", root, jpg, "cannot read image")


def test_garbage_png_mask(copy):
    root = copy("cityscapes")
    label = sorted((root / "gtFine" / "train").rglob("*_gtFine_labelIds.png"))[0]
    label.write_bytes(b"this is not a png")
    assert_reported("cityscapes", root, label, "cannot read label", level="header")


# -- COCO annotation outside the image ------------------------------------------------------
@pytest.mark.parametrize("kind", ["polygon", "bbox", "rle"])
def test_coco_annotation_outside_image(copy, kind):
    root = copy("coco")
    ann_file = root / "annotations" / "instances_train2017.json"
    js = json.loads(ann_file.read_text())
    image = js["images"][0]
    ann = next(
        a for a in js["annotations"]
        if a["image_id"] == image["id"] and (kind != "polygon" or isinstance(a["segmentation"], list))
    )
    if kind == "polygon":
        ann["segmentation"][0][0] = image["width"] + 7.5
    elif kind == "bbox":
        ann["bbox"][0], ann["bbox"][2] = image["width"] - 2.0, 10.0
    else:
        ann["segmentation"] = {
            "size": [image["height"] + 8, image["width"]],
            "counts": [(image["height"] + 8) * image["width"]],
        }
    ann_file.write_text(json.dumps(js))
    match = {"polygon": "polygon x range", "bbox": "bbox", "rle": "RLE size"}[kind]
    assert_reported("coco", root, ann_file, match, level="index")
    ds = build_dataset("coco", root=root, split="train")
    with pytest.raises(DatasetError, match=f"annotation {ann['id']} of image {image['file_name']}"):
        ds[0]


# -- missing folders and lists --------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "remove", "match"),
    [
        ("voc", "VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt", "VOC split list"),
        ("voc_aug", "VOCdevkit/VOC2012/ImageSets/Segmentation/train_aug.txt", "VOC split list"),
        ("cityscapes", "gtFine/train", "gtFine labels for split 'train' folder not found"),
        ("camvid", "trainannot", "CamVid labels folder not found"),
        ("camvid32", "class_dict.csv", "class_dict.csv not found"),
        ("coco", "annotations/instances_train2017.json", "COCO annotation file not found"),
        ("folder", "classes.yaml", "class file not found"),
    ],
)
def test_missing_parts_name_the_path(copy, name, remove, match):
    root = copy(name)
    path = root / remove
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    with pytest.raises(DatasetError, match=match) as err:
        build_dataset(name, root=root, split="train")
    assert str(path) in str(err.value)


def test_missing_root():
    with pytest.raises(DatasetError, match="dataset folder not found"):
        build_dataset("voc", root="/nonexistent/voc", split="train")
    with pytest.raises(DatasetError, match="set data.root"):
        build_dataset("cityscapes", root=None, split="train")


def test_voc_aug_list_must_exclude_val(copy):
    root = copy("voc_aug")
    lists = voc_base(root) / "ImageSets" / "Segmentation"
    val_id = (lists / "val.txt").read_text().split()[0]
    png = voc_base(root) / "SegmentationClassAug" / f"{val_id}.png"
    shutil.copy(voc_base(root) / "SegmentationClass" / f"{val_id}.png", png)
    (lists / "train_aug.txt").write_text((lists / "train_aug.txt").read_text() + f"{val_id}\n")
    assert_reported("voc_aug", root, lists / "train_aug.txt", "also in .*val.txt", level="index")


@pytest.mark.parametrize("name", ["voc", "camvid", "folder"])
def test_instances_need_an_instance_dataset(written, name):
    with pytest.raises(ValueError, match="data.instances=true needs an instance-capable dataset"):
        build_dataset(name, root=written(name), split="train", instances=True)


# -- the datamodule validates before training -----------------------------------------------
def test_datamodule_refuses_bad_data_before_training(copy, datamodule):
    root = copy("voc")
    lst = voc_base(root) / "ImageSets" / "Segmentation" / "train.txt"
    lst.write_text(lst.read_text() + "2012_999999\n")
    with pytest.raises(DatasetError, match="missing image for id '2012_999999'") as err:
        datamodule("voc", root)
    assert str(voc_base(root) / "JPEGImages" / "2012_999999.jpg") in str(err.value)
    assert "seglightning-data check" in str(err.value)
    datamodule("voc", root, validate="none")  # opting out defers the error to loading


def test_datamodule_setup_checks_sizes_of_every_split(copy, datamodule):
    root = copy("camvid")
    png = sorted((root / "valannot").iterdir())[0]
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(png)
    dm = datamodule("camvid", root)  # train is fine
    with pytest.raises(DatasetError, match="mask size 10x10") as err:
        dm.setup("fit")
    assert str(png) in str(err.value)
