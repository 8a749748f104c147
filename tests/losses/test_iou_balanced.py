"""iou_balanced on a hand-worked case: the value is CE (the normaliser keeps the positives' total),
the gradient of each positive pixel is scaled by w_i = IoU^eta * sum CE / sum IoU^eta CE."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from seglightning.losses import build_loss

from .cases import IGNORE, multiclass_case

# one 1x7 image, three classes, the last pixel void; rows are softmax probabilities
PROBS = [
    [0.7, 0.2, 0.1],
    [0.5, 0.3, 0.2],
    [0.1, 0.6, 0.3],
    [0.2, 0.5, 0.3],
    [0.25, 0.25, 0.5],
    [0.1, 0.1, 0.8],
    [0.3, 0.3, 0.4],
]
LABELS = [0, 0, 1, 1, 2, 2, IGNORE]


def hand_gradient(eta: float, background: int | None) -> list[list[float]]:
    valid = [i for i, y in enumerate(LABELS) if y != IGNORE]
    ce = {i: -math.log(PROBS[i][LABELS[i]]) for i in valid}
    iou = []
    for c in range(3):
        inter = sum(PROBS[i][c] for i in valid if LABELS[i] == c)
        union = sum(PROBS[i][c] for i in valid) + sum(1 for i in valid if LABELS[i] == c) - inter
        iou.append(inter / union)
    positive = [i for i in valid if LABELS[i] != background]
    quality = {i: iou[LABELS[i]] ** eta for i in positive}
    normaliser = sum(ce[i] for i in positive) / sum(quality[i] * ce[i] for i in positive)
    grad = []
    for i, (p, y) in enumerate(zip(PROBS, LABELS)):
        if y == IGNORE:
            grad.append([0.0, 0.0, 0.0])
            continue
        w = quality[i] * normaliser if i in positive else 1.0
        grad.append([w * (p[c] - (c == y)) / len(valid) for c in range(3)])
    return grad


def case() -> tuple[torch.Tensor, torch.Tensor]:
    logits = torch.tensor(PROBS, dtype=torch.float64).log().T.reshape(1, 3, 1, 7).requires_grad_()
    return logits, torch.tensor(LABELS).reshape(1, 1, 7)


@pytest.mark.parametrize(("eta", "background"), [(1.5, None), (1.5, 0), (3.0, 0)])
def test_gradient_by_hand(eta: float, background: int | None) -> None:
    logits, target = case()
    value = build_loss({"name": "iou_balanced", "eta": eta, "background_index": background})(logits, target)
    value.backward()
    expected = torch.tensor(hand_gradient(eta, background), dtype=torch.float64).T.reshape(1, 3, 1, 7)
    torch.testing.assert_close(logits.grad, expected, rtol=1e-10, atol=1e-12)
    # the value is cross-entropy: the normaliser keeps the total positive loss unchanged
    torch.testing.assert_close(value, F.cross_entropy(logits, target, ignore_index=IGNORE), rtol=1e-12, atol=0)


def test_the_weights_change_the_gradient() -> None:
    logits, target = case()
    build_loss("iou_balanced")(logits, target).backward()
    ce_logits = logits.detach().clone().requires_grad_()
    F.cross_entropy(ce_logits, target, ignore_index=IGNORE).backward()
    assert not torch.allclose(logits.grad, ce_logits.grad, rtol=1e-3, atol=0)


def test_eta_zero_is_cross_entropy_in_value_and_gradient() -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    ours, theirs = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    value = build_loss({"name": "iou_balanced", "eta": 0.0})(ours, target)
    expected = F.cross_entropy(theirs, target, ignore_index=IGNORE)
    value.backward()
    expected.backward()
    torch.testing.assert_close(value, expected, rtol=1e-6, atol=0)
    torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-5, atol=1e-9)
