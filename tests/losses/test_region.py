"""dice / jaccard / tversky against segmentation_models_pytorch and MONAI."""

from __future__ import annotations

import pytest
import segmentation_models_pytorch as smp
import torch
from monai.losses import DiceLoss as MonaiDiceLoss

from seglightning.losses import build_loss

from .cases import (
    IGNORE,
    binary_case,
    blocky_target,
    logits_like,
    masked_for_monai,
    multiclass_case,
)

RTOL = 1e-5


def test_dice_default_equals_smp_dice_multiclass() -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)  # void rows, class 4 absent
    expected = smp.losses.DiceLoss(mode="multiclass", ignore_index=IGNORE)(logits, target)
    torch.testing.assert_close(build_loss("dice")(logits, target), expected, rtol=RTOL, atol=0)


def test_dice_smooth_is_milletari_and_twice_smp_smooth() -> None:
    # smp 0.6 scores (I + s) / (I + FP/2 + FN/2 + s) = (2I + 2s) / (P + G + 2s)
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    expected = smp.losses.DiceLoss(mode="multiclass", ignore_index=IGNORE, smooth=1.0)(logits, target)
    torch.testing.assert_close(build_loss({"name": "dice", "smooth": 2.0})(logits, target), expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize("per_image", [True, False])
@pytest.mark.parametrize("squared", [True, False])
def test_dice_all_classes_equals_monai(per_image: bool, squared: bool) -> None:
    target = blocky_target(3, 16, 4, seed=5, void=False)
    logits = logits_like(target, 5, seed=6)  # class 4 absent
    ours = build_loss({"name": "dice", "per_image": per_image, "classes": "all", "squared": squared, "smooth": 1e-5})
    monai = MonaiDiceLoss(softmax=True, to_onehot_y=True, squared_pred=squared, batch=not per_image)
    torch.testing.assert_close(ours(logits, target), monai(logits, target.unsqueeze(1)), rtol=RTOL, atol=0)


def test_dice_per_image_with_void_equals_monai_on_masked_inputs() -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    ours = build_loss({"name": "dice", "per_image": True, "classes": "all", "squared": True, "smooth": 1e-5})
    monai = MonaiDiceLoss(squared_pred=True)
    torch.testing.assert_close(ours(logits, target), monai(*masked_for_monai(logits, target)), rtol=RTOL, atol=0)


def test_dice_binary_equals_smp_binary() -> None:
    logits, target = binary_case(batch=3, size=16)
    expected = smp.losses.DiceLoss(mode="binary", ignore_index=IGNORE)(logits, target.unsqueeze(1))
    torch.testing.assert_close(
        build_loss({"name": "dice", "mode": "binary"})(logits, target), expected, rtol=RTOL, atol=0
    )


def test_jaccard_equals_smp() -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    expected = smp.losses.JaccardLoss(mode="multiclass", ignore_index=IGNORE)(logits, target)
    torch.testing.assert_close(build_loss("jaccard")(logits, target), expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize(("alpha", "beta"), [(0.3, 0.7), (0.6, 0.2)])
def test_tversky_equals_smp(alpha: float, beta: float) -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    expected = smp.losses.TverskyLoss(mode="multiclass", ignore_index=IGNORE, alpha=alpha, beta=beta)(logits, target)
    ours = build_loss({"name": "tversky", "alpha": alpha, "beta": beta})(logits, target)
    torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)


def test_tversky_default_weighs_false_negatives_more() -> None:
    loss = build_loss("tversky")
    assert (loss.alpha, loss.beta) == (0.3, 0.7)


def test_classes_option_is_validated() -> None:
    with pytest.raises(ValueError, match="loss.classes"):
        build_loss({"name": "dice", "classes": "some"})
    with pytest.raises(ValueError, match="loss.mode"):
        build_loss({"name": "dice", "mode": "multilabel"})
