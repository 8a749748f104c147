"""boundary and signed_distance_maps against MONAI's BoundaryLoss (LIVIAETS convention)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.losses import BoundaryLoss as MonaiBoundaryLoss

from seglightning.data.extras import signed_distance_map
from seglightning.losses import build_loss, signed_distance_maps

from .cases import (
    IGNORE,
    binary_case,
    blocky_target,
    logits_like,
    masked_for_monai,
    multiclass_case,
)

RTOL = 1e-5


def test_signed_distance_maps_equal_monai_distance_maps() -> None:
    target = blocky_target(3, 16, 4, seed=5, void=False)
    target[0] = 1  # a class covering the whole image has no boundary
    onehot = F.one_hot(target, 5).permute(0, 3, 1, 2).float()
    expected = MonaiBoundaryLoss().compute_distance_map(onehot)
    torch.testing.assert_close(signed_distance_maps(target, 5), expected, rtol=0, atol=1e-6)


def test_signed_distance_maps_batch_the_worker_function() -> None:
    _, target = multiclass_case(batch=2, size=12, classes=4)
    maps = signed_distance_maps(target, 4, IGNORE)
    assert maps.dtype == torch.float32 and maps.shape == (2, 4, 12, 12)
    for image, mask in zip(maps, target):
        np.testing.assert_array_equal(image.numpy(), signed_distance_map(mask.numpy(), 4, IGNORE))
    assert torch.count_nonzero(maps.permute(1, 0, 2, 3)[:, target == IGNORE]) == 0


def test_equals_monai_boundary_loss() -> None:
    target = blocky_target(3, 16, 4, seed=5, void=False)
    logits = logits_like(target, 5, seed=6)
    expected = MonaiBoundaryLoss(softmax=True, to_onehot_y=True)(logits, target.unsqueeze(1))
    ours = build_loss("boundary")(logits, target, dist_map=signed_distance_maps(target, 5))
    torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)


def test_with_void_equals_monai_on_masked_inputs_averaged_over_valid_pixels() -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    # MONAI derives its maps from the masked one-hot: void is outside every class, as in the workers
    expected = MonaiBoundaryLoss()(*masked_for_monai(logits, target)) * target.numel() / (target != IGNORE).sum()
    ours = build_loss("boundary")(logits, target, dist_map=signed_distance_maps(target, 5))
    torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)


def test_binary_equals_monai_sigmoid() -> None:
    logits, target = binary_case(batch=3, size=16)
    target = torch.where(target == IGNORE, 0, target)
    expected = MonaiBoundaryLoss(sigmoid=True)(logits, target.unsqueeze(1).float())
    dist_map = signed_distance_maps(target, 2)[:, 1]
    ours = build_loss({"name": "boundary", "mode": "binary"})(logits, target, dist_map=dist_map)
    torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)


def test_mismatched_dist_map_is_rejected() -> None:
    logits, target = multiclass_case(classes=4)
    with pytest.raises(ValueError, match="dist_map"):
        build_loss("boundary")(logits, target, dist_map=signed_distance_maps(target, 3))
