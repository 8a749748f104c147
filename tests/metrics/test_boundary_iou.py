"""Boundary IoU against a port of the boundary-iou-api's ``mask_to_boundary`` applied per image and
class to the binary masks, summed over the set (docs/design.md, Metrics)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from seglightning.metrics import BoundaryIoU, biou_name
from seglightning.metrics.band import band_width

VOID = 255


# Reference: bowenc0221/boundary-iou-api, boundary_iou/utils/boundary_utils.py, ``mask_to_boundary``
# (commit 8006aa98), ported as written; ``pixels`` replaces the ratio by a width in pixels.
def mask_to_boundary(mask: np.ndarray, dilation_ratio: float = 0.02, pixels: int | None = None) -> np.ndarray:
    h, w = mask.shape
    img_diag = np.sqrt(h**2 + w**2)
    dilation = int(round(dilation_ratio * img_diag)) if pixels is None else pixels
    if dilation < 1:
        dilation = 1
    new_mask = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    kernel = np.ones((3, 3), dtype=np.uint8)
    new_mask_erode = cv2.erode(new_mask, kernel, iterations=dilation)
    mask_erode = new_mask_erode[1 : h + 1, 1 : w + 1]
    return mask - mask_erode


def reference_counts(pairs, num_classes: int, dilation: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-class sums over ``pairs`` of ``|P_b & G_b & valid|`` and ``|(P_b | G_b) & valid|``."""
    inter, union = np.zeros(num_classes, np.int64), np.zeros(num_classes, np.int64)
    for pred, gt in pairs:
        valid = gt != VOID
        for c in range(num_classes):
            p = ((pred == c) & valid).astype(np.uint8)
            g = ((gt == c) & valid).astype(np.uint8)
            kw = {"pixels": int(dilation)} if dilation >= 1 else {"dilation_ratio": dilation}
            pb, gb = mask_to_boundary(p, **kw).astype(bool), mask_to_boundary(g, **kw).astype(bool)
            inter[c] += np.count_nonzero(pb & gb & valid)
            union[c] += np.count_nonzero((pb | gb) & valid)
    return inter, union


