"""Surface distances (HD95, ASSD, NSD) against MONAI's compute_hausdorff_distance(percentile=95),
compute_average_surface_distance(symmetric=True) and compute_surface_dice(class_thresholds=[t]),
per image and class, and the dataset-level aggregation (means over images with the class in both
masks, one-sided images counted beside)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from monai.metrics import (
    compute_average_surface_distance,
    compute_hausdorff_distance,
    compute_surface_dice,
)

from seglightning.metrics.surface import SurfaceDistances, mask_edges
from tests.metrics.two_processes import on_two_processes

VOID = 255
TOLERANCES = [1.0, 2.0, 3.5]


def monai_scores(pred: np.ndarray, gt: np.ndarray, k: int, tolerances=TOLERANCES) -> np.ndarray:
    """[HD95, ASSD, NSD@t...] of class ``k`` in one image by MONAI (void zeroed in both masks)."""
    valid = gt != VOID
    p = torch.from_numpy(((pred == k) & valid)[None, None].astype(np.float32))
    g = torch.from_numpy(((gt == k) & valid)[None, None].astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hd = compute_hausdorff_distance(p, g, include_background=True, percentile=95)
        asd = compute_average_surface_distance(p, g, include_background=True, symmetric=True)
        nsd = [compute_surface_dice(p, g, class_thresholds=[t], include_background=True) for t in tolerances]
    return np.array([float(hd), float(asd), *(float(v) for v in nsd)])


def random_case(seed: int, b: int, c: int, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Blobby label maps (smooth noise argmax), a shifted/perturbed prediction, void pixels, a thin
    1-px line and a class only in the prediction."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.nn.functional.interpolate(
        torch.randn(b, c, h // 4 + 1, w // 4 + 1, generator=g), size=(h, w), mode="bilinear", align_corners=False
    )
    target = noise.argmax(1)
    pred = (noise + 0.7 * torch.randn(noise.shape, generator=g)).argmax(1).roll((1, -2), (1, 2))
    target[:, h // 2, 3 : w - 3] = c - 1  # a thin line
    pred[:, h // 2 + 1, 5 : w - 1] = c - 1
    target[0, :, :3] = VOID  # void strip cutting objects
    target[-1, 2:5, 2:9] = VOID
    pred[0, 0, 0] = c - 2  # tiny blob, maybe only in the prediction
    return pred, target


def test_edges_are_monai_erosion_edges():
    from monai.metrics.utils import get_mask_edges

    rng = np.random.default_rng(0)
    for _ in range(5):
        mask = rng.random((17, 23)) < 0.6
        mask[0, :] = True  # touching the frame
        other = rng.random((17, 23)) < 0.5
        ep, eg = get_mask_edges(mask, other, crop=False)
        np.testing.assert_array_equal(mask_edges(mask).astype(bool), ep)
        np.testing.assert_array_equal(mask_edges(other).astype(bool), eg)


@pytest.mark.parametrize("seed,b,c,h,w", [(0, 2, 4, 32, 40), (1, 3, 6, 27, 51), (2, 1, 3, 64, 64)])
def test_per_image_values_equal_monai(seed, b, c, h, w):
    pred, target = random_case(seed, b, c, h, w)
    metric = SurfaceDistances(c, nsd_tolerance=TOLERANCES, ignore_index=VOID)
    metric.update(pred, target)
    per_image = metric.last_per_image
    got = np.stack([per_image[name] for name in metric.names])  # [S, B, C]
    pairs = 0
    for i in range(b):
        valid = target[i].numpy() != VOID
        for k in range(c):
            in_pred = bool(((pred[i].numpy() == k) & valid).any())
            in_gt = bool(((target[i].numpy() == k) & valid).any())
            if in_pred and in_gt:
                pairs += 1
                want = monai_scores(pred[i].numpy(), target[i].numpy(), k)
                np.testing.assert_allclose(got[0, i, k], want[0], rtol=1e-6, atol=1e-6)  # HD95
                np.testing.assert_allclose(got[1, i, k], want[1], rtol=1e-5)  # ASSD (MONAI sums in float32)
                np.testing.assert_allclose(got[2:, i, k], want[2:], rtol=1e-6, atol=0)  # NSD: exact counts
            else:
                assert np.isnan(got[:, i, k]).all()
    assert pairs >= 3


def test_dataset_means_counts_and_hand_worked_squares():
    # class 1: GT square 10x10 at (5,5); prediction the same square shifted right by 3 px
    target = torch.zeros(2, 30, 30, dtype=torch.long)
    pred = torch.zeros_like(target)
    target[:, 5:15, 5:15] = 1
    pred[0, 5:15, 8:18] = 1
    pred[1, 5:15, 5:15] = 1  # perfect in image 1
    target[1, 20:25, 20:25] = 2  # class 2 only in the ground truth of image 1: one-sided, no distance
    metric = SurfaceDistances(3, nsd_tolerance=[1, 3], ignore_index=VOID)
    metric.update(pred, target)
    per_class = metric.per_class()
    # image 0 by hand: edge pixels of a 10x10 square are its 36 border pixels; a 3-px shift puts the
    # vertical edges 3 px apart, so HD95 = 3; perfect image: every score is perfect
    want0 = monai_scores(pred[0].numpy(), target[0].numpy(), 1, [1, 3])
    assert want0[0] == pytest.approx(3.0)
    assert per_class["HD95"][1].item() == pytest.approx((want0[0] + 0.0) / 2, rel=1e-6)
    assert per_class["ASSD"][1].item() == pytest.approx((want0[1] + 0.0) / 2, rel=1e-5)
    assert per_class["NSD@1px"][1].item() == pytest.approx((want0[2] + 1.0) / 2, rel=1e-6)
    assert per_class["NSD@3px"][1].item() == pytest.approx(1.0)
    assert per_class["both"].tolist() == [2, 2, 0]
    assert per_class["one_sided"].tolist() == [0, 0, 1]
    assert np.isnan(per_class["HD95"][2].item())  # never a mean of infinities
    out = metric.compute()
    assert set(out) == {"HD95", "ASSD", "NSD@1px", "NSD@3px", "one_sided"}
    assert out["one_sided"].item() == 1
    assert out["HD95"].item() == pytest.approx(np.nanmean(per_class["HD95"].numpy()), rel=1e-6)


def test_void_pixels_are_zeroed_in_both_masks():
    target = torch.zeros(1, 20, 20, dtype=torch.long)
    target[0, 4:16, 4:16] = 1
    pred = target.clone()
    pred[0, 4:16, 14:18] = 1  # the prediction spills right, into a void region
    target[0, :, 16:] = VOID
    metric = SurfaceDistances(2, nsd_tolerance=1, ignore_index=VOID)
    metric.update(pred, target)
    assert metric.last_per_image["HD95"][0, 1] == 0.0
    np.testing.assert_allclose(
        metric.last_per_image["ASSD"][0],
        [monai_scores(pred[0].numpy(), target[0].numpy(), k, [1])[1] for k in range(2)],
    )


def test_logits_equal_indices_and_bad_input():
    pred, target = random_case(3, 2, 4, 24, 24)
    logits = torch.nn.functional.one_hot(pred, 4).permute(0, 3, 1, 2).float()
    a, b = SurfaceDistances(4), SurfaceDistances(4)
    a.update(pred, target)
    b.update(logits, target)
    for k, v in a.compute().items():
        torch.testing.assert_close(b.compute()[k], v, equal_nan=True)
    with pytest.raises(ValueError, match="nsd_tolerance"):
        SurfaceDistances(4, nsd_tolerance=-1)
    with pytest.raises(ValueError, match="outside"):
        a.update(pred, torch.full_like(target, 7))


def test_split_state_merge_is_exact():
    cases = [random_case(s, 2, 5, 24, 30) for s in range(4)]
    single = SurfaceDistances(5, nsd_tolerance=[1, 2])
    r0, r1 = SurfaceDistances(5, nsd_tolerance=[1, 2]), SurfaceDistances(5, nsd_tolerance=[1, 2])
    for i, (p, t) in enumerate(cases):
        single.update(p, t)
        (r0 if i % 2 else r1).update(p, t)
    r0.merge_state(r1)
    for k, v in single.per_class().items():
        torch.testing.assert_close(r0.per_class()[k], v, equal_nan=True, rtol=0, atol=0)


def _on_my_share(rank: int, world: int) -> dict[str, torch.Tensor]:
    m = SurfaceDistances(5, nsd_tolerance=[1, 2])
    for p, t in [random_case(s, 2, 5, 24, 30) for s in range(5)][rank::world]:
        m.update(p, t)
    with m.sync_context():
        return m.per_class()


@pytest.mark.slow
@pytest.mark.ddp
def test_ddp_two_processes_equal_single(tmp_path):
    got = on_two_processes(_on_my_share, tmp_path)
    single = SurfaceDistances(5, nsd_tolerance=[1, 2])
    for p, t in [random_case(s, 2, 5, 24, 30) for s in range(5)]:
        single.update(p, t)
    for k, v in single.per_class().items():
        torch.testing.assert_close(got[k], v, equal_nan=True, rtol=0, atol=0)
