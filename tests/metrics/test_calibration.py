"""Calibration against torchmetrics ``MulticlassCalibrationError(norm="l1")`` on the flattened valid
pixels, and Brier / NLL by hand from ``torch.softmax`` (float64)."""

from __future__ import annotations

import math

import pytest
import torch
from torchmetrics.classification import MulticlassCalibrationError

from seglightning.metrics import Calibration, calibration

C, VOID = 5, 255


def case(scale: float, seed: int = 0, shape=(3, 12, 17), void: float = 0.15) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    b, h, w = shape
    target = torch.randint(0, C, shape, generator=g)
    logits = scale * torch.randn(b, C, h, w, generator=g)
    hit = torch.rand(b, 1, h, w, generator=g) < 0.6  # a confident, right class on 60 % of the pixels
    logits += scale * torch.nn.functional.one_hot(target, C).permute(0, 3, 1, 2) * hit
    target[torch.rand(shape, generator=g) < void] = VOID
    return logits, target


def oracle(batches) -> dict[str, float]:
    logits = torch.cat([lg.permute(0, 2, 3, 1).reshape(-1, C) for lg, _ in batches])
    target = torch.cat([t.reshape(-1) for _, t in batches])
    ece = MulticlassCalibrationError(num_classes=C, n_bins=15, norm="l1", ignore_index=VOID)
    ece.update(logits, target)
    keep = target != VOID
    probs = torch.softmax(logits[keep].double(), 1)
    y = target[keep]
    onehot = torch.nn.functional.one_hot(y, C).double()
    return {
        "ECE": ece.compute().item(),
        "Brier": ((probs - onehot) ** 2).sum(1).mean().item(),
        "NLL": (-probs.gather(1, y[:, None]).log()).mean().item(),
    }


def run(batches, **kw) -> Calibration:
    metric = Calibration(C, n_bins=15, ignore_index=VOID)
    for logits, target in batches:
        metric.update(logits, target, **kw)
    return metric


@pytest.mark.parametrize("scale", [0.01, 1.0, 4.0, 30.0])  # tiny, ordinary, confident, saturated logits
def test_equals_torchmetrics_and_hand_brier_nll(scale):
    batches = [case(scale, s, shape) for s, shape in enumerate([(2, 12, 17), (1, 9, 31), (3, 8, 8)])]
    got = {k: v.item() for k, v in run(batches).compute().items()}
    want = oracle(batches)
    assert got["ECE"] == pytest.approx(want["ECE"], abs=1e-6)
    assert got["Brier"] == pytest.approx(want["Brier"], rel=1e-5, abs=1e-7)
    assert got["NLL"] == pytest.approx(want["NLL"], rel=1e-5, abs=1e-7)
    if scale == 30.0:
        assert run(batches).count[-1] > 0  # confidences of exactly 1: torchmetrics' extra slot


def test_tied_logits_sit_on_a_bin_edge():
    # every class tied: confidence 1/C = 0.2 = 3/15, an edge of the 15 bins; argmax the first class
    target = torch.tensor([[[0, 1, 2, VOID], [3, 4, 0, 0]]])
    logits = torch.full((1, C, 2, 4), 7.0)  # outside [0, 1]: logits (zeros would read as probabilities)
    got = run([(logits, target)]).compute()
    want = oracle([(logits, target)])
    assert got["ECE"].item() == pytest.approx(want["ECE"], abs=1e-7)
    assert got["ECE"].item() == pytest.approx(abs(3 / 7 - 0.2), abs=1e-6)  # 3 of 7 valid pixels are class 0
    assert got["Brier"].item() == pytest.approx(want["Brier"], rel=1e-6)
    assert got["NLL"].item() == pytest.approx(math.log(C), rel=1e-6)


def test_probabilities_equal_logits_and_void_is_ignored():
    logits, target = case(2.0, 5)
    a = run([(logits, target)]).compute()
    b = run([(logits.softmax(1), target)]).compute()  # auto-detected as probabilities
    for k in ("ECE", "Brier"):
        assert a[k].item() == pytest.approx(b[k].item(), abs=1e-6)
    assert a["NLL"].item() == pytest.approx(b["NLL"].item(), rel=1e-5)
    other = logits.clone()
    other.permute(0, 2, 3, 1)[target == VOID] = 100.0  # anything under void pixels
    c = run([(other, target)]).compute()
    assert all(a[k].item() == c[k].item() for k in a)
    assert math.isnan(Calibration(C).compute()["ECE"].item())
    with pytest.raises(ValueError, match="outside"):
        run([(logits, torch.full_like(target, 9))])


def test_split_states_merge_bit_for_bit_and_per_image_rows_sum_to_the_state():
    batches = [case(3.0, s, (1 + s % 3, 10, 13)) for s in range(5)]
    single = run(batches)
    r0, r1 = run(batches[:2]), run(batches[2:])
    r0.merge_state(r1)
    for name in ("count", "conf_sum", "correct_sum", "brier_sum", "nll_sum"):
        assert torch.equal(getattr(r0, name), getattr(single, name)), name
    last = run(batches[-1:])
    assert torch.equal(last.last_per_image.sum(0)[:16].long(), last.count)
    assert torch.equal(last.last_per_image.sum(0)[16:32], last.conf_sum)
    rel = single.reliability()
    assert int(rel["count"].sum()) == int(single.count.sum()) and rel["accuracy"].shape == (15,)


def test_row_chunks_and_channels_last_give_the_oracle(monkeypatch):
    batches = [case(3.0, s, shape) for s, shape in enumerate([(2, 12, 17), (1, 9, 31)])]
    want = oracle(batches)
    whole = run(batches)
    monkeypatch.setattr(calibration, "_CHUNK", C * 31 * 2)  # two rows per step: 5 to 6 steps per image
    for layout in (torch.contiguous_format, torch.channels_last):
        chunked = run([(lg.contiguous(memory_format=layout), t) for lg, t in batches])
        assert torch.equal(chunked.count, whole.count) and torch.equal(chunked.correct_sum, whole.correct_sum)
        got = chunked.compute()
        assert got["ECE"].item() == pytest.approx(want["ECE"], abs=1e-6)
        assert got["Brier"].item() == pytest.approx(want["Brier"], rel=1e-5, abs=1e-7)
        assert got["NLL"].item() == pytest.approx(want["NLL"], rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("scale", [0.01, 4.0, 30.0])
def test_given_predictions_change_nothing(scale):
    """The suite hands its argmax predictions in (``predicted``): the states are those computed alone,
    bit for bit, ties included; a prediction map of another shape is refused."""
    batches = [case(scale, s, shape) for s, shape in enumerate([(2, 12, 17), (1, 9, 31)])]
    batches.append((torch.full((1, C, 2, 4), 7.0), torch.tensor([[[0, 1, 2, VOID], [3, 4, 0, 0]]])))  # ties
    alone, given = run(batches), Calibration(C, n_bins=15, ignore_index=VOID)
    for logits, target in batches:
        given.update(logits, target, from_logits=True, predicted=logits.argmax(1))
    for name in ("count", "conf_sum", "correct_sum", "brier_sum", "nll_sum"):
        assert torch.equal(getattr(given, name), getattr(alone, name)), name
    logits, target = batches[0]
    with pytest.raises(ValueError, match="predicted must be"):
        given.update(logits, target, predicted=logits.argmax(1)[:, :-1])
