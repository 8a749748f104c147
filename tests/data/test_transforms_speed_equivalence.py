"""``RandomScaleCrop`` / ``LutNormalize`` against the albumentations chain they replace.

The old ``train_default`` geometry was ``RandomScale -> PadIfNeeded(center, constant) -> RandomCrop``
(``Compose(mask_interpolation=INTER_NEAREST_EXACT)``). Both are driven here with the same scripted
random numbers (scale fraction, crop start fractions), so they choose the same scale and window:

- ``mask``: identical (both pick the source pixels of ``cv2.resize(INTER_NEAREST_EXACT)``);
- instance ``masks``: identical, except that padding is now 0 where the chain wrote ``fill_mask``;
- image: bilinear, warpAffine vs resize-then-crop; OpenCV fixed-point rounding only. Measured on
  uniform noise (the worst case: neighbours differ by up to 255) with OpenCV 5.0: max 1 grey level,
  mean ~0.13. Asserted: max <= 4 (the bound for a 1/32-px sample position on older OpenCV builds),
  mean <= 0.5;
- padding: image 0, mask ``ignore_index``; the output is always the crop size.
"""

from __future__ import annotations

import random

import albumentations as A
import cv2
import numpy as np
import pytest

from seglightning.data.scale_crop import LutNormalize, RandomScaleCrop
from seglightning.data.transforms import IMAGENET_MEAN, IMAGENET_STD, build_transforms

IGNORE = 255


class Scripted(random.Random):
    """A ``random.Random`` whose ``random()`` returns the given numbers (``uniform`` uses it too)."""

    def __init__(self, values):
        super().__init__(0)
        self.values = list(values)

    def random(self):
        return self.values.pop(0)


def legacy_geometry(h, w, scale):
    return A.Compose(
        [
            A.RandomScale(scale_limit=(scale[0] - 1, scale[1] - 1), interpolation=cv2.INTER_LINEAR,
                          mask_interpolation=cv2.INTER_NEAREST_EXACT, p=1.0),
            A.PadIfNeeded(h, w, border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=IGNORE),
            A.RandomCrop(h, w),
        ],
        mask_interpolation=cv2.INTER_NEAREST_EXACT,
    )  # fmt: skip


def run(compose, draws, **data):
    # the Compose itself draws first (its own p check), then its transforms in order
    compose.set_random_state(np.random.default_rng(0), Scripted([0.0, *draws]))
    return compose(**data)


def sample(rows, cols, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (rows, cols, 3), dtype=np.uint8)  # noise: worst case for interpolation
    mask = rng.integers(0, 19, (rows, cols), dtype=np.uint8)  # every pixel its own label
    instances = [(rng.random((rows, cols)) < 0.3).astype(np.uint8) for _ in range(3)]
    return image, mask, instances


# (source size, crop size): larger than the crop at every scale / padded at small scales / both ways
CASES = [((300, 520), (64, 96)), ((97, 131), (120, 160)), ((150, 90), (128, 128))]
DRAWS = [(0.0, 0.0, 0.0), (1 / 3, 0.5, 0.99), (0.5, 0.999, 0.25), (0.71, 0.3, 0.6), (0.999, 0.01, 0.999)]


@pytest.mark.parametrize("draws", DRAWS)
@pytest.mark.parametrize("source,crop", CASES)
def test_same_pixels_as_scale_pad_crop_chain(source, crop, draws):
    image, mask, instances = sample(*source)
    scale = (0.5, 2.0)
    old = run(legacy_geometry(*crop, scale), draws, image=image, mask=mask, masks=instances)
    new_tf = RandomScaleCrop(*crop, scale=scale, fill=0, fill_mask=IGNORE)
    new = run(
        A.Compose([new_tf], mask_interpolation=cv2.INTER_NEAREST_EXACT), draws, image=image, mask=mask, masks=instances
    )
    assert new_tf.params["scale"] == pytest.approx(scale[0] + draws[0] * (scale[1] - scale[0]))

    assert new["image"].shape == old["image"].shape == (*crop, 3) and new["image"].dtype == np.uint8
    assert new["mask"].shape == crop and np.array_equal(new["mask"], old["mask"])
    for got, want in zip(new["masks"], old["masks"], strict=True):
        assert got.shape == crop and np.array_equal(got, np.where(want == IGNORE, 0, want))  # padding: 0, not 255
    diff = np.abs(new["image"].astype(int) - old["image"].astype(int))
    assert diff.max() <= 4 and diff.mean() <= 0.5, (diff.max(), diff.mean())

    # padding (mask == ignore: labels here are < 19) is black in the image, and only padding is
    pad = new["mask"] == IGNORE
    nh, nw = (int(n * new_tf.params["scale"]) for n in source)
    assert pad.sum() == crop[0] * crop[1] - min(nh, crop[0]) * min(nw, crop[1])
    assert (new["image"][pad] == 0).all()


