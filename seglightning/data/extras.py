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

import numpy as np
from scipy.ndimage import distance_transform_edt


def signed_distance_map(mask: np.ndarray, num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """Signed distance maps [C,H,W] (float32) of an index mask [H,W]; see module docstring."""
    mask = np.asarray(mask)
    out = np.zeros((num_classes, *mask.shape), dtype=np.float32)
    void = mask == ignore_index
    for c in np.unique(mask[~void]):
        inside = mask == c
        outside = ~inside
        if not outside.any():  # the class covers the whole image: no boundary, no distance
            continue
        out[c] = distance_transform_edt(outside) * outside - (distance_transform_edt(inside) - 1) * inside
    out[:, void] = 0.0
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
