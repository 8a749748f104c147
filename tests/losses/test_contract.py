"""The loss contract, checked for every registered loss (multiclass, and binary where it exists):
float64 gradcheck, ignore_index invariance, all-void batch -> 0 with a finite gradient, unknown
extras accepted, missing extras -> a clear error, and convergence of a 1x1-conv model."""

from __future__ import annotations

import pytest
import torch

from .cases import (
    BINARY_CASES,
    CASES,
    IGNORE,
    binary_case,
    blocky_target,
    extras_for,
    family_losses,
    make_loss,
    mean_iou,
    multiclass_case,
)

ALL = [pytest.param(name, False, id=name) for name in CASES] + [
    pytest.param(name, True, id=f"{name}-binary") for name in BINARY_CASES
]


# the weight of these losses is detached by design, so a numerical Jacobian (which sees it move)
# cannot match; their gradient is checked against a hand computation in their own test file
DETACHED_WEIGHTS = {"iou_balanced"}


def inputs(binary: bool, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    return binary_case(**kwargs) if binary else multiclass_case(**kwargs)


def test_every_family_loss_is_covered() -> None:
    assert family_losses() == set(CASES) | set(BINARY_CASES)


@pytest.mark.parametrize(("name", "binary"), [p for p in ALL if p.id not in DETACHED_WEIGHTS])
def test_gradcheck_float64(name: str, binary: bool) -> None:
    logits, target = inputs(binary, batch=2, size=6)
    logits = logits.double().requires_grad_()
    loss = make_loss(name, binary)
    extras = extras_for(loss, target, logits.shape[1], torch.float64)
    assert torch.autograd.gradcheck(lambda x: loss(x, target, **extras), (logits,), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize(("name", "binary"), ALL)
def test_void_logits_change_neither_value_nor_gradient(name: str, binary: bool) -> None:
    logits, target = inputs(binary)
    loss = make_loss(name, binary)
    extras = extras_for(loss, target, logits.shape[1])
    void = (target == IGNORE).unsqueeze(1).expand_as(logits)
    changed = torch.where(void, logits + 10 * torch.randn_like(logits), logits)
    values, grads = [], []
    for x in (logits, changed):
        x = x.clone().requires_grad_()
        value = loss(x, target, **extras)
        value.backward()
        values.append(value.detach())
        grads.append(x.grad)
    torch.testing.assert_close(values[0], values[1], rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-6, atol=1e-9)
    assert torch.count_nonzero(grads[0][void]) == 0


@pytest.mark.parametrize(("name", "binary"), ALL)
def test_all_void_batch_is_zero_with_finite_gradient(name: str, binary: bool) -> None:
    logits, target = inputs(binary)
    target = torch.full_like(target, IGNORE)
    loss = make_loss(name, binary)
    logits.requires_grad_()
    value = loss(logits, target, **extras_for(loss, target, logits.shape[1]))
    assert value.requires_grad and value.item() == 0.0
    value.backward()
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize(("name", "binary"), ALL)
def test_unknown_extras_are_ignored(name: str, binary: bool) -> None:
    logits, target = inputs(binary)
    loss = make_loss(name, binary)
    extras = extras_for(loss, target, logits.shape[1])
    plain = loss(logits, target, **extras)
    noisy = loss(
        logits, target, **extras, aux_logits=torch.randn_like(logits), edge=torch.ones_like(target), meta={"id": 1}
    )
    torch.testing.assert_close(plain, noisy, rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(n for n in CASES if make_loss(n).requires))
def test_missing_extra_names_loss_and_datamodule_option(name: str) -> None:
    logits, target = multiclass_case()
    with pytest.raises(ValueError, match=rf"loss '{name}' needs the batch extra 'dist_map'.*data\.extras"):
        make_loss(name)(logits, target)


def synthetic_batch(channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed batch a per-pixel linear classifier can segment: each class has its own colour."""
    classes = max(channels, 2)
    target = blocky_target(4, 24, classes, seed=3, block=4)
    colours = 2 * torch.eye(3)[:classes] - 1
    label = torch.where(target == IGNORE, 0, target)
    noise = 0.3 * torch.randn(4, 3, 24, 24, generator=torch.Generator().manual_seed(4))
    return colours[label].permute(0, 3, 1, 2) + noise, target


@pytest.mark.parametrize(("name", "binary"), ALL)
def test_one_by_one_conv_converges(name: str, binary: bool) -> None:
    channels = 1 if binary else 3
    image, target = synthetic_batch(channels)
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, channels, kernel_size=1)
    loss = make_loss(name, binary, **({"class_weight": [1.0, 2.0, 0.5]} if name == "wce" else {}))
    extras = extras_for(loss, target, channels)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)

    def predict() -> torch.Tensor:
        logits = model(image)
        return (logits[:, 0] > 0).long() if binary else logits.argmax(1)

    with torch.no_grad():
        start_loss, start_iou = (
            loss(model(image), target, **extras).item(),
            mean_iou(predict(), target, max(channels, 2)),
        )
    for _ in range(60):
        optimizer.zero_grad()
        value = loss(model(image), target, **extras)
        value.backward()
        optimizer.step()
    with torch.no_grad():
        end_loss, end_iou = loss(model(image), target, **extras).item(), mean_iou(predict(), target, max(channels, 2))
    assert end_loss < start_loss
    assert end_iou > max(start_iou, 0.9), (start_iou, end_iou)
