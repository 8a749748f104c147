"""ConfusionMetrics against torchmetrics, hand computations and a split (DDP-style) evaluation."""

from __future__ import annotations

import pytest
import torch
from torchmetrics.classification import MulticlassF1Score, MulticlassJaccardIndex

from seglightning.metrics import ConfusionMetrics
from tests.metrics.two_processes import on_two_processes

C, IGN = 5, 255


def _random_batch(seed: int, b: int = 4, h: int = 17, w: int = 13, absent: int | None = 3):
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, C, (b, h, w), generator=g)
    logits = torch.randn(b, C, h, w, generator=g)
    if absent is not None:  # one class absent from GT and prediction -> NaN
        target[target == absent] = 0
        logits[:, absent] = -1e4
    void = torch.rand(b, h, w, generator=g) < 0.2
    target[void] = IGN
    return logits, target


def test_matches_torchmetrics_per_class_and_nan_convention():
    logits, target = _random_batch(0)
    # class 4: predicted but never in GT -> IoU 0 (not NaN)
    target[target == 4] = 1
    preds = logits.argmax(1)
    assert (preds == 4).any()
    m = ConfusionMetrics(C)
    m.update(logits, target)
    out = m.compute()

    tm_iou = MulticlassJaccardIndex(C, average="none", ignore_index=IGN)(preds, target)
    tm_f1 = MulticlassF1Score(C, average="none", ignore_index=IGN, multidim_average="global")(
        preds, target
    )
    present = torch.tensor([c != 3 for c in range(C)])
    torch.testing.assert_close(out["IoU"][present], tm_iou[present])
    torch.testing.assert_close(out["Dice"][present], tm_f1[present])
    # torchmetrics reports 0 for the class absent from both; we report NaN and exclude it
    assert torch.isnan(out["IoU"][3]) and torch.isnan(out["Dice"][3])
    assert out["IoU"][4] == 0 and out["Dice"][4] == 0
    torch.testing.assert_close(out["mIoU"], tm_iou[present].mean())
    torch.testing.assert_close(out["mDice"], tm_f1[present].mean())
    # torchmetrics (1.9) reports 0 per class for a class absent from both, but its macro
    # average leaves such classes out, as ours does; a predicted-but-absent class counts as 0 in both
    assert tm_iou[3] == 0
    tm_miou = MulticlassJaccardIndex(C, average="macro", ignore_index=IGN)(preds, target)
    tm_mf1 = MulticlassF1Score(C, average="macro", ignore_index=IGN)(preds, target)
    torch.testing.assert_close(out["mIoU"], tm_miou)
    torch.testing.assert_close(out["mDice"], tm_mf1)

    valid = target != IGN
    acc = (preds[valid] == target[valid]).float().mean()
    torch.testing.assert_close(out["pixel_acc"], acc)


def test_hand_worked_example():
    # GT  [0 0 1 255]   pred [0 1 1 2]  -> void pixel ignored
    # class 0: TP1 FN1 FP0 -> IoU 1/2, Dice 2/3; class 1: TP1 FP1 -> IoU 1/2, Dice 2/3
    # class 2: predicted only on the void pixel -> union 0 -> NaN
    target = torch.tensor([[[0, 0, 1, IGN]]])
    preds = torch.tensor([[[0, 1, 1, 2]]])
    m = ConfusionMetrics(3)
    m.update(preds, target)
    out = m.compute()
    torch.testing.assert_close(out["IoU"][:2], torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(out["Dice"][:2], torch.tensor([2 / 3, 2 / 3]))
    assert torch.isnan(out["IoU"][2])
    torch.testing.assert_close(out["mIoU"], torch.tensor(0.5))
    torch.testing.assert_close(out["pixel_acc"], torch.tensor(2 / 3))
    assert m.confmat.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]


def test_logits_and_indices_equal():
    logits, target = _random_batch(1)
    a, b = ConfusionMetrics(C), ConfusionMetrics(C)
    a.update(logits, target)
    b.update(logits.argmax(1), target)
    assert torch.equal(a.confmat, b.confmat)
    assert a.confmat.sum() == (target != IGN).sum()


@pytest.mark.parametrize("bad", [7, -1, 254])
def test_bad_target_labels_raise(bad):
    logits, target = _random_batch(2)
    target[0, 0, 0] = bad
    with pytest.raises(ValueError, match=rf"target contains labels \[{bad}\] outside \[0, 5\)"):
        ConfusionMetrics(C).update(logits, target)


def test_bad_inputs_raise():
    _, target = _random_batch(3)
    m = ConfusionMetrics(C)
    with pytest.raises(ValueError, match="preds contain class indices"):
        m.update(torch.full_like(target, C), target)
    with pytest.raises(ValueError, match="logits have 4 channels"):
        m.update(torch.randn(4, 4, 17, 13), target)
    with pytest.raises(ValueError, match="do not match"):
        m.update(torch.zeros(4, 17, 12, dtype=torch.long), target)
    with pytest.raises(ValueError, match="collides"):
        ConfusionMetrics(C, ignore_index=2)


def _batches(n: int):
    return [_random_batch(10 + i, b=1 + i % 3) for i in range(n)]


@pytest.mark.parametrize("split", [3, 5])  # 3: uneven split of 7 batches, 5: very uneven
def test_split_state_merge_equals_single(split):
    batches = _batches(7)
    single, r0, r1 = ConfusionMetrics(C), ConfusionMetrics(C), ConfusionMetrics(C)
    for logits, target in batches:
        single.update(logits, target)
    for logits, target in batches[:split]:
        r0.update(logits, target)
    for logits, target in batches[split:]:
        r1.update(logits, target)
    r0.merge_state(r1)
    for k, v in single.compute().items():
        torch.testing.assert_close(r0.compute()[k], v, equal_nan=True, rtol=0, atol=0)


def _on_my_share(rank: int, world: int) -> dict[str, torch.Tensor]:
    # uneven: rank 0 gets 4 batches, rank 1 gets 3, each batch exactly once
    m = ConfusionMetrics(C)
    for logits, target in _batches(7)[rank::world]:
        m.update(logits, target)
    return m.compute()


@pytest.mark.ddp
def test_ddp_two_processes_equal_single(tmp_path):
    got = on_two_processes(_on_my_share, tmp_path)
    single = ConfusionMetrics(C)
    for logits, target in _batches(7):
        single.update(logits, target)
    for k, v in single.compute().items():
        torch.testing.assert_close(got[k], v, equal_nan=True, rtol=0, atol=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    logits, target = _random_batch(4)
    cpu, gpu = ConfusionMetrics(C), ConfusionMetrics(C).cuda()
    cpu.update(logits, target)
    gpu.update(logits.cuda(), target.cuda())
    assert torch.equal(cpu.confmat, gpu.confmat.cpu())
    target[0, 0, 0] = 9
    with pytest.raises(ValueError, match="outside"):
        gpu.update(logits.cuda(), target.cuda())
