"""dpce on hand-worked cases: weights 1 + proximity to the ground-truth boundary, in [1, 2]."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from seglightning.losses import build_loss, signed_distance_maps
from seglightning.losses.dpce import boundary_proximity

from .cases import IGNORE


def proximity(target: torch.Tensor, classes: int) -> torch.Tensor:
    return boundary_proximity(target, signed_distance_maps(target, classes, IGNORE), target != IGNORE)


def test_row_by_hand() -> None:
    # one row, classes 0 | 1: depth inside each region 3 2 1 | 1 2 3 -> (3 - d) / (3 - 1)
    target = torch.tensor([[[0, 0, 0, 1, 1, 1]]])
    torch.testing.assert_close(proximity(target, 2), torch.tensor([[[0.0, 0.5, 1.0, 1.0, 0.5, 0.0]]]))
    # logits: class-1 score z_i, class 0 at 0 -> CE_i = log(1 + e^z) (y=0) or log(1 + e^-z) (y=1)
    z = [0.5, -1.0, 2.0, 0.3, 1.2, -0.4]
    ce = [math.log1p(math.exp(v)) for v in z[:3]] + [math.log1p(math.exp(-v)) for v in z[3:]]
    weights = [1.0, 1.5, 2.0, 2.0, 1.5, 1.0]
    expected = sum(c * w for c, w in zip(ce, weights)) / 6
    logits = torch.tensor([[[[0.0] * 6], [z]]])
    value = build_loss("dpce")(logits, target, dist_map=signed_distance_maps(target, 2))
    assert math.isclose(value.item(), expected, rel_tol=1e-6)


def test_square_by_hand() -> None:
    # 5x5: a 3x3 square of class 1 in a ring of class 0
    target = torch.zeros(1, 5, 5, dtype=torch.long)
    target[0, 1:4, 1:4] = 1
    expected = torch.ones(5, 5)
    expected[2, 2] = 0.0  # square: depth 2 at the centre (max), 1 on its border
    for i, j in [(0, 0), (0, 4), (4, 0), (4, 4)]:  # ring: depth sqrt(2) at the corners (max), 1 elsewhere
        expected[i, j] = 0.0
    torch.testing.assert_close(proximity(target, 2)[0], expected)


def test_differs_from_ce_only_by_the_border_weights() -> None:
    # a class covering the whole image has no boundary: plain CE
    target = torch.full((1, 4, 4), 2)
    logits = torch.randn(1, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    value = build_loss("dpce")(logits, target, dist_map=signed_distance_maps(target, 3))
    torch.testing.assert_close(value, F.cross_entropy(logits, target), rtol=1e-6, atol=0)
    # void pixels are outside every class (as in the workers' maps), so they border the region
    target[0, 0, 0] = IGNORE
    assert torch.equal(proximity(target, 3)[0, 0, 1], torch.tensor(1.0))
    # a one-pixel-wide stripe is all border: weight 2 everywhere
    stripe = torch.tensor([[[0, 1, 0, 0]]])
    assert torch.equal(proximity(stripe, 2)[0, 0, 1], torch.tensor(1.0))


def test_weights_are_in_one_two_on_random_masks() -> None:
    target = torch.randint(0, 4, (3, 20, 20), generator=torch.Generator().manual_seed(1))
    target[:, :3] = IGNORE
    weights = 1 + proximity(target, 4)
    valid = target != IGNORE
    assert weights[valid].min() >= 1 and weights[valid].max() <= 2
