"""build_loss: spec forms, defaults, compound terms and schedules, errors, and every conf/loss file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from seglightning.losses import (
    LOSSES,
    CompoundLoss,
    SegLoss,
    WeightSchedule,
    build_loss,
    register_loss,
)
from seglightning.losses.cross_entropy import CrossEntropyLoss
from seglightning.losses.region import DiceLoss

from .cases import CASES, IGNORE, extras_for, multiclass_case

CONF = Path(__file__).resolve().parents[2] / "conf" / "loss"


def test_spec_forms() -> None:
    assert type(build_loss("ce")) is CrossEntropyLoss
    dice = build_loss({"name": "dice", "per_image": True})
    assert type(dice) is DiceLoss and dice.per_image
    for spec in ([{"name": "ce"}, {"name": "dice"}], {"terms": [{"name": "ce"}, {"name": "dice"}]}):
        loss = build_loss(spec)
        assert isinstance(loss, CompoundLoss) and loss.keys == ["ce", "dice"]


def test_defaults_reach_only_losses_that_accept_them_and_never_override() -> None:
    loss = build_loss({"name": "dice", "mode": "multiclass"}, ignore_index=7, num_classes=4, mode="binary", unrelated=1)
    assert loss.ignore_index == 7 and loss.mode == "multiclass"
    assert build_loss("bce", mode="binary").ignore_index == 255
    assert build_loss({"name": "ce", "ignore_index": 3}, ignore_index=7).ignore_index == 3


def test_unknown_name_lists_choices_and_config_key() -> None:
    with pytest.raises(KeyError, match=r"loss\.name.*dice.*lovasz"):
        build_loss("dyce")
    with pytest.raises(KeyError, match=r"loss\.name"):
        build_loss([{"name": "ce"}, {"name": "nope"}])


def test_unknown_option_names_the_config_key() -> None:
    with pytest.raises(TypeError, match=r"loss\.per_imag"):
        build_loss({"name": "dice", "per_imag": True})


def test_bad_specs() -> None:
    with pytest.raises(ValueError, match=r"loss\.name"):
        build_loss({"smooth": 1.0})
    with pytest.raises(ValueError, match=r"loss\.terms"):
        build_loss({"terms": [{"name": "ce"}], "name": "dice"})
    with pytest.raises(ValueError, match="weight.*schedule"):
        build_loss([{"name": "ce", "weight": 1.0, "schedule": {"start": 1.0}}])
    with pytest.raises(ValueError, match="schedule"):
        build_loss([{"name": "ce", "schedule": {"begin": 1.0}}])
    with pytest.raises(ValueError, match=r"loss\.terms"):
        build_loss([])
    with pytest.raises(TypeError, match="config group loss"):
        build_loss(3)


def test_compound_value_terms_and_requires() -> None:
    logits, target = multiclass_case(classes=4)
    aux = torch.randn_like(logits)
    loss = build_loss(
        [
            {"name": "ce", "weight": 0.5},
            {"name": "dice", "weight": 2.0},
            {"name": "ce", "input": "aux_logits", "weight": 0.4},
            {"name": "ce", "label_smoothing": 0.1},
            {"name": "boundary", "weight": 0.0},
        ],
        ignore_index=IGNORE,
    )
    assert loss.requires == ("dist_map",)
    extras = extras_for(loss, target, 4)
    value = loss(logits, target, aux_logits=aux, **extras)
    ce = F.cross_entropy(logits, target, ignore_index=IGNORE)
    terms = {
        "ce": ce,
        "dice": build_loss("dice")(logits, target),
        "ce.aux_logits": F.cross_entropy(aux, target, ignore_index=IGNORE),
        "ce.2": F.cross_entropy(logits, target, ignore_index=IGNORE, label_smoothing=0.1),
        "boundary": build_loss("boundary")(logits, target, **extras),
    }
    assert list(loss.last_terms) == list(terms)
    for key, expected in terms.items():
        torch.testing.assert_close(loss.last_terms[key], expected)
        assert not loss.last_terms[key].requires_grad
    expected_total = 0.5 * terms["ce"] + 2 * terms["dice"] + 0.4 * terms["ce.aux_logits"] + terms["ce.2"]
    torch.testing.assert_close(value, expected_total)


def test_class_weights_in_a_term_stay_the_loss_option() -> None:
    # the loop turns `{name: wce, class_weight: median_frequency}` into a term: the string is wce's option
    logits, target = multiclass_case(classes=4)
    frequency = lambda: np.array([0.1, 0.2, 0.4, 0.8])  # noqa: E731
    alpha = torch.tensor([3.0, 1.5, 0.75, 0.375])  # median(freq) = 0.3, alpha = 0.3 / freq
    expected = F.cross_entropy(logits, target, weight=alpha, ignore_index=IGNORE)
    weighted_term = {"name": "wce", "weight": 2.0, "kwargs": {"class_weight": alpha.tolist()}}
    for term in ({"name": "wce", "class_weight": "median_frequency"}, weighted_term):
        loss = build_loss([term], class_frequency=frequency)
        scale = term.get("weight", 1.0)
        torch.testing.assert_close(loss(logits, target), scale * expected)
    with pytest.raises(ValueError, match=r"loss\.class_weight.*list of per-class weights"):
        build_loss({"name": "ce", "class_weight": 2.0})
    with pytest.raises(ValueError, match="wce"):
        build_loss({"name": "ce", "class_weight": "median_frequency"})


def test_a_single_weighted_term_is_its_weight_times_the_loss() -> None:
    logits, target = multiclass_case(classes=4)
    dice = build_loss("dice", ignore_index=IGNORE)(logits, target)
    loss = build_loss({"name": "dice", "weight": 2.0}, ignore_index=IGNORE)
    assert isinstance(loss, CompoundLoss) and loss.keys == ["dice"]
    torch.testing.assert_close(loss(logits, target), 2.0 * dice)
    assert type(build_loss({"name": "dice", "weight": 1.0})) is DiceLoss  # no term keys: the loss itself


def test_class_weights_spelled_weight_name_the_key_and_the_fix() -> None:
    for spec in ({"name": "wce", "weight": "median_frequency"}, [{"name": "ce", "weight": [1.0, 2.0, 1.0, 1.0]}]):
        with pytest.raises(ValueError, match=r"loss(\.terms\[0\])?\.weight=.*scalar weight.*class_weight"):
            build_loss(spec, num_classes=4, class_frequency=lambda: np.ones(4))


@pytest.mark.parametrize("name", ["lovasz", "ce", "generalized_dice"])
def test_multiclass_loss_rejects_one_channel_logits(name: str) -> None:
    logits, target = multiclass_case(classes=4)
    with pytest.raises(ValueError, match=r"mode=binary"):
        build_loss(name)(logits[:, :1], target.clamp(max=1))


def test_missing_auxiliary_output_names_the_term() -> None:
    logits, target = multiclass_case()
    loss = build_loss([{"name": "ce"}, {"name": "dice", "input": "aux_logits"}])
    with pytest.raises(ValueError, match=r"'dice\.aux_logits'.*'aux_logits'"):
        loss(logits, target)


def test_kervadec_schedule() -> None:
    expected = {0: (1.0, 0.01), 1: (0.99, 0.02), 50: (0.5, 0.51), 89: (0.11, 0.9), 95: (0.1, 0.96), 200: (0.1, 2.01)}
    recipes = (("dice_boundary_scheduled.yaml", "generalized_dice"), ("dice_boundary_all_scheduled.yaml", "dice"))
    for path, region in recipes:
        loss = build_loss(OmegaConf.to_container(OmegaConf.load(CONF / path)), ignore_index=IGNORE)
        for epoch, (dice, boundary) in expected.items():
            loss.set_epoch(epoch)
            assert loss.weights[region] == pytest.approx(dice) and loss.weights["boundary"] == pytest.approx(boundary)
        logits, target = multiclass_case(classes=4)
        extras = extras_for(loss, target, 4)
        loss.set_epoch(50)
        value = loss(logits, target, **extras)
        torch.testing.assert_close(value, 0.5 * loss.last_terms[region] + 0.51 * loss.last_terms["boundary"])


def test_weight_schedule_bounds() -> None:
    assert WeightSchedule(start=2.0)(100) == 2.0
    assert WeightSchedule(start=0.0, step=0.3, max=1.0)(2) == pytest.approx(0.6)
    assert WeightSchedule(start=0.0, step=0.3, max=1.0)(5) == 1.0


def test_plain_loss_contract_defaults() -> None:
    loss = build_loss("ce")
    loss.set_epoch(3)
    assert loss.last_terms == {} and loss.requires == ()


def test_register_loss_adds_to_the_registry_once() -> None:
    @register_loss("_test_constant")
    class Constant(SegLoss):
        def forward(self, logits: torch.Tensor, target: torch.Tensor, **extras) -> torch.Tensor:
            return logits.sum() * 0

    try:
        assert LOSSES["_test_constant"] is Constant and Constant.name == "_test_constant"
        assert isinstance(build_loss("_test_constant"), Constant)
        with pytest.raises(ValueError, match="registered twice"):
            register_loss("_test_constant")(Constant)
    finally:
        del LOSSES["_test_constant"]


def conf_files() -> list[Path]:
    return sorted(CONF.glob("*.yaml"))


def test_every_multiclass_loss_has_a_config() -> None:
    compounds = {"ce_dice", "ce_lovasz", "dice_boundary_scheduled", "dice_boundary_all_scheduled"}
    assert set(CASES) | {"bce", "lovasz_hinge"} | compounds == {p.stem for p in conf_files()}


@pytest.mark.parametrize("path", conf_files(), ids=lambda p: p.stem)
def test_config_builds_and_runs(path: Path) -> None:
    spec = OmegaConf.to_container(OmegaConf.load(path))
    loss = build_loss(spec, ignore_index=IGNORE, num_classes=4, class_frequency=lambda: np.array([0.2, 0.3, 0.1, 0.4]))
    binary = path.stem in ("bce", "lovasz_hinge")
    logits, target = multiclass_case(classes=4)
    if binary:
        logits, target = logits[:, :1], torch.where(target == IGNORE, IGNORE, target.clamp(max=1))
    value = loss(logits, target, **extras_for(loss, target, logits.shape[1]))
    assert value.dim() == 0 and torch.isfinite(value)
