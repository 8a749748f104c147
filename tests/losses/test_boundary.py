"""boundary and signed_distance_maps against MONAI's BoundaryLoss (LIVIAETS convention)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.losses import BoundaryLoss as MonaiBoundaryLoss

from seglightning.data.extras import signed_distance_map
from seglightning.losses import build_loss, signed_distance_maps

from .cases import (
    IGNORE,
    binary_case,
    blocky_target,
    logits_like,
    masked_for_monai,
    multiclass_case,
)

RTOL = 1e-5


def test_signed_distance_maps_equal_monai_distance_maps() -> None:
    target = blocky_target(3, 16, 4, seed=5, void=False)
    target[0] = 1  # a class covering the whole image has no boundary
    onehot = F.one_hot(target, 5).permute(0, 3, 1, 2).float()
    expected = MonaiBoundaryLoss().compute_distance_map(onehot)
    torch.testing.assert_close(signed_distance_maps(target, 5), expected, rtol=0, atol=1e-6)


def test_signed_distance_maps_batch_the_worker_function() -> None:
    _, target = multiclass_case(batch=2, size=12, classes=4)
    maps = signed_distance_maps(target, 4, IGNORE)
    assert maps.dtype == torch.float32 and maps.shape == (2, 4, 12, 12)
    for image, mask in zip(maps, target):
        np.testing.assert_array_equal(image.numpy(), signed_distance_map(mask.numpy(), 4, IGNORE))
    assert torch.count_nonzero(maps.permute(1, 0, 2, 3)[:, target == IGNORE]) == 0


def test_equals_monai_boundary_loss() -> None:
    target = blocky_target(3, 16, 4, seed=5, void=False)
    logits = logits_like(target, 5, seed=6)
    expected = MonaiBoundaryLoss(softmax=True, to_onehot_y=True)(logits, target.unsqueeze(1))
    ours = build_loss("boundary")(logits, target, dist_map=signed_distance_maps(target, 5))
    torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)


def test_with_void_equals_monai_on_masked_inputs_averaged_over_valid_pixels() -> None:
    logits, target = multiclass_case(batch=3, size=16, classes=5)
    # MONAI derives its maps from the masked one-hot: void is outside every class, as in the workers
    expected = MonaiBoundaryLoss()(*masked_for_monai(logits, target)) * target.numel() / (target != IGNORE).sum()
    ours = build_loss("boundary")(logits, target, dist_map=signed_distance_maps(target, 5))
    torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)


def test_binary_equals_monai_sigmoid() -> None:
    logits, target = binary_case(batch=3, size=16)
    target = torch.where(target == IGNORE, 0, target)
    expected = MonaiBoundaryLoss(sigmoid=True)(logits, target.unsqueeze(1).float())
    dist_map = signed_distance_maps(target, 2)[:, 1]
    ours = build_loss({"name": "boundary", "mode": "binary"})(logits, target, dist_map=dist_map)
    torch.testing.assert_close(ours, expected, rtol=RTOL, atol=0)


def test_mismatched_dist_map_is_rejected() -> None:
    logits, target = multiclass_case(classes=4)
    with pytest.raises(ValueError, match="dist_map"):
        build_loss("boundary")(logits, target, dist_map=signed_distance_maps(target, 3))


# -- Kervadec's recipe against a transcription of LIVIAETS/boundary-loss (losses.py, utils.py,
#    scheduler.py, isles.make gdl_surface_steal), written from reading the reference


def _reference_one_hot2dist(onehot: np.ndarray) -> np.ndarray:
    """utils.one_hot2dist of one image's one-hot [K,H,W]: edt(outside)*outside - (edt(inside)-1)*inside."""
    from scipy.ndimage import distance_transform_edt

    res = np.zeros(onehot.shape, dtype=np.float32)
    for k, posmask in enumerate(onehot.astype(bool)):
        if posmask.any():
            negmask = ~posmask
            res[k] = distance_transform_edt(negmask) * negmask - (distance_transform_edt(posmask) - 1) * posmask
    return res


