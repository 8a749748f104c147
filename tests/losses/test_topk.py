"""topk against a hand computation with torch.topk."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F

from seglightning.losses import build_loss

from .cases import IGNORE, multiclass_case


@pytest.mark.parametrize("k", [10.0, 33.3, 100.0])
def test_equals_mean_of_the_hardest_valid_pixels(k: float) -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    valid = target != IGNORE
    per_pixel = F.cross_entropy(logits, target, ignore_index=IGNORE, reduction="none")[valid]
    keep = math.ceil(Fraction(str(k)) / 100 * per_pixel.numel())  # void pixels excluded from the count
    expected = torch.topk(per_pixel, keep).values.mean()
    torch.testing.assert_close(build_loss({"name": "topk", "k": k})(logits, target), expected, rtol=1e-5, atol=0)


def test_k_100_is_cross_entropy() -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    expected = F.cross_entropy(logits, target, ignore_index=IGNORE)
    torch.testing.assert_close(build_loss({"name": "topk", "k": 100})(logits, target), expected, rtol=1e-5, atol=0)


def test_k_is_validated() -> None:
    with pytest.raises(ValueError, match="loss.k"):
        build_loss({"name": "topk", "k": 0})
