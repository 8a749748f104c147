"""ce / wce / bce against torch's own cross-entropies; median-frequency weights by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seglightning.data.statistics import class_frequency
from seglightning.losses import build_loss
from seglightning.losses.class_weights import median_frequency_weights

from .cases import IGNORE, binary_case, multiclass_case

RTOL = 1e-5


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_ce_equals_torch_cross_entropy(smoothing: float) -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    ours = build_loss({"name": "ce", "label_smoothing": smoothing}, ignore_index=IGNORE)(logits, target)
    expected = F.cross_entropy(logits, target, ignore_index=IGNORE, label_smoothing=smoothing)
    torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_wce_with_a_weight_list_equals_torch_weighted_cross_entropy(smoothing: float) -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    weight = [0.3, 1.0, 2.5, 0.7, 4.0]
    ours = build_loss({"name": "wce", "class_weight": weight, "label_smoothing": smoothing})(logits, target)
    expected = F.cross_entropy(
        logits, target, weight=torch.tensor(weight), ignore_index=IGNORE, label_smoothing=smoothing
    )
    torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)


# two 2x2 masks; class 3 never occurs
MASKS = [np.array([[0, 0], [1, IGNORE]]), np.array([[0, 2], [2, 2]])]
# freq_c = pixels of c / valid pixels of the images containing c
HAND_FREQUENCY = [3 / 7, 1 / 3, 3 / 4, 0.0]
# median over the occurring classes = 3/7; alpha_c = (3/7) / freq_c; absent class -> 0
HAND_WEIGHTS = [1.0, 9 / 7, 4 / 7, 0.0]


def test_class_frequency_by_hand() -> None:
    np.testing.assert_allclose(class_frequency(MASKS, num_classes=4, ignore_index=IGNORE), HAND_FREQUENCY, rtol=1e-12)


def test_median_frequency_weights_by_hand() -> None:
    torch.testing.assert_close(median_frequency_weights(HAND_FREQUENCY), torch.tensor(HAND_WEIGHTS), rtol=1e-6, atol=0)


def test_wce_median_frequency_calls_class_frequency_once_and_weights_ce() -> None:
    calls = []

    def frequency() -> np.ndarray:
        calls.append(1)
        return np.array(HAND_FREQUENCY)

    loss = build_loss("wce", ignore_index=IGNORE, num_classes=4, class_frequency=frequency)
    logits, target = multiclass_case(batch=2, size=12, classes=4)
    value = loss(logits, target)
    loss(logits, target)
    assert len(calls) == 1
    expected = F.cross_entropy(logits, target, weight=torch.tensor(HAND_WEIGHTS), ignore_index=IGNORE)
    torch.testing.assert_close(value, expected, rtol=RTOL, atol=0)


def test_class_frequency_rejects_labels_out_of_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        class_frequency([np.array([[0, 7]])], num_classes=4)


def test_wce_errors_name_the_config_key() -> None:
    with pytest.raises(ValueError, match="class_frequency"):
        build_loss("wce")
    with pytest.raises(ValueError, match="loss.class_weight"):
        build_loss({"name": "wce", "class_weight": [1.0, 2.0]}, num_classes=4)
    with pytest.raises(ValueError, match="loss.class_weight"):
        build_loss({"name": "wce", "class_weight": "inverse"})


def test_bce_equals_torch_on_valid_pixels() -> None:
    logits, target = binary_case(batch=3, size=16)
    valid = target != IGNORE
    for pos_weight in (None, 3.0):
        ours = build_loss({"name": "bce", "pos_weight": pos_weight})(logits, target)
        expected = F.binary_cross_entropy_with_logits(
            logits[:, 0][valid],
            target[valid].float(),
            pos_weight=None if pos_weight is None else torch.tensor(pos_weight),
        )
        torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)


def test_bce_rejects_multichannel_logits() -> None:
    logits, target = multiclass_case()
    with pytest.raises(ValueError, match="mode=binary"):
        build_loss("bce")(logits, target)
