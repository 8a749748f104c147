"""The scores from counts (seglightning.metrics.functional) by hand, on numpy and torch alike, and
against torchmetrics where the conventions agree (torchmetrics gives 0 where we give NaN: an empty
union)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import multiclass_f1_score, multiclass_jaccard_index

from seglightning.metrics.functional import (
    confusion_counts,
    dice,
    f_measure,
    iou,
    mean_dice,
    mean_iou,
    nan_mean,
    pixel_accuracy,
    ratio,
)
from seglightning.metrics.image_counts import ImageCounts

# rows ground truth, columns prediction; class 2 in neither mask, class 3 predicted only
CONFMAT = [[5, 1, 0, 2], [3, 4, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
TP, FP, FN = [5, 4, 0, 0], [3, 1, 0, 2], [3, 3, 0, 0]
IOU = [5 / 11, 4 / 8, np.nan, 0.0]
DICE = [10 / 16, 8 / 12, np.nan, 0.0]


@pytest.fixture(params=["numpy", "torch"])
def array(request):
    """Build counts of the parametrised kind: int64 numpy (true division gives float64), float64 torch
    (int64 tensors would divide in float32, torch's default dtype)."""
    if request.param == "numpy":
        return lambda values: np.asarray(values, np.int64)
    return lambda values: torch.tensor(values, dtype=torch.float64)


def as_list(values) -> list[float]:
    return np.asarray(values.tolist(), np.float64).tolist()


def test_counts_and_scores_by_hand(array):
    tp, fp, fn = confusion_counts(array(CONFMAT))
    assert (tp.tolist(), fp.tolist(), fn.tolist()) == (TP, FP, FN)
    np.testing.assert_allclose(as_list(iou(tp, fp, fn)), IOU, rtol=1e-15)
    np.testing.assert_allclose(as_list(dice(tp, fp, fn)), DICE, rtol=1e-15)
    assert float(mean_iou(tp, fp, fn)) == pytest.approx((5 / 11 + 4 / 8 + 0) / 3, rel=1e-15)
    assert float(mean_dice(tp, fp, fn)) == pytest.approx((10 / 16 + 8 / 12 + 0) / 3, rel=1e-15)
    assert float(pixel_accuracy(array(CONFMAT))) == pytest.approx(9 / 15, rel=1e-15)


def test_empty_cases_are_nan_without_a_warning(array):
    zero = array([0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(as_list(iou(zero, zero, zero))).all()
        assert np.isnan(as_list(ratio(zero, zero))).all()
        assert np.isnan(float(pixel_accuracy(array([[0, 0], [0, 0]]))))
        assert np.isnan(float(nan_mean(iou(zero, zero, zero))))  # every union empty: no mean


def test_nan_mean_over_the_last_axis_skips_nan(array):
    values = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [0.5, 0.5, 0.5]])
    values = values if isinstance(array([0]), np.ndarray) else torch.from_numpy(values)
    np.testing.assert_array_equal(as_list(nan_mean(values)), [2.0, np.nan, 0.5])


def test_mean_iou_skips_classes_with_an_empty_union():
    tp, fp, fn = np.array([3, 0, 0]), np.array([1, 2, 0]), np.array([0, 0, 0])
    assert mean_iou(tp, fp, fn) == pytest.approx((3 / 4 + 0) / 2)


def test_means_broadcast_over_leading_axes():
    rng = np.random.default_rng(0)
    tp, fp, fn = (rng.integers(0, 5, (4, 3, 6)) for _ in range(3))
    expected = [[mean_iou(tp[i, j], fp[i, j], fn[i, j]) for j in range(3)] for i in range(4)]
    np.testing.assert_array_equal(mean_iou(tp, fp, fn), expected)


def test_f_measure_is_the_harmonic_mean_and_dice_is_f1():
    assert f_measure(np.float64(0.5), np.float64(1.0)) == pytest.approx(2 / 3)
    assert np.isnan(f_measure(np.float64(0.0), np.float64(0.0)))
    tp, fp, fn = (np.asarray(v, np.float64) for v in (TP, FP, FN))
    f1 = f_measure(ratio(tp, tp + fp), ratio(tp, tp + fn))
    np.testing.assert_allclose(f1[:2], np.asarray(DICE[:2]), rtol=1e-15)


def test_equal_to_torchmetrics_where_the_union_is_not_empty():
    g = torch.Generator().manual_seed(0)
    c = 6
    target = torch.randint(0, c - 1, (3, 20, 20), generator=g)  # class 5 never in the ground truth
    preds = torch.randint(0, c - 2, (3, 20, 20), generator=g)  # class 4 never predicted either
    target[0, :4] = 255
    valid = target != 255
    confmat = torch.bincount(target[valid] * c + preds[valid], minlength=c * c).view(c, c)
    tp, fp, fn = confusion_counts(confmat.double())
    kwargs = dict(num_classes=c, average="none", ignore_index=255)
    present = (tp + fp + fn) > 0
    assert not present[5] and present[:4].all()
    jaccard, f1 = multiclass_jaccard_index(preds, target, **kwargs), multiclass_f1_score(preds, target, **kwargs)
    torch.testing.assert_close(iou(tp, fp, fn)[present].float(), jaccard[present])
    torch.testing.assert_close(dice(tp, fp, fn)[present].float(), f1[present])
    assert torch.isnan(iou(tp, fp, fn)[5]) and torch.isnan(dice(tp, fp, fn)[5])
    macro = dict(num_classes=c, average="macro", ignore_index=255)
    torch.testing.assert_close(mean_iou(tp, fp, fn).float(), multiclass_jaccard_index(preds, target, **macro))
    torch.testing.assert_close(mean_dice(tp, fp, fn).float(), multiclass_f1_score(preds, target, **macro))


def test_numpy_and_torch_agree():
    """Per class to the bit; the means up to the summation order of numpy and torch (an ulp)."""
    rng = np.random.default_rng(1)
    tp, fp, fn = (rng.integers(0, 1000, (50, 19)).astype(np.float64) for _ in range(3))
    tp[:, 3] = fp[:, 3] = fn[:, 3] = 0
    on_torch = [torch.from_numpy(v) for v in (tp, fp, fn)]
    for score in (iou, dice):
        np.testing.assert_array_equal(score(tp, fp, fn), score(*on_torch).numpy())
    for score in (mean_iou, mean_dice):
        np.testing.assert_allclose(score(tp, fp, fn), score(*on_torch).numpy(), rtol=1e-15)


def test_image_counts_scores_and_select():
    counts = ImageCounts(
        ["a", "b"], np.array([TP, [0] * 4]), np.array([FP, [1, 0, 0, 0]]), np.array([FN, [0] * 4]),
        {"bF1": np.array([[1.0] * 4, [0.0] * 4])}, {"bIoU.I": (None, np.array([[1] * 4, [2] * 4]))},
    )
    np.testing.assert_allclose(counts.iou()[0], IOU, rtol=1e-15)
    np.testing.assert_allclose(counts.dice()[0], DICE, rtol=1e-15)
    np.testing.assert_array_equal(counts.iou()[1], [0.0, np.nan, np.nan, np.nan])
    assert counts.valid_pixels.tolist() == [sum(TP) + sum(FN), 0]
    picked = counts.select(["b"])
    assert picked.ids == ["b"] and picked.fp.tolist() == [[1, 0, 0, 0]]
    assert picked.bf1["bF1"].tolist() == [[0.0] * 4] and picked.blocks["bIoU.I"][1].tolist() == [[2] * 4]