def random_case(seed: int, n: int, h: int, w: int, c: int, void: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Blobby label maps (smoothed noise) with void, and a prediction that is a shifted, noisier copy."""
    rng = np.random.default_rng(seed)
    noise = cv2.resize(rng.normal(size=(max(h // 6, 2), max(w // 6, 2), c)).astype(np.float32), (w, h))
    gt = noise.reshape(h, w, c).argmax(-1) if c > 1 else np.zeros((h, w), np.int64)
    gt = np.stack([np.roll(gt, k, axis=1) for k in range(n)]).astype(np.int64)
    pred = np.roll(gt, (1, -2), axis=(1, 2)).copy()
    flip = rng.random(pred.shape) < 0.03
    pred[flip] = rng.integers(0, c, flip.sum())
    gt[rng.random(gt.shape) < void] = VOID
    return pred, gt


def run(pairs, c: int, dilations) -> BoundaryIoU:
    metric = BoundaryIoU(c, dilation_ratio=dilations, ignore_index=VOID)
    for pred, gt in pairs:
        metric.update(torch.from_numpy(pred), torch.from_numpy(gt))
    return metric


def check(pairs, c: int, dilations) -> BoundaryIoU:
    metric = run(pairs, c, dilations)
    flat = [(p, g) for pred, gt in pairs for p, g in zip(pred, gt)]
    for t, dilation in enumerate(dilations):
        inter, union = reference_counts(flat, c, dilation)
        np.testing.assert_array_equal(metric.intersection[t].numpy(), inter)
        np.testing.assert_array_equal(metric.union[t].numpy(), union)
        expected = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
        np.testing.assert_allclose(metric.per_class()[t].numpy(), expected, rtol=1e-6, equal_nan=True)
        assert metric.compute()[dilation].item() == pytest.approx(np.nanmean(expected), rel=1e-6)
    return metric


def test_random_label_maps_with_void_several_sizes_and_widths():
    pairs = [random_case(0, 2, 40, 56, 4), random_case(1, 3, 33, 17, 4), random_case(2, 1, 64, 64, 4, void=0.3)]
    metric = check(pairs, 4, [0.02, 0.05, 1, 3])
    assert 0.05 < metric.compute()[0.02].item() < 0.95  # a non-trivial case


def test_objects_cut_by_the_frame_have_a_band_along_it():
    gt = np.zeros((1, 20, 30), np.int64)
    gt[0, :, :10] = 1  # touches three sides of the frame
    gt[0, 15:, 25:] = 2  # a corner
    pred = gt.copy()
    metric = check([(pred, gt)], 3, [1, 2, 0.1])
    assert metric.per_class()[0].tolist() == [1.0, 1.0, 1.0]  # perfect prediction, every band non-empty
    # whole-image class: its band is the frame ring alone
    whole = np.zeros((1, 9, 9), np.int64)
    m = check([(whole, whole)], 1, [2])
    assert m.union[0, 0].item() == 81 - 25


def test_thin_structures_and_class_only_in_prediction():
    gt = np.zeros((2, 32, 32), np.int64)
    gt[:, 10, 2:30] = 1  # a 1-px line
    gt[:, 20:22, 5:25] = 2  # a 2-px bar
    gt[1, 3, :] = VOID
    pred = gt.copy()
    pred[0, 11, 2:30] = 1  # thickened and shifted line
    pred[1, 20:22, 5:25] = 0  # bar missed
    pred[:, 28:31, 28:31] = 3  # a class only in the prediction
    metric = check([(pred, gt)], 4, [1, 2, 0.03])
    assert metric.per_class()[0, 3].item() == 0.0  # predicted but absent: 0, in the mean


def test_class_absent_everywhere_is_nan_and_left_out():
    pred, gt = random_case(3, 2, 24, 24, 2)
    metric = check([(pred, gt)], 3, [0.02])
    assert math.isnan(metric.per_class()[0, 2].item())
    assert metric.compute()[0.02].item() == pytest.approx(metric.per_class()[0, :2].double().mean().item(), rel=1e-6)


def test_logits_equal_indices_and_void_never_counts():
    pred, gt = random_case(4, 2, 30, 40, 3)
    logits = torch.nn.functional.one_hot(torch.from_numpy(pred), 3).permute(0, 3, 1, 2).float()
    a, b = BoundaryIoU(3, [0.02, 2]), BoundaryIoU(3, [0.02, 2])
    a.update(torch.from_numpy(pred), torch.from_numpy(gt))
    b.update(logits, torch.from_numpy(gt))
    assert torch.equal(a.intersection, b.intersection) and torch.equal(a.union, b.union)
    # changing the prediction under void pixels changes nothing
    other = pred.copy()
    other[gt == VOID] = (other[gt == VOID] + 1) % 3
    c = BoundaryIoU(3, [0.02, 2])
    c.update(torch.from_numpy(other), torch.from_numpy(gt))
    assert torch.equal(a.intersection, c.intersection) and torch.equal(a.union, c.union)
    with pytest.raises(ValueError, match="outside"):
        a.update(torch.full((1, 4, 4), 7), torch.zeros(1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="whole number"):
        BoundaryIoU(3, 2.5)


def test_per_image_counts_sum_to_the_state_and_split_states_merge_exactly():
    batches = [random_case(10 + s, 1 + s % 3, 24, 32, 4) for s in range(4)]
    single = run(batches, 4, [0.02, 3])
    r0, r1 = run(batches[:2], 4, [0.02, 3]), run(batches[2:], 4, [0.02, 3])
    last = r1.last_per_image
    assert last.shape == (2, 2, batches[3][0].shape[0], 4)
    r0.merge_state(r1)
    assert torch.equal(r0.intersection, single.intersection) and torch.equal(r0.union, single.union)
    alone = run([(batches[3][0][:1], batches[3][1][:1])], 4, [0.02, 3])
    assert torch.equal(last[0, :, 0], alone.intersection) and torch.equal(last[1, :, 0], alone.union)


def test_band_width_and_names():
    assert band_width(0.02, 512, 1024) == round(0.02 * math.hypot(512, 1024)) == 23
    assert band_width(0.001, 10, 10) == 1 and band_width(3, 10, 10) == 3
    assert biou_name(0.02) == "bIoU@0.02diag" and biou_name(3) == "bIoU@3px"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    pred, gt = random_case(7, 3, 64, 96, 5)
    cpu, gpu = BoundaryIoU(5, [0.02, 2]), BoundaryIoU(5, [0.02, 2]).cuda()
    cpu.update(torch.from_numpy(pred), torch.from_numpy(gt))
    gpu.update(torch.from_numpy(pred).cuda(), torch.from_numpy(gt).cuda())
    assert torch.equal(cpu.intersection, gpu.intersection.cpu()) and torch.equal(cpu.union, gpu.union.cpu())


def test_torch_path_matches_opencv_path(monkeypatch):
    """The device path (``max_pool2d``) on CPU tensors gives the OpenCV path's counts."""
    from seglightning.metrics import boundary_iou

    pairs = [random_case(20, 2, 37, 45, 5), random_case(21, 1, 16, 70, 5)]
    a = run(pairs, 5, [0.02, 1, 4])
    monkeypatch.setattr(boundary_iou, "boundary_bands", boundary_iou.torch_bands)
    b = run(pairs, 5, [0.02, 1, 4])
    assert torch.equal(a.intersection, b.intersection) and torch.equal(a.union, b.union)
