"""sensitivity_specificity on a hand-worked case (Brosch 2015 / NiftyNet formula)."""

from __future__ import annotations

import math

import pytest
import torch

from seglightning.losses import build_loss

from .cases import IGNORE

EPS = 1e-5


def test_by_hand() -> None:
    probs = [[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.5, 0.3], [0.25, 0.25, 0.5], [0.3, 0.3, 0.4]]
    labels = [0, 1, 1, 2, IGNORE]
    # squared errors (g - p)^2 per class over the 4 valid pixels:
    #   class 0 (g = 1 0 0 0): 0.09 0.01 0.04 0.0625 -> sens 0.09/1, spec 0.1125/3
    #   class 1 (g = 0 1 1 0): 0.04 0.16 0.25 0.0625 -> sens 0.41/2, spec 0.1025/2
    #   class 2 (g = 0 0 0 1): 0.01 0.09 0.09 0.25   -> sens 0.25/1, spec 0.19/3
    r = 0.05
    sensitivity = 0.09 / (1 + EPS) + 0.41 / (2 + EPS) + 0.25 / (1 + EPS)
    specificity = 0.1125 / (3 + EPS) + 0.1025 / (2 + EPS) + 0.19 / (3 + EPS)
    image = r * sensitivity + (1 - r) * specificity
    logits = torch.tensor(probs, dtype=torch.float64).log().T.reshape(1, 3, 1, 5)
    target = torch.tensor(labels).reshape(1, 1, 5)
    assert math.isclose(build_loss("sensitivity_specificity")(logits, target).item(), image, rel_tol=1e-12)
    # per image, then the mean over images; r is configurable
    batch_logits = torch.cat([logits, torch.zeros_like(logits)])
    batch_target = torch.cat([target, torch.tensor([[[0, 0, 0, 0, 0]]])])
    # second image: uniform p = 1/3, all 5 pixels class 0 -> only class 0's sensitivity and the
    # specificity of classes 1 and 2 are non-zero
    other = 0.3 * 5 * (2 / 3) ** 2 / (5 + EPS) + 0.7 * 2 * 5 * (1 / 3) ** 2 / (5 + EPS)
    value = build_loss({"name": "sensitivity_specificity", "r": 0.3})(batch_logits, batch_target)
    image_r = 0.3 * sensitivity + 0.7 * specificity
    assert math.isclose(value.item(), (image_r + other) / 2, rel_tol=1e-12)


def test_r_is_validated() -> None:
    with pytest.raises(ValueError, match="loss.r"):
        build_loss({"name": "sensitivity_specificity", "r": 1.5})
