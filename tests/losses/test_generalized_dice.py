"""generalized_dice against MONAI's GeneralizedDiceLoss (including its absent-class weights)."""

from __future__ import annotations

import pytest
import torch
from monai.losses import GeneralizedDiceLoss

from seglightning.losses import build_loss

from .cases import blocky_target, logits_like, masked_for_monai, multiclass_case


@pytest.mark.parametrize("per_image", [False, True])
def test_equals_monai_with_an_absent_class(per_image: bool) -> None:
    target = blocky_target(3, 16, 4, seed=5, void=False)
    target[1][target[1] == 2] = 0  # class 2 absent from image 1, class 4 from every image
    logits = logits_like(target, 5, seed=6)
    monai = GeneralizedDiceLoss(softmax=True, to_onehot_y=True, batch=not per_image)
    ours = build_loss({"name": "generalized_dice", "per_image": per_image})
    torch.testing.assert_close(ours(logits, target), monai(logits, target.unsqueeze(1)), rtol=1e-5, atol=0)


@pytest.mark.parametrize("per_image", [False, True])
def test_with_void_equals_monai_on_masked_inputs(per_image: bool) -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    monai = GeneralizedDiceLoss(batch=not per_image)
    ours = build_loss({"name": "generalized_dice", "per_image": per_image})
    torch.testing.assert_close(ours(logits, target), monai(*masked_for_monai(logits, target)), rtol=1e-5, atol=0)
