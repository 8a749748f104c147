"""Per-sample training targets computed in the data workers (after augmentation).

A loss or model lists the extras it needs in ``requires``; the datamodule computes them here on
the final (augmented, cropped) mask, so no step pays for them on the main process.

- ``dist_map``: per-class signed Euclidean distance map, float32 [C,H,W] (Kervadec et al. 2019,
  LIVIAETS/boundary-loss ``one_hot2dist`` convention): for a class present in the image,
  ``d = edt(outside) * outside - (edt(inside) - 1) * inside`` — positive outside the region,
  <= 0 inside (0 on the inner border). A class that is absent is all zeros. Void pixels count as
  outside every class and their distance is set to 0, so they add nothing to a loss.
- ``edge``: binary boundary band, uint8 [H,W] (Takikawa et al. 2019, Gated-SCNN's
  ``onehot_to_binary_edges``): pixels within ``radius`` (2) of a boundary between two classes,
  computed from per-class distance transforms. Void pixels belong to no class and are never edge.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from scipy.ndimage import distance_transform_edt


def boundary_distances(inside: np.ndarray, out: np.ndarray, signed: bool) -> None:
    """Exact Euclidean distances of a binary mask [H,W] with pixels on both sides, written into
    ``out`` (float32 [H,W], C-contiguous). With ``to_inside`` each pixel's distance to the nearest
    inside pixel (0 inside) and ``to_outside`` its distance to the nearest outside pixel (0 outside),
    as scipy's ``distance_transform_edt(~inside)`` / ``(inside)``:

    - ``signed``: ``to_inside - to_outside + inside`` (the boundary loss's signed map: positive
      outside, ``1 - to_outside`` <= 0 inside, 0 on the inner border);
    - otherwise: ``to_inside + to_outside`` (the Hausdorff-DT distance field, >= 1 everywhere).

    OpenCV's exact transform (``DIST_L2`` with ``DIST_MASK_PRECISE``; Felzenszwalb &
    Huttenlocher 2012) gives ``sqrt`` of the exact integer squared distance. ``to_inside`` is
    written straight into ``out``; ``to_outside`` is computed and added on the region's bounding
    box grown by one pixel only (it is 0 elsewhere): the grown ring is outside, and clamping any
    farther outside pixel onto the box only brings it closer, so the crop is exact.
    """
    if out.dtype != np.float32 or out.shape != inside.shape or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float32 array of shape {inside.shape}")
    inside_u8 = inside.view(np.uint8) if inside.dtype == np.bool_ else inside.astype(np.uint8)
    cv2.distanceTransform(1 - inside_u8, cv2.DIST_L2, cv2.DIST_MASK_PRECISE, dst=out)
    x, y, w, h = cv2.boundingRect(inside_u8)
    rows = slice(max(y - 1, 0), y + h + 1)
    cols = slice(max(x - 1, 0), x + w + 1)
    box = np.ascontiguousarray(inside_u8[rows, cols])
    to_outside = cv2.distanceTransform(box, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    if signed:
        out[rows, cols] += box - to_outside
    else:
        out[rows, cols] += to_outside


def signed_distance_map(mask: np.ndarray, num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """Signed distance maps [C,H,W] (float32) of an index mask [H,W]; see module docstring."""
    mask = np.asarray(mask)
    out = np.zeros((num_classes, *mask.shape), dtype=np.float32)
    void = mask == ignore_index
    void_pixels = np.flatnonzero(void)  # a flat index: faster to assign than the mask (docs/design-notes.md)
    for c in np.flatnonzero(np.bincount(mask[~void] if len(void_pixels) else mask.ravel())):
        inside = mask == c
        if inside.all():  # the class covers the whole image: no boundary, no distance
            continue
        boundary_distances(inside, out[c], signed=True)
        out[c].reshape(-1)[void_pixels] = 0.0
    return out


def edge_band(mask: np.ndarray, num_classes: int, ignore_index: int = 255, radius: int = 2) -> np.ndarray:
    """Binary class-boundary band of the given radius, uint8 [H,W]; see module docstring."""
    mask = np.asarray(mask)
    acc = np.zeros(mask.shape, dtype=np.float64)
    valid = mask != ignore_index
    for c in np.unique(mask[valid]):
        inside = np.pad(mask == c, 1, mode="edge")
        # distance to the nearest pixel of the other side; 1 on both sides of the boundary
        dist = distance_transform_edt(inside) + distance_transform_edt(~inside)
        dist = dist[1:-1, 1:-1]
        dist[dist > radius] = 0
        acc += dist
    edge = (acc > 0) & valid
    return edge.astype(np.uint8)


EXTRAS: dict[str, Callable[..., np.ndarray]] = {
    "dist_map": signed_distance_map,
    "edge": edge_band,
}
