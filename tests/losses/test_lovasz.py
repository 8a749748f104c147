"""lovasz / lovasz_hinge against segmentation_models_pytorch (Berman's reference implementation)."""

from __future__ import annotations

import pytest
import segmentation_models_pytorch as smp
import torch
from segmentation_models_pytorch.losses.lovasz import _lovasz_softmax

from seglightning.losses import build_loss

from .cases import IGNORE, binary_case, multiclass_case

RTOL = 1e-5


@pytest.mark.parametrize("per_image", [False, True])
def test_lovasz_softmax_equals_smp(per_image: bool) -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)  # void rows, class 4 absent
    target[2, 8:] = IGNORE
    expected = smp.losses.LovaszLoss(mode="multiclass", per_image=per_image, ignore_index=IGNORE)(logits, target)
    ours = build_loss({"name": "lovasz", "per_image": per_image})(logits, target)
    torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)


def test_lovasz_softmax_all_classes_equals_reference() -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    expected = _lovasz_softmax(logits.softmax(1), target, classes="all", ignore=IGNORE)
    ours = build_loss({"name": "lovasz", "classes": "all"})(logits, target)
    torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)


def test_per_image_counts_an_all_void_image_as_zero() -> None:
    # Berman's reference returns 0 for an all-void image (smp's generator mean cannot add it)
    logits, target = multiclass_case(batch=2, size=16, classes=5)
    target[1] = IGNORE
    single = smp.losses.LovaszLoss(mode="multiclass", per_image=True, ignore_index=IGNORE)(logits[:1], target[:1])
    ours = build_loss({"name": "lovasz", "per_image": True})(logits, target)
    torch.testing.assert_close(ours, single / 2, rtol=RTOL, atol=0)


@pytest.mark.parametrize("per_image", [True, False])
def test_lovasz_hinge_equals_smp_binary(per_image: bool) -> None:
    logits, target = binary_case(batch=3, size=16)
    expected = smp.losses.LovaszLoss(mode="binary", per_image=per_image, ignore_index=IGNORE)(logits[:, 0], target)
    ours = build_loss({"name": "lovasz_hinge", "per_image": per_image})(logits, target)
    torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)
