import pytest
import torch

from seglightning.optim import build_optimizer, build_scheduler, schedule_factor


def test_poly_and_cosine_factors_by_hand():
    assert schedule_factor("poly", 0, 100) == 1.0
    assert schedule_factor("poly", 50, 100, power=0.9) == pytest.approx(0.5**0.9)
    assert schedule_factor("poly", 100, 100) == 0.0
    assert schedule_factor("cosine", 50, 100, min_ratio=0.1) == pytest.approx(0.1 + 0.9 * 0.5)
    assert schedule_factor("cosine", 100, 100, min_ratio=0.1) == pytest.approx(0.1)


def test_linear_warmup_then_schedule():
    # warmup over 10 steps from 0.001: step 5 -> 0.001 + 0.999 * 0.5, times poly(5/100)
    expected = (0.001 + 0.999 * 0.5) * (1 - 0.05) ** 0.9
    assert schedule_factor("poly", 5, 100, warmup=10) == pytest.approx(expected)
    assert schedule_factor("poly", 10, 100, warmup=10) == pytest.approx(0.9**0.9)


def test_scheduler_steps_learning_rate():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = build_optimizer([p], name="sgd", lr=0.1)
    sched = build_scheduler(opt, total_steps=4, name="poly", power=1.0)["scheduler"]
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.1, 0.075, 0.05, 0.025])


def test_onecycle_and_unknown_names():
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(1))], name="adamw", lr=1e-3)
    assert isinstance(build_scheduler(opt, 10, name="onecycle")["scheduler"], torch.optim.lr_scheduler.OneCycleLR)
    with pytest.raises(KeyError, match="scheduler.name"):
        build_scheduler(opt, 10, name="step")
    with pytest.raises(KeyError, match="optim.name"):
        build_optimizer([torch.nn.Parameter(torch.zeros(1))], name="lamb")
    assert [schedule_factor("constant", step, 10) for step in range(11)] == [1.0] * 11