def _reference_generalized_dice(probs: torch.Tensor, onehot: torch.Tensor, idc: list[int]) -> torch.Tensor:
    """losses.GeneralizedDice(idc): per image, w = 1/(G+1e-10)^2, mean over the batch."""
    pc, tc = probs[:, idc], onehot[:, idc]
    w = 1 / (tc.sum((2, 3)) + 1e-10) ** 2
    intersection = w * (pc * tc).sum((2, 3))
    union = w * (pc.sum((2, 3)) + tc.sum((2, 3)))
    return (1 - 2 * (intersection.sum(1) + 1e-10) / (union.sum(1) + 1e-10)).mean()


def _reference_surface(probs: torch.Tensor, dist_maps: torch.Tensor, idc: list[int]) -> torch.Tensor:
    """losses.SurfaceLoss(idc): mean of p * phi over the batch, the idc classes and the pixels."""
    return (probs[:, idc] * dist_maps[:, idc]).mean()


def _reference_weights(epoch: int) -> tuple[float, float]:
    """Weights [1, 0.01], then scheduler.StealWeight(0.01) applied after every epoch."""
    region, boundary = 1.0, 0.01
    for _ in range(epoch):
        region, boundary = max(0.1, region - 0.01), boundary + 0.01
    return region, boundary


@pytest.mark.parametrize("classes", [2, 3])
def test_kervadec_recipe_equals_the_reference(classes: int) -> None:
    from omegaconf import OmegaConf

    conf = Path(__file__).resolve().parents[2] / "conf" / "loss" / "dice_boundary_scheduled.yaml"
    loss = build_loss(OmegaConf.to_container(OmegaConf.load(conf)), ignore_index=IGNORE)
    target = blocky_target(2, 16, classes, seed=3, void=False)
    for image in target:  # every class present in every image (the reference's weights need it)
        assert set(image.unique().tolist()) == set(range(classes))
    logits = logits_like(target, classes, seed=4)
    probs = torch.softmax(logits, 1)
    onehot = F.one_hot(target, classes).permute(0, 3, 1, 2).float()
    reference_maps = torch.from_numpy(np.stack([_reference_one_hot2dist(o.numpy()) for o in onehot]))
    foreground = list(range(1, classes))
    for epoch in (0, 1, 37, 95, 150):
        loss.set_epoch(epoch)
        region, boundary = _reference_weights(epoch)
        expected = region * _reference_generalized_dice(probs, onehot, list(range(classes)))
        expected = expected + boundary * _reference_surface(probs, reference_maps, foreground)
        ours = loss(logits, target, dist_map=signed_distance_maps(target, classes))
        torch.testing.assert_close(ours, expected, rtol=1e-6, atol=0)


def test_class_selection_equals_the_reference_idc() -> None:
    target = blocky_target(2, 16, 4, seed=7, void=False)
    logits = logits_like(target, 4, seed=8)
    probs = torch.softmax(logits, 1)
    maps = signed_distance_maps(target, 4)
    for spec, idc in (({"classes": [3, 1]}, [1, 3]), ({"classes": "foreground", "background_index": 2}, [0, 1, 3]),
                      ({"classes": "foreground"}, [1, 2, 3]), ({}, [0, 1, 2, 3])):
        ours = build_loss({"name": "boundary", **spec})(logits, target, dist_map=maps)
        torch.testing.assert_close(ours, _reference_surface(probs, maps, idc), rtol=RTOL, atol=0, msg=str(spec))


@pytest.mark.parametrize(
    "spec, match",
    [({"classes": "fg"}, "loss.classes"), ({"classes": [1, 4]}, r"\[4\].*loss.classes"),
     ({"classes": "foreground", "background_index": 4}, "loss.background_index"),
     ({"classes": [1], "mode": "binary"}, "loss.classes")],
)
def test_bad_class_selection_names_the_key(spec: dict, match: str) -> None:
    logits, target = multiclass_case(classes=4)
    with pytest.raises(ValueError, match=match):
        build_loss({"name": "boundary", **spec})(logits, target, dist_map=signed_distance_maps(target, 4))
