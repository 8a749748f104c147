"""Object recall by COCO size bucket (hand-worked objects of known sizes, components against
scipy.ndimage.label with 8-connectivity) and the Cityscapes benchmark's IoU/iIoU class/category
against cityscapesscripts' evalPixelLevelSemanticLabeling (evalInstLevelScore=True) on a fixture
with instances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from seglightning.metrics import ConfusionMetrics
from seglightning.metrics.cityscapes_instances import CityscapesInstanceIoU
from seglightning.metrics.objects import BUCKETS, ObjectRecall, image_objects
from tests.metrics.two_processes import on_two_processes

VOID = 255


def test_hand_worked_objects_of_known_sizes():
    # class 1: a 20x20 square (small, 400 px) half predicted; a 40x40 square (medium, 1600 px) fully
    # predicted; class 2: a 100x100 square (large) with 30 % predicted; 1-px diagonal touching
    # squares are one 8-connected object
    target = torch.zeros(1, 300, 300, dtype=torch.long)
    pred = torch.zeros_like(target)
    target[0, 0:20, 0:20] = 1
    pred[0, 0:10, 0:20] = 1  # recall 0.5: detected
    target[0, 50:90, 50:90] = 1
    pred[0, 50:90, 50:90] = 1
    target[0, 150:250, 150:250] = 2
    pred[0, 150:180, 150:250] = 2  # recall 0.3: missed
    target[0, 100, 100] = 2
    target[0, 101, 101] = 2  # diagonal pair: one object of 2 px
    pred[0, 100, 100] = 2
    metric = ObjectRecall(3, ignore_index=VOID)
    metric.update(pred, target)
    out = metric.compute()
    # background (class 0) is one big object: everything not in the squares, recall 1 - wrong pixels
    bg = target[0] == 0
    bg_recall = float((pred[0][bg] == 0).float().mean())
    assert out["recall@small"].item() == pytest.approx((0.5 + 0.5) / 2)
    assert out["detected@small"].item() == pytest.approx(1.0)
    assert out["recall@medium"].item() == pytest.approx(1.0)
    assert out["recall@large"].item() == pytest.approx((0.3 + bg_recall) / 2, rel=1e-6)
    assert out["detected@large"].item() == pytest.approx(0.5)
    per_class = metric.per_class()
    assert per_class["objects@small"].tolist() == [0, 1, 1]
    assert per_class["objects@medium"].tolist() == [0, 1, 0]
    assert per_class["objects@large"].tolist() == [1, 0, 1]
    assert np.isnan(per_class["recall@small"][0].item())
    assert metric.last_per_image["objects"].tolist() == [[2, 1, 2]]


def test_components_equal_scipy_label_8_connectivity_with_void():
    rng = np.random.default_rng(0)
    for _ in range(3):
        gt = rng.integers(0, 4, (40, 50))
        gt = ndimage.median_filter(gt, 3)
        gt[rng.random(gt.shape) < 0.05] = VOID
        pred = np.where(rng.random(gt.shape) < 0.7, gt, rng.integers(0, 4, gt.shape))
        pred[gt == VOID] = 0
        cls, area, hit = image_objects(pred, gt, 4, VOID)
        want = []
        for c in range(4):
            labels, n = ndimage.label(gt == c, structure=np.ones((3, 3)))
            for k in range(1, n + 1):
                obj = labels == k
                want.append((c, int(obj.sum()), int((pred[obj] == c).sum())))
        assert sorted(zip(cls.tolist(), area.tolist(), hit.tolist())) == sorted(want)


def test_instances_replace_components_and_buckets_follow_area():
    gt = np.zeros((120, 120), np.int64)
    gt[10:60, 10:40] = 1  # two touching instances of class 1: one component, two objects
    inst = np.zeros_like(gt)
    inst[10:60, 10:25] = 1001
    inst[10:60, 25:40] = 1002
    pred = gt.copy()
    pred[10:60, 25:40] = 0  # the second instance missed
    cls, area, hit = image_objects(pred, gt, 2, VOID, inst)
    objects = sorted(zip(cls.tolist(), area.tolist(), hit.tolist()))
    assert (1, 750, 750) in objects and (1, 750, 0) in objects
    assert [o for o in objects if o[0] == 0] == [(0, 120 * 120 - 1500, 120 * 120 - 1500)]
    metric = ObjectRecall(2)
    metric.update(torch.from_numpy(pred)[None], torch.from_numpy(gt)[None], torch.from_numpy(inst)[None])
    assert metric.per_class()["recall@small"].tolist()[1] == pytest.approx(0.5)
    assert metric.per_class()["detected@small"].tolist()[1] == pytest.approx(0.5)
    assert set(metric.compute()) == {f"{k}@{b}" for k in ("recall", "detected") for b in BUCKETS}


def _case(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    noise = torch.nn.functional.interpolate(torch.randn(2, 4, 10, 10, generator=g), size=(40, 40), mode="bilinear")
    target = noise.argmax(1)
    target[:, :2] = VOID
    pred = (noise + 0.8 * torch.randn(noise.shape, generator=g)).argmax(1)
    inst = torch.zeros_like(target)
    inst[:, 20:30, 5:15] = 1001
    return pred, target, inst


def _on_my_share(rank: int, world: int) -> dict[str, torch.Tensor]:
    m = ObjectRecall(4)
    for p, t, i in [_case(s) for s in range(5)][rank::world]:
        m.update(p, t, i)
    with m.sync_context():
        return m.per_class()


@pytest.mark.slow
@pytest.mark.ddp
def test_ddp_two_processes_equal_single(tmp_path):
    got = on_two_processes(_on_my_share, tmp_path)
    single = ObjectRecall(4)
    for p, t, i in [_case(s) for s in range(5)]:
        single.update(p, t, i)
    for k, v in single.per_class().items():
        torch.testing.assert_close(got[k], v, equal_nan=True, rtol=0, atol=0)


# ---------------------------------------------------------------- Cityscapes against cityscapesscripts
def test_cityscapes_four_numbers_equal_cityscapesscripts(tmp_path, monkeypatch):
    pytest.importorskip("cityscapesscripts")
    # cityscapesscripts 2.3 calls np.in1d, removed in NumPy 2.4: its documented equivalent
    monkeypatch.setattr(np, "in1d", lambda a, b, **kw: np.isin(a, b, **kw).ravel(), raising=False)
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as ev

    from seglightning.data.cityscapes import LABELS, CityscapesSegmentation
    from seglightning.testing import write_fixture

    root = write_fixture("cityscapes", tmp_path / "cs", seed=3, counts={"val": 4}, size=(96, 128))
    reader = CityscapesSegmentation(root, "val")
    reader.load_instance_ids = True
    train_to_label = np.zeros(256, np.uint8)
    for lb in LABELS:
        if lb.train_id != 255:
            train_to_label[lb.train_id] = lb.id
    rng = np.random.default_rng(0)
    confusion = ConfusionMetrics(19)
    iiou = CityscapesInstanceIoU(reader.class_names)
    preds, gts = [], []
    for k in range(len(reader)):
        item = reader[k]
        mask = item["mask"].astype(np.int64)
        assert item["instance_ids"].max() >= 1000
        pred = np.where(mask == VOID, rng.integers(0, 19, mask.shape), mask)
        flip = rng.random(mask.shape) < 0.25
        pred = np.where(flip, rng.integers(0, 19, mask.shape), pred)
        pred[:, : 8 + 4 * k] = 13  # a band predicted as car: false positives and misses
        p, t, i = (torch.from_numpy(a)[None] for a in (pred, mask, item["instance_ids"].astype(np.int64)))
        confusion.update(p, t)
        iiou.update(p, t, i)
        path = tmp_path / "results" / f"{reader.samples[k].id}_pred.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(train_to_label[pred]).save(path)
        preds.append(str(path))
        gts.append(str(reader.samples[k].mask))
    ev.args.quiet = True
    ev.args.JSONOutput = False
    ev.args.evalInstLevelScore = True
    result = ev.evaluateImgLists(preds, gts, ev.args)
    ours = iiou.scores(confusion.confmat)
    np.testing.assert_allclose(ours["IoU_class"].item(), result["averageScoreClasses"], rtol=1e-12)
    np.testing.assert_allclose(ours["iIoU_class"].item(), result["averageScoreInstClasses"], rtol=1e-9)
    np.testing.assert_allclose(ours["IoU_category"].item(), result["averageScoreCategories"], rtol=1e-12)
    np.testing.assert_allclose(ours["iIoU_category"].item(), result["averageScoreInstCategories"], rtol=1e-9)
    for c, name in enumerate(reader.class_names):
        want = result["classInstScores"][name]
        np.testing.assert_allclose(ours["iIoU"][c].item(), want, rtol=1e-9, equal_nan=True)