def test_no_scaling_is_a_plain_crop_and_draws_nothing_for_the_scale():
    image, mask, _ = sample(80, 100)
    tf = RandomScaleCrop(48, 64, scale=(1.0, 1.0))
    out = run(A.Compose([tf]), [0.5, 0.25], image=image, mask=mask)  # only the two crop draws
    y, x = int((80 - 48 + 1) * 0.5), int((100 - 64 + 1) * 0.25)
    assert np.array_equal(out["image"], image[y : y + 48, x : x + 64])
    assert np.array_equal(out["mask"], mask[y : y + 48, x : x + 64])


@pytest.mark.parametrize("s", [0.5, 0.618, 1.0, 1.5, 2.0])
def test_mask_and_image_stay_registered(s):
    # image = a smooth ramp of its own coordinates; the mask carries the coordinate of the source
    # pixel it took: decoding the bilinear image must land on (almost) that source pixel
    rows, cols = 64, 96
    yy, xx = np.mgrid[0:rows, 0:cols]
    image = np.stack([yy * 2, xx * 2, np.zeros_like(xx)], -1).astype(np.uint8)
    mask = xx.astype(np.uint8)
    tf = RandomScaleCrop(40, 56, scale=(s, s))
    out = run(A.Compose([tf]), [0.0, 0.5, 0.5], image=image, mask=mask)
    valid = out["mask"] != IGNORE
    x_img = out["image"][..., 1].astype(float) / 2
    x_mask = out["mask"].astype(float)
    # bilinear source position vs the nearest source column: half a pixel, + 1/4 for the uint8 image
    assert valid.any() and np.abs(x_img - x_mask)[valid].max() <= 0.75


def test_normalize_lut_is_bit_identical():
    image = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    for mean, std in [(IMAGENET_MEAN, IMAGENET_STD), ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))]:
        want = A.Normalize(mean=mean, std=std)(image=image)["image"]
        got = LutNormalize(mean=mean, std=std)(image=image)["image"]
        assert got.dtype == want.dtype == np.float32 and np.array_equal(got, want)
    gray = image[..., :1]
    assert np.array_equal(
        LutNormalize(mean=0.5, std=0.25)(image=gray)["image"], A.Normalize(mean=0.5, std=0.25)(image=gray)["image"]
    )


def test_train_default_output_and_seed_determinism():
    image, mask, instances = sample(120, 200)
    t = build_transforms({"preset": "train_default", "crop_size": [64, 96], "scale": [0.5, 2.0]})
    outs = []
    for _ in range(2):
        t.set_random_seed(7)
        outs.append(t(image=image, mask=mask, masks=instances))
    assert outs[0]["image"].shape == (64, 96, 3) and outs[0]["image"].dtype == np.float32
    assert np.array_equal(outs[0]["image"], outs[1]["image"]) and np.array_equal(outs[0]["mask"], outs[1]["mask"])
    assert all(m.shape == (64, 96) for m in outs[0]["masks"])


def test_seeded_transforms_draw_independently():
    # albumentations re-seeds every transform of a Compose with the same seed: the flip then followed
    # the scale exactly (flip <=> s < 1.25). build_transforms shares one stream instead.
    image, mask, _ = sample(60, 80)
    t = build_transforms({"preset": "train_default", "crop_size": [32, 32], "scale": [0.5, 2.0], "jitter": 0.2})
    scale_crop, flip, jitter = t.transforms[0], t.transforms[1], t.transforms[2]
    rows = []
    for seed in range(400):
        t.set_random_seed(seed)
        t(image=image, mask=mask)
        rows.append((scale_crop.params["scale"] < 1.25, bool(flip.params), bool(jitter.params)))
    small, flipped, jittered = np.array(rows).T
    assert 0.35 < flipped[small].mean() < 0.65 and 0.35 < flipped[~small].mean() < 0.65
    assert 0.65 < jittered[small].mean() < 0.95 and 0.65 < jittered[~small].mean() < 0.95


def test_full_pipeline_matches_legacy_pipeline_seed_for_seed():
    # the same seed gives the same draws to the new and the old op lists (same number of draws)
    image, mask, instances = sample(150, 260, seed=3)
    spec = {"preset": "train_default", "crop_size": [96, 128], "scale": [0.5, 2.0], "jitter": 0.0}
    new = build_transforms(spec)
    legacy = type(new)(
        [
            *legacy_geometry(96, 128, (0.5, 2.0)).transforms,
            A.HorizontalFlip(p=0.5),
            A.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ],
        mask_interpolation=cv2.INTER_NEAREST_EXACT,
    )
    std = np.array(IMAGENET_STD) * 255
    for seed in range(20):
        new.set_random_seed(seed)
        legacy.set_random_seed(seed)
        a, b = new(image=image, mask=mask, masks=instances), legacy(image=image, mask=mask, masks=instances)
        assert np.array_equal(a["mask"], b["mask"])
        assert np.abs((a["image"] - b["image"]) * std).max() <= 4  # grey levels
        for got, want in zip(a["masks"], b["masks"], strict=True):
            assert np.array_equal(got, np.where(want == IGNORE, 0, want))
