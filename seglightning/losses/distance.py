"""Distance maps in tensor form.

``signed_distance_maps`` batches the data workers' ``seglightning.data.extras.signed_distance_map``
(Kervadec et al. 2019, LIVIAETS ``one_hot2dist``: positive outside a class, <= 0 inside, 0 on the
inner border; absent classes, classes covering the whole image and void pixels are 0) for direct
use and tests; in training, ``dist_map`` comes from the workers.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..data.extras import boundary_distances, signed_distance_map


def signed_distance_maps(target: Tensor, num_classes: int, ignore_index: int = 255) -> Tensor:
    """Signed distance maps float32 [B,C,H,W] of an index target [B,H,W] (on the target's device)."""
    masks = target.detach().cpu().numpy()
    maps = np.zeros((masks.shape[0], num_classes, *masks.shape[1:]), dtype=np.float32)
    for i, mask in enumerate(masks):
        maps[i] = signed_distance_map(mask, num_classes, ignore_index)
    return torch.from_numpy(maps).to(target.device)


def unsigned_distance_field(mask: Tensor) -> Tensor:
    """Distance to the boundary of a binary mask [..., H, W], per 2-D slice, as float32 on the mask's
    device: ``edt(mask) + edt(~mask)`` (>= 1 on both sides), and 0 for a slice that is all
    foreground or all background (no boundary) — MONAI ``HausdorffDTLoss.distance_field``.

    Exact Euclidean transforms on the CPU (:func:`seglightning.data.extras.boundary_distances`;
    the mask is detached: no gradient flows).
    """
    flat = mask.detach().cpu().numpy().astype(bool).reshape(-1, *mask.shape[-2:])
    field = np.zeros(flat.shape, dtype=np.float32)
    for i, inside in enumerate(flat):
        if inside.any() and not inside.all():
            boundary_distances(inside, field[i], signed=False)
    return torch.from_numpy(field).reshape(mask.shape).to(mask.device)
