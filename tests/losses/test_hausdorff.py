"""hausdorff (HD-DT) against MONAI's HausdorffDTLoss."""

from __future__ import annotations

import torch
from monai.losses import HausdorffDTLoss

from seglightning.losses import build_loss, signed_distance_maps
from seglightning.losses.distance import unsigned_distance_field

from .cases import IGNORE, blocky_target, logits_like, masked_for_monai, multiclass_case

RTOL = 1e-5


def test_distance_field_equals_monai() -> None:
    target = blocky_target(4, 16, 3, seed=2, void=False)
    masks = torch.stack(
        [
            target == 0,
            target == 1,
            torch.zeros_like(target, dtype=torch.bool),
            torch.ones_like(target, dtype=torch.bool),
        ]
    )
    expected = HausdorffDTLoss().distance_field(masks.float().reshape(16, 1, 16, 16))
    torch.testing.assert_close(unsigned_distance_field(masks).reshape(16, 1, 16, 16), expected, rtol=0, atol=1e-6)


def test_equals_monai_hausdorff_dt_loss() -> None:
    target = blocky_target(3, 16, 4, seed=5, void=False)
    target[0] = 2  # a class covering a whole image
    logits = 2 * logits_like(target, 5, seed=6)
    expected = HausdorffDTLoss(alpha=2.0, include_background=True, softmax=True, to_onehot_y=True)(
        logits, target.unsqueeze(1)
    )
    ours = build_loss("hausdorff")(logits, target, dist_map=signed_distance_maps(target, 5))
    torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)


def test_with_void_equals_monai_on_masked_inputs_averaged_over_valid_pixels() -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    logits = 2 * logits
    monai = HausdorffDTLoss(alpha=2.0, include_background=True)
    expected = monai(*masked_for_monai(logits, target)) * target.numel() / (target != IGNORE).sum()
    ours = build_loss("hausdorff")(logits, target, dist_map=signed_distance_maps(target, 5))
    torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)
