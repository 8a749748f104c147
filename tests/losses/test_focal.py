"""focal against kornia (softmax, after undoing kornia's division by C) and torchvision (sigmoid)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from kornia.losses import focal_loss as kornia_focal_loss
from torchvision.ops import sigmoid_focal_loss

from seglightning.losses import build_loss

from .cases import IGNORE, binary_case, multiclass_case

RTOL = 1e-5
WEIGHTS = [0.5, 1.0, 2.0, 1.5, 3.0]


def kornia_mean_over_valid(logits: torch.Tensor, target: torch.Tensor, **kwargs) -> torch.Tensor:
    """kornia's 'mean' divides by C x all pixels (void included): rescale to a mean over valid pixels."""
    value = kornia_focal_loss(logits, target, reduction="mean", ignore_index=IGNORE, **kwargs)
    return value * logits.shape[1] * target.numel() / (target != IGNORE).sum()


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ({}, {"alpha": None}),
        ({"alpha": 0.25}, {"alpha": 0.25}),
        ({"alpha": WEIGHTS}, {"alpha": None, "weight": torch.tensor(WEIGHTS)}),
        ({"gamma": 0.5, "alpha": 0.75}, {"alpha": 0.75, "gamma": 0.5}),
    ],
    ids=["alpha-none", "alpha-scalar", "alpha-per-class", "gamma-0.5"],
)
def test_multiclass_equals_kornia(ours: dict, theirs: dict) -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    expected = kornia_mean_over_valid(logits, target, **theirs)
    torch.testing.assert_close(build_loss({"name": "focal", **ours})(logits, target), expected, rtol=RTOL, atol=0)


def test_gamma_zero_is_cross_entropy() -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    expected = F.cross_entropy(logits, target, ignore_index=IGNORE)
    torch.testing.assert_close(build_loss({"name": "focal", "gamma": 0.0})(logits, target), expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize("alpha", [None, 0.25])
def test_binary_equals_torchvision_sigmoid_focal_loss(alpha: float | None) -> None:
    logits, target = binary_case(batch=3, size=16)
    valid = target != IGNORE
    expected = sigmoid_focal_loss(
        logits[:, 0][valid], target[valid].float(), alpha=-1 if alpha is None else alpha, gamma=2, reduction="mean"
    )
    ours = build_loss({"name": "focal", "mode": "binary", "alpha": alpha})(logits, target)
    torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)


def test_saturated_probabilities_keep_a_finite_gradient() -> None:
    target = torch.tensor([[[0, 1]]])
    logits = torch.tensor([[[[200.0, -200.0]], [[-200.0, 200.0]]]], requires_grad=True)
    value = build_loss({"name": "focal", "gamma": 0.5})(logits, target)
    value.backward()
    assert value.item() == 0.0 and torch.isfinite(logits.grad).all()


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="loss.gamma"):
        build_loss({"name": "focal", "gamma": -1.0})
    with pytest.raises(ValueError, match="loss.alpha"):
        build_loss({"name": "focal", "mode": "binary", "alpha": [0.1, 0.9]})
    logits, target = multiclass_case(classes=4)
    with pytest.raises(ValueError, match="loss.alpha"):
        build_loss({"name": "focal", "alpha": [1.0, 2.0]})(logits, target)
