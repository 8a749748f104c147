"""Test helpers for users' own tests (public): a tiny dataset in each exact on-disk format, from
the synthetic generator.

Used by the tests (no downloads are possible) and by users who want a sample of a format::

    from seglightning.testing import write_fixture
    root = write_fixture("cityscapes", "/tmp/cs", seed=0)   # then data=cityscapes data.root=/tmp/cs

Every writer takes a target folder, a seed, per-split image counts and an image size (H, W), and
returns the folder to pass as ``data.root``. The content of sample ``i`` of split ``s`` is
``seglightning.data.synthetic.generate_sample(seed, i, s)`` re-encoded in the dataset's label
scheme: the synthetic background becomes vertical bands of background labels (which include
the dataset's void / non-train ids), the four shape classes become dataset classes, and the
synthetic void border becomes the dataset's void where it has one.

``paint_labels=True`` replaces each image by a colour code of its raw label (:func:`probe_colors`,
or the label colour itself for colour-coded datasets), so a test can check after augmentation that
image and mask are still aligned.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from .data.cityscapes import LABELS as CITYSCAPES_LABELS
from .data.synthetic import generate_sample
from .data.voc import VOC_COLORMAP

Size = tuple[int, int]
DEFAULT_SIZE: Size = (64, 96)
DEFAULT_COUNTS = {"train": 4, "val": 2}

# -- label schemes of the synthetic classes (0 = background, 1 disk, 2 square, 3 triangle, 4 cross)
VOC_SHAPES = (15, 8, 1, 20)  # person, cat, aeroplane, tvmonitor
CITYSCAPES_SHAPES = (26, 11, 24, 33)  # labelIds: car, building, person, bicycle
# background bands: train ids and void/255-mapped ids (0-6 void, 9 parking, 14 guard rail, 18 polegroup, ...)
CITYSCAPES_BANDS = (7, 0, 23, 8, 4, 6, 9, 21, 1, 14, 5, 17, 2, 3, 10, 15, 16, 18, 22, 12, 13, 19, 20)
CAMVID11_SHAPES = (8, 6, 9, 10)  # Car, SignSymbol, Pedestrian, Bicyclist
CAMVID11_BANDS = (0, 3, 11, 1, 4, 5, 2, 7)  # 11 = void
COCO_CATEGORIES = ((1, "person"), (5, "airplane"), (44, "bottle"), (90, "toothbrush"))

# the 32-class CamVid class_dict.csv (name, r, g, b) as distributed
CAMVID32_CLASS_DICT = (
    ("Animal", 64, 128, 64), ("Archway", 192, 0, 128), ("Bicyclist", 0, 128, 192), ("Bridge", 0, 128, 64),
    ("Building", 128, 0, 0), ("Car", 64, 0, 128), ("CartLuggagePram", 64, 0, 192), ("Child", 192, 128, 64),
    ("Column_Pole", 192, 192, 128), ("Fence", 64, 64, 128), ("LaneMkgsDriv", 128, 0, 192),
    ("LaneMkgsNonDriv", 192, 0, 64), ("Misc_Text", 128, 128, 64), ("MotorcycleScooter", 192, 0, 192),
    ("OtherMoving", 128, 64, 64), ("ParkingBlock", 64, 192, 128), ("Pedestrian", 64, 64, 0),
    ("Road", 128, 64, 128), ("RoadShoulder", 128, 128, 192), ("Sidewalk", 0, 0, 192),
    ("SignSymbol", 192, 128, 128), ("Sky", 128, 128, 128), ("SUVPickupTruck", 64, 128, 192),
    ("TrafficCone", 0, 0, 64), ("TrafficLight", 0, 64, 64), ("Train", 192, 64, 128), ("Tree", 128, 128, 0),
    ("Truck_Bus", 192, 128, 192), ("Tunnel", 64, 0, 64), ("VegetationMisc", 192, 192, 0), ("Void", 0, 0, 0),
    ("Wall", 64, 192, 0),
)  # fmt: skip
_C32 = {name: k for k, (name, *_) in enumerate(CAMVID32_CLASS_DICT)}
CAMVID32_SHAPES = (_C32["Car"], _C32["SignSymbol"], _C32["Pedestrian"], _C32["Bicyclist"])
CAMVID32_BANDS = (_C32["Road"], _C32["Sky"], _C32["Void"], _C32["Building"], _C32["Tree"], _C32["Sidewalk"])


def probe_colors(n: int = 256) -> np.ndarray:
    """Distinct, well separated colours (uint8 [n,3]) used to paint raw label values."""
    levels = np.arange(20, 256, 40)  # 6 levels per channel, 40 apart
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    order = np.random.default_rng(12345).permutation(len(grid))
    return grid[order][np.arange(n) % len(grid)].astype(np.uint8)


def _encode(
    seed: int, split: str, index: int, size: Size, shapes: Sequence[int], bands: Sequence[int], void: int | None
) -> tuple[np.ndarray, np.ndarray, Any]:
    """(image, raw label map int32, synthetic sample): shapes -> ``shapes[c-1]``, background ->
    vertical bands of ``bands``, synthetic void border -> ``void`` (or the shape's label if None)."""
    s = generate_sample(seed, index, split, size)
    h, w = size
    band_w = max(4, w // 8)
    cols = (np.arange(w) // band_w + index) % len(bands)
    labels = np.broadcast_to(np.asarray(bands, np.int32)[cols][None, :], size).copy()
    fg = s.instance_ids > 0
    classes = np.zeros(len(s.instance_classes) + 1, np.int64)
    classes[1:] = s.instance_classes
    labels[fg] = np.asarray(shapes, np.int32)[classes[s.instance_ids[fg]] - 1]
    if void is not None:
        labels[s.mask == 255] = void
    return s.image, labels, s


def _image(image: np.ndarray, labels: np.ndarray, paint: bool, table: np.ndarray | None = None) -> np.ndarray:
    if not paint:
        return image
    return (probe_colors() if table is None else table)[labels]


def _save_png(array: np.ndarray, path: Path, palette: Sequence[tuple[int, int, int]] | None = None) -> None:
    """PNG of ``array`` (uint8 HxW -> L, uint16 -> 16-bit, HxWx3 -> RGB); with ``palette`` a 'P'
    PNG whose pixel values are the indices of ``array``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if palette is None:
        Image.fromarray(array).save(path)
        return
    h, w = array.shape
    img = Image.frombytes("P", (w, h), np.ascontiguousarray(array, np.uint8).tobytes())
    img.putpalette([v for rgb in palette for v in rgb])
    img.save(path)


def _save_jpg(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, quality=95)


def _counts(
    counts: Mapping[str, int] | None,
    default: Mapping[str, int] = DEFAULT_COUNTS,
    splits: Sequence[str] | None = None,
    fixture: str = "",
) -> dict[str, int]:
    """``counts`` (or ``default``); a split the writer cannot write is refused before anything is written."""
    chosen = dict(default if counts is None else counts)
    unknown = [s for s in chosen if splits is not None and s not in splits]
    if unknown:
        raise ValueError(
            f"counts={chosen}: the {fixture} fixture has no split {', '.join(map(repr, unknown))}; "
            f"use {', '.join(splits)}"
        )
    return chosen


# -- VOC ------------------------------------------------------------------------------------
def voc_id(split: str, index: int) -> str:
    return f"{2007 + ('train', 'val', 'test').index(split)}_{index:06d}"


def write_voc(
    root: str | Path,
    seed: int = 0,
    counts: Mapping[str, int] | None = None,
    size: Size = DEFAULT_SIZE,
    paint_labels: bool = False,
    aug: int = 0,
) -> Path:
    """VOCdevkit/VOC2012 with JPEGs, palette PNGs (255 = void border) and split lists.

    ``aug`` > 0 also writes the SBD-style ``SegmentationClassAug/`` (grayscale index PNGs) for the
    train ids plus ``aug`` extra ids, and ``ImageSets/Segmentation/train_aug.txt``.
    """
    root = Path(root)
    base = root / "VOCdevkit" / "VOC2012"
    lists = base / "ImageSets" / "Segmentation"
    chosen = _counts(counts, splits=("train", "val", "test"), fixture="voc")
    lists.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[str]] = {}
    for split, n in chosen.items():
        written[split] = []
        for i in range(n):
            image, labels, _ = _encode(seed, split, i, size, VOC_SHAPES, (0,), 255)
            id_ = voc_id(split, i)
            _save_jpg(_image(image, labels, paint_labels), base / "JPEGImages" / f"{id_}.jpg")
            _save_png(labels.astype(np.uint8), base / "SegmentationClass" / f"{id_}.png", VOC_COLORMAP)
            written[split].append(id_)
        (lists / f"{split}.txt").write_text("".join(f"{x}\n" for x in written[split]))
    if "train" in written and "val" in written:
        (lists / "trainval.txt").write_text("".join(f"{x}\n" for x in written["train"] + written["val"]))
    if aug:
        aug_ids = list(written.get("train", []))
        aug_labels = {x: np.asarray(Image.open(base / "SegmentationClass" / f"{x}.png")) for x in aug_ids}
        for i in range(aug):
            image, labels, _ = _encode(seed, "test", i, size, VOC_SHAPES, (0,), 255)
            id_ = f"2011_{900000 + i:06d}"
            _save_jpg(_image(image, labels, paint_labels), base / "JPEGImages" / f"{id_}.jpg")
            aug_ids.append(id_)
            aug_labels[id_] = labels
        for id_ in aug_ids:
            _save_png(np.asarray(aug_labels[id_], np.uint8), base / "SegmentationClassAug" / f"{id_}.png")
        (lists / "train_aug.txt").write_text(
            "".join(f"/JPEGImages/{x}.jpg /SegmentationClassAug/{x}.png\n" for x in aug_ids)
        )
    return root


def write_voc_aug(
    root: str | Path,
    seed: int = 0,
    counts: Mapping[str, int] | None = None,
    size: Size = DEFAULT_SIZE,
    paint_labels: bool = False,
    aug: int = 2,
) -> Path:
    """VOC 2012 plus the SBD-augmented train set (see :func:`write_voc`)."""
    return write_voc(root, seed, counts, size, paint_labels, aug=aug)


# -- Cityscapes -----------------------------------------------------------------------------
CITIES = {"train": ("aachen", "bochum"), "val": ("frankfurt",), "test": ("berlin",)}
_CS_COLORS = np.zeros((256, 3), np.uint8)
for _lb in CITYSCAPES_LABELS:
    _CS_COLORS[_lb.id] = _lb.color
_HAS_INSTANCES = {lb.id for lb in CITYSCAPES_LABELS if lb.has_instances}


def cityscapes_instance_ids(labels: np.ndarray, instance_ids: np.ndarray) -> np.ndarray:
    """instanceIds as Cityscapes encodes them: labelId*1000+k for objects of classes with
    instances (k counted per class), the labelId elsewhere; the first person of an image is left
    as a group region (value 24, a crowd)."""
    out = labels.astype(np.int32).copy()
    per_class: dict[int, int] = {}
    for k in range(1, int(instance_ids.max()) + 1):
        region = instance_ids == k
        if not region.any():
            continue
        lid = int(labels[region][0])
        if lid not in _HAS_INSTANCES:
            continue
        n = per_class.get(lid, 0)
        per_class[lid] = n + 1
        if lid == 24 and n == 0:
            continue  # group region: keeps the bare labelId
        out[region] = lid * 1000 + n
    return out


def write_cityscapes(
    root: str | Path,
    seed: int = 0,
    counts: Mapping[str, int] | None = None,
    size: Size = DEFAULT_SIZE,
    paint_labels: bool = False,
    coarse: bool = True,
) -> Path:
    """leftImg8bit + gtFine (labelIds uint8, instanceIds 16-bit, color) [+ gtCoarse for train]."""
    root = Path(root)
    for split, n in _counts(counts, splits=tuple(CITIES), fixture="cityscapes").items():
        cities = CITIES[split]
        for i in range(n):
            city = cities[i % len(cities)]
            stem = f"{city}_{i:06d}_{19 + i:06d}"
            image, labels, s = _encode(seed, split, i, size, CITYSCAPES_SHAPES, CITYSCAPES_BANDS, None)
            _save_png(
                _image(image, labels, paint_labels), root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png"
            )
            gt = root / "gtFine" / split / city
            _save_png(labels.astype(np.uint8), gt / f"{stem}_gtFine_labelIds.png")
            _save_png(_CS_COLORS[labels], gt / f"{stem}_gtFine_color.png")
            inst = cityscapes_instance_ids(labels, s.instance_ids).astype(np.uint16)
            if i % 2 == 0:  # both common writers of 16-bit PNGs
                _save_png(inst, gt / f"{stem}_gtFine_instanceIds.png")
            else:
                cv2.imwrite(str(gt / f"{stem}_gtFine_instanceIds.png"), inst)
            if coarse and split == "train":
                rough = labels.astype(np.uint8).copy()
                rough[s.mask == 255] = 0  # coarse polygons leave the object borders unlabeled
                _save_png(rough, root / "gtCoarse" / split / city / f"{stem}_gtCoarse_labelIds.png")
    return root


# -- CamVid ---------------------------------------------------------------------------------
def camvid_stem(split: str, index: int) -> str:
    return f"{('0001TP', 'Seq05VD', '0016E5')[('train', 'val', 'test').index(split)]}_{6690 + 30 * index:06d}"


def write_camvid(
    root: str | Path,
    seed: int = 0,
    counts: Mapping[str, int] | None = None,
    size: Size = DEFAULT_SIZE,
    paint_labels: bool = False,
) -> Path:
    """SegNet CamVid: {split}/ RGB PNGs and {split}annot/ grayscale PNGs (0-10, 11 = void)."""
    root = Path(root)
    for split, n in _counts(counts, {"train": 4, "val": 2, "test": 2}, ("train", "val", "test"), "camvid").items():
        for i in range(n):
            image, labels, _ = _encode(seed, split, i, size, CAMVID11_SHAPES, CAMVID11_BANDS, 11)
            stem = camvid_stem(split, i)
            _save_png(_image(image, labels, paint_labels), root / split / f"{stem}.png")
            _save_png(labels.astype(np.uint8), root / f"{split}annot" / f"{stem}.png")
    return root


def write_camvid32(
    root: str | Path,
    seed: int = 0,
    counts: Mapping[str, int] | None = None,
    size: Size = DEFAULT_SIZE,
    paint_labels: bool = False,
) -> Path:
    """32-class CamVid: {split}/ images, {split}_labels/<stem>_L.png RGB labels, class_dict.csv."""
    root = Path(root)
    chosen = _counts(counts, {"train": 4, "val": 2, "test": 2}, ("train", "val", "test"), "camvid32")
    root.mkdir(parents=True, exist_ok=True)
    with (root / "class_dict.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "r", "g", "b"])
        writer.writerows(CAMVID32_CLASS_DICT)
    colors = np.asarray([rgb for _, *rgb in CAMVID32_CLASS_DICT], np.uint8)
    for split, n in chosen.items():
        for i in range(n):
            image, labels, _ = _encode(seed, split, i, size, CAMVID32_SHAPES, CAMVID32_BANDS, _C32["Void"])
            stem = camvid_stem(split, i)
            _save_png(_image(image, labels, paint_labels, colors), root / split / f"{stem}.png")
            _save_png(colors[labels], root / f"{split}_labels" / f"{stem}_L.png")
    return root


# -- COCO -----------------------------------------------------------------------------------
def uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO uncompressed RLE ``{"size": [h, w], "counts": [...]}`` (column-major runs, zeros first)."""
    flat = np.asarray(mask, np.uint8).flatten(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        runs = [0, *runs]
    return {"size": list(mask.shape), "counts": [int(r) for r in runs]}


def compressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO compressed RLE (``counts`` a string) through pycocotools."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def mask_polygons(mask: np.ndarray) -> list[list[float]]:
    """Outer contours of a binary mask as COCO polygons (pixel-centre vertices + 0.5)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [(c.reshape(-1, 2).astype(np.float64) + 0.5).ravel().round(2).tolist() for c in contours if len(c) >= 3]


def _rasterised(segmentation: Any, h: int, w: int) -> np.ndarray:
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, dict) and isinstance(segmentation["counts"], str):
        return mask_utils.decode({"size": segmentation["size"], "counts": segmentation["counts"].encode()})
    rles = mask_utils.frPyObjects(segmentation, h, w)
    rle = mask_utils.merge(rles) if isinstance(rles, list) else rles
    return mask_utils.decode(rle)


class _COCOJson:
    def __init__(self) -> None:
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []

    def add_image(self, file_name: str, h: int, w: int) -> int:
        img_id = len(self.images) + 1
        self.images.append({"id": img_id, "file_name": file_name, "height": h, "width": w})
        return img_id

    def add(self, img_id: int, category: int, segmentation: Any, h: int, w: int, iscrowd: int = 0) -> None:
        m = _rasterised(segmentation, h, w)
        ys, xs = np.nonzero(m)
        bbox = (
            [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
            if len(xs)
            else [0.0] * 4
        )
        self.annotations.append({
            "id": len(self.annotations) + 1, "image_id": img_id, "category_id": category,
            "segmentation": segmentation, "area": float(m.sum()), "bbox": bbox, "iscrowd": iscrowd,
        })  # fmt: skip

    def dump(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        cats = [{"id": c, "name": n, "supercategory": "thing"} for c, n in COCO_CATEGORIES]
        info = {"description": "seglightning COCO-format fixture"}
        path.write_text(
            json.dumps({"info": info, "images": self.images, "annotations": self.annotations, "categories": cats})
        )


RECTS_FILE = "000000900001.jpg"


def coco_rects(h: int, w: int) -> list[tuple[int, tuple[int, int, int, int], str, int]]:
    """The hand-checkable image: (category, (x0, y0, x1, y1) half-open, encoding, iscrowd), in
    annotation order: a large airplane, a small bottle on it, a person crowd overlapping the
    airplane, and a toothbrush as compressed RLE."""
    assert h >= 48 and w >= 80, "the rectangle image needs at least 48x80 pixels"
    return [
        (5, (8, 8, 56, 40), "polygon", 0),
        (44, (24, 16, 40, 32), "polygon", 0),
        (1, (48, 24, 80, 48), "uncompressed_rle", 1),
        (90, (60, 2, 80, 12), "compressed_rle", 0),
    ]


def write_coco(
    root: str | Path,
    seed: int = 0,
    counts: Mapping[str, int] | None = None,
    size: Size = DEFAULT_SIZE,
    paint_labels: bool = False,
) -> Path:
    """annotations/instances_{split}2017.json + {split}2017/ JPEGs.

    Categories 1, 5, 44, 90 (non-contiguous). Per synthetic image: instance 1 -> a crowd
    (uncompressed RLE), instance 2 -> compressed RLE, the others -> polygons from
    ``cv2.findContours``. Each split also holds :data:`RECTS_FILE`, whose rectangles
    (:func:`coco_rects`) make the rasterisation, overlap and crowd rules checkable by hand.
    """
    root = Path(root)
    h, w = size
    cat_of = {c + 1: cid for c, (cid, _) in enumerate(COCO_CATEGORIES)}  # synthetic class -> category
    class_of = {cid: c for c, cid in cat_of.items()}
    for split, n in _counts(counts, splits=("train", "val"), fixture="coco").items():  # test2017 has no labels
        js = _COCOJson()
        folder = root / f"{split}2017"
        for i in range(n):
            image, labels, s = _encode(seed, split, i, size, (1, 2, 3, 4), (0,), None)
            name = f"{('train', 'val').index(split) * 100000 + i + 1:012d}.jpg"
            _save_jpg(_image(image, labels, paint_labels), folder / name)
            img_id = js.add_image(name, h, w)
            for k, cls in enumerate(s.instance_classes, start=1):
                m = (s.instance_ids == k).astype(np.uint8)
                polys = mask_polygons(m)
                if k == 1:
                    js.add(img_id, cat_of[int(cls)], uncompressed_rle(m), h, w, iscrowd=1)
                elif k == 2 or not polys:
                    js.add(img_id, cat_of[int(cls)], compressed_rle(m), h, w)
                else:
                    js.add(img_id, cat_of[int(cls)], polys, h, w)
        # the hand-checkable rectangles, painted crowd first then larger before smaller (the
        # order in which the semantic view rasterises them), each in its class's probe colour
        rects = coco_rects(h, w)
        canvas = np.full((h, w, 3), probe_colors()[0] if paint_labels else 90, np.uint8)
        for cat, (x0, y0, x1, y1), _, _ in sorted(
            rects, key=lambda r: (-r[3], -(r[1][2] - r[1][0]) * (r[1][3] - r[1][1]))
        ):
            canvas[y0:y1, x0:x1] = probe_colors()[class_of[cat]]
        img_id = js.add_image(RECTS_FILE, h, w)
        for cat, (x0, y0, x1, y1), enc, crowd in rects:
            m = np.zeros((h, w), np.uint8)
            m[y0:y1, x0:x1] = 1
            seg = {
                "polygon": [[x0, y0, x1, y0, x1, y1, x0, y1]],
                "uncompressed_rle": uncompressed_rle(m),
                "compressed_rle": compressed_rle(m),
            }[enc]
            js.add(img_id, cat, seg, h, w, iscrowd=crowd)
        _save_jpg(canvas, folder / RECTS_FILE)
        js.dump(root / "annotations" / f"instances_{split}2017.json")
    return root


# -- folder ---------------------------------------------------------------------------------
FOLDER_CLASSES = ("background", "disk", "square", "triangle", "cross")
FOLDER_COLORS = ((0, 0, 0), (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48))
FOLDER_VOID = (255, 255, 255)


def write_folder(
    root: str | Path,
    seed: int = 0,
    counts: Mapping[str, int] | None = None,
    size: Size = DEFAULT_SIZE,
    paint_labels: bool = False,
    split_lists: bool = True,
) -> Path:
    """images/ + masks/ + classes.yaml: even samples as index PNGs (255 = void), odd ones as RGB
    colour PNGs (void = white); ``split_lists`` writes splits/{split}.txt (else use val_ratio)."""
    root = Path(root)
    colors = np.zeros((256, 3), np.uint8)
    colors[: len(FOLDER_COLORS)] = FOLDER_COLORS
    colors[255] = FOLDER_VOID
    k = 0
    for split, n in _counts(counts).items():
        stems = []
        for i in range(n):
            image, labels, _ = _encode(seed, split, i, size, (1, 2, 3, 4), (0,), 255)
            stem = f"{split}_{i:03d}"
            _save_jpg(_image(image, labels, paint_labels), root / "images" / f"{stem}.jpg")
            mask = labels.astype(np.uint8)
            _save_png(mask if k % 2 == 0 else colors[mask], root / "masks" / f"{stem}.png")
            stems.append(stem)
            k += 1
        if split_lists:
            (root / "splits").mkdir(parents=True, exist_ok=True)
            (root / "splits" / f"{split}.txt").write_text("".join(f"{s}\n" for s in stems))
    lines = [
        "# classes of the seglightning folder fixture; class k = k-th name",
        f"classes: [{', '.join(FOLDER_CLASSES)}]",
        f"colors: [{', '.join(str(list(c)) for c in FOLDER_COLORS)}]",
        "ignore_index: 255",
        f"void_colors: [{list(FOLDER_VOID)}]",
    ]
    (root / "classes.yaml").write_text("\n".join(lines) + "\n")
    return root


FIXTURES: dict[str, Callable[..., Path]] = {
    "voc": write_voc,
    "voc_aug": write_voc_aug,
    "cityscapes": write_cityscapes,
    "camvid": write_camvid,
    "camvid32": write_camvid32,
    "coco": write_coco,
    "coco_voc": write_coco,
    "folder": write_folder,
}


def write_fixture(name: str, root: str | Path, seed: int = 0, **kwargs: Any) -> Path:
    """Write the fixture of dataset ``name`` into ``root`` and return the ``data.root`` to use."""
    if name not in FIXTURES:
        raise KeyError(f"no fixture writer for '{name}'; choose one of {sorted(FIXTURES)}")
    return FIXTURES[name](root, seed, **kwargs)
