"""Distance maps (OpenCV exact EDT, cropped) against scipy's exact ``distance_transform_edt``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from seglightning.data.extras import boundary_distances, signed_distance_map
from seglightning.losses.distance import unsigned_distance_field

IGNORE = 255


def _scipy_signed(mask: np.ndarray, num_classes: int) -> np.ndarray:
    """The scipy definition (Kervadec et al. 2019 / LIVIAETS ``one_hot2dist``), written out."""
    out = np.zeros((num_classes, *mask.shape), np.float64)
    void = mask == IGNORE
    for c in np.unique(mask[~void]):
        inside = mask == c
        if inside.all():
            continue
        out[c] = ndimage.distance_transform_edt(~inside) * ~inside - (
            ndimage.distance_transform_edt(inside) - 1
        ) * inside
    out[:, void] = 0
    return out


def _blobs(rng: np.random.Generator, h: int, w: int, classes: int, sigma: float) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal((classes, h, w)), (0, sigma, sigma))
    return field.argmax(0).astype(np.int64)


# odd sizes: small images take OpenCV's IPP path, large ones its own (both must be exact)
@pytest.mark.parametrize(("h", "w", "sigma"), [(7, 5, 1.0), (37, 61, 3.0), (131, 257, 6.0), (300, 517, 2.0)])
def test_signed_distance_map_equals_scipy(h: int, w: int, sigma: float) -> None:
    rng = np.random.default_rng(h)
    mask = _blobs(rng, h, w, 4, sigma)
    mask[rng.random((h, w)) < 0.02] = IGNORE
    mask[0, :] = 3  # a class touching the border
    mask[h // 2, w // 3] = 4  # a single-pixel class
    ours = signed_distance_map(mask, 6, IGNORE)
    expected = _scipy_signed(mask, 6)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-5)
    assert ours.dtype == np.float32 and np.abs(expected).max() > 2  # non-trivial distances
    assert not ours[5].any()  # absent class


def test_full_and_thin_classes() -> None:
    mask = np.zeros((9, 40), np.int64)
    assert not signed_distance_map(mask, 2).any()  # a class covering the image: no distance
    mask[4, :] = 1  # a one-pixel line across the image
    np.testing.assert_allclose(signed_distance_map(mask, 2), _scipy_signed(mask, 2), atol=1e-5)


def test_boundary_distances_crop_is_exact_near_the_border() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        h, w = rng.integers(2, 60, size=2)
        inside = rng.random((h, w)) < rng.uniform(0.05, 0.95)
        inside[0, 0], inside[-1, -1] = True, False
        to_inside, to_outside = ndimage.distance_transform_edt(~inside), ndimage.distance_transform_edt(inside)
        signed, field = np.full((2, h, w), np.nan, dtype=np.float32)  # every pixel must be written
        boundary_distances(inside, signed, signed=True)
        boundary_distances(inside, field, signed=False)
        np.testing.assert_allclose(signed, to_inside - to_outside + inside, atol=1e-5)
        np.testing.assert_allclose(field, to_inside + to_outside, atol=1e-5)


def test_boundary_distances_rejects_an_output_it_cannot_write_into() -> None:
    inside = np.zeros((5, 7), dtype=bool)
    inside[1:3, 2:4] = True
    for out in (np.zeros((5, 7)), np.zeros((7, 5), np.float32), np.zeros((5, 14), np.float32)[:, ::2]):
        with pytest.raises(ValueError, match="C-contiguous float32 array of shape \\(5, 7\\)"):
            boundary_distances(inside, out, signed=True)


def test_unsigned_distance_field_equals_scipy() -> None:
    rng = np.random.default_rng(1)
    masks = torch.from_numpy(rng.random((2, 3, 33, 47)) < 0.3)
    masks[0, 1] = False  # no foreground
    masks[1, 2] = True  # no background
    field = unsigned_distance_field(masks)
    for i, j in np.ndindex(2, 3):
        m = masks[i, j].numpy()
        expected = np.zeros(m.shape)
        if m.any() and not m.all():
            expected = ndimage.distance_transform_edt(m) + ndimage.distance_transform_edt(~m)
        np.testing.assert_allclose(field[i, j].numpy(), expected, atol=1e-5)
