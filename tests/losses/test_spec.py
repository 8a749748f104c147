"""normalize_loss_spec on every spec form, its errors (the old `weight` spelling of class weights),
loss_label, and with_model_terms on normalised terms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from seglightning.losses.model_terms import with_model_terms
from seglightning.losses.spec import loss_label, normalize_loss_spec
from seglightning.modules.semantic import SegmentationModule
from seglightning.sweeps import build_report

CONF = Path(__file__).resolve().parents[2] / "conf" / "loss"


def term(name: str, weight: float = 1.0, source: str = "logits", **kwargs: object) -> dict:
    return {"name": name, "weight": weight, "input": source, "kwargs": kwargs}


SCHEDULED = """
terms:
  - {name: dice, schedule: {start: 1.0, step: -0.01, min: 0.1}}
  - {name: boundary, classes: all, schedule: {start: 0.01, step: 0.01}}
"""
SCHEDULED_TERMS = [
    {"name": "dice", "schedule": {"start": 1.0, "step": -0.01, "min": 0.1}, "input": "logits", "kwargs": {}},
    {"name": "boundary", "schedule": {"start": 0.01, "step": 0.01}, "input": "logits", "kwargs": {"classes": "all"}},
]

FORMS = [
    ("ce", [term("ce")]),
    ({"name": "dice", "per_image": True}, [term("dice", per_image=True)]),
    ({"name": "dice", "weight": 2}, [term("dice", 2.0)]),
    ({"name": "wce", "class_weight": "median_frequency"}, [term("wce", class_weight="median_frequency")]),
    # options flat or under kwargs; kwargs wins
    ({"name": "ce", "label_smoothing": 0.2, "kwargs": {"label_smoothing": 0.1}}, [term("ce", label_smoothing=0.1)]),
    ({"terms": [{"name": "ce", "weight": 0.5}, {"name": "dice"}]}, [term("ce", 0.5), term("dice")]),
    ([{"name": "ce", "input": "aux_logits", "weight": 0.4}, {"name": "ce"}],
     [term("ce", 0.4, "aux_logits"), term("ce")]),
    ({"name": "ce", "schedule": {"start": 2.0}},
     [{"name": "ce", "schedule": {"start": 2.0}, "input": "logits", "kwargs": {}}]),
    (yaml.safe_load(SCHEDULED), SCHEDULED_TERMS),
    (OmegaConf.create(SCHEDULED), SCHEDULED_TERMS),  # a Hydra DictConfig as it is
    (OmegaConf.create([{"name": "ce", "weight": 1.0}, {"name": "dice", "weight": 1.0}]), [term("ce"), term("dice")]),
]


@pytest.mark.parametrize(("spec", "expected"), FORMS, ids=range(len(FORMS)))
def test_every_spec_form_normalises(spec: object, expected: list[dict]) -> None:
    terms = normalize_loss_spec(spec)
    assert terms == expected
    assert all(type(t["weight"]) is float for t in terms if "weight" in t)
    assert normalize_loss_spec(terms) == terms  # a normalised spec is its own normal form


@pytest.mark.parametrize("path", sorted(CONF.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_config_normalises(path: Path) -> None:
    terms = normalize_loss_spec(OmegaConf.to_container(OmegaConf.load(path)))
    assert terms and all(("weight" in t) != ("schedule" in t) for t in terms)
    assert all("weight" not in t["kwargs"] for t in terms)


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ({"name": "wce", "weight": "median_frequency"}, r"loss\.weight='median_frequency'"),
        ({"name": "ce", "weight": [1.0, 2.0]}, r"loss\.weight=\[1\.0, 2\.0\]"),
        ({"terms": [{"name": "ce"}, {"name": "wce", "weight": "median_frequency"}]}, r"loss\.terms\[1\]\.weight="),
        ([{"name": "wce", "weight": 2.0, "kwargs": {"weight": [1.0, 3.0]}}], r"loss\.terms\[0\]\.kwargs\.weight="),
        ({"name": "dice", "weight": True}, r"loss\.weight=True"),
    ],
)
def test_old_class_weight_spelling_is_a_clear_error(spec: object, key: str) -> None:
    with pytest.raises(ValueError, match=key + r".*scalar weight.*class_weight"):
        normalize_loss_spec(spec)


def test_bad_specs_name_the_config_key() -> None:
    with pytest.raises(ValueError, match=r"loss\.name"):
        normalize_loss_spec({"smooth": 1.0})
    with pytest.raises(ValueError, match=r"loss\.terms\[1\]\.name"):
        normalize_loss_spec([{"name": "ce"}, {"weight": 1.0}])
    with pytest.raises(ValueError, match=r"both 'weight' and 'schedule'.*loss\.terms\[0\]"):
        normalize_loss_spec({"terms": [{"name": "ce", "weight": 1.0, "schedule": {"start": 1.0}}]})
    with pytest.raises(ValueError, match=r"loss\.schedule"):
        normalize_loss_spec({"name": "ce", "schedule": {"start": 1.0, "stop": 2}})
    with pytest.raises(ValueError, match=r"loss\.schedule"):
        normalize_loss_spec({"name": "ce", "schedule": 0.5})
    with pytest.raises(ValueError, match=r"loss\.terms"):
        normalize_loss_spec({"terms": {"name": "ce"}})
    with pytest.raises(ValueError, match=r"loss\.kwargs"):
        normalize_loss_spec({"name": "ce", "kwargs": [0.1]})
    with pytest.raises(ValueError, match=r"loss\.input"):
        normalize_loss_spec({"name": "ce", "input": 3})
    with pytest.raises(TypeError, match="config group loss"):
        normalize_loss_spec(None)


def test_loss_label() -> None:
    assert loss_label("lovasz") == "lovasz"
    assert loss_label({"name": "wce", "class_weight": "median_frequency", "weight": 2.0}) == "wce"
    assert loss_label({"terms": [{"name": "ce"}, {"name": "dice"}]}) == "ce+dice"
    assert loss_label(OmegaConf.create(SCHEDULED)) == "dice+boundary"
    assert loss_label([{"name": "ce"}, {"name": "ce", "input": "aux_logits"}]) == "ce+ce"
    with pytest.raises(ValueError, match="class_weight"):
        loss_label({"name": "wce", "weight": "median_frequency"})


def test_report_labels_a_config_it_cannot_read_as_unknown(tmp_path: Path) -> None:
    # a run dir written without Hydra before `class_weight`: the report reads it, never rejects it
    path = tmp_path / "run"
    path.mkdir()
    config = {"seed": 0, "loss": {"name": "wce", "weight": "median_frequency"}, "model": {"name": "unet"}}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    (path / "metrics.json").write_text(json.dumps({"status": "complete", "best": {"val/mIoU": 0.5}}))
    assert [r.labels for r in build_report(tmp_path).runs] == [{"loss": "None", "model": "unet"}]


def test_model_terms_repeat_the_main_terms_on_their_input_scaled() -> None:
    aux = {"name": None, "weight": 0.4, "input": "aux_logits"}
    se = {"name": "encnet_se", "weight": 0.2, "input": "se_logits"}
    schedule = {"start": 1.0, "step": -0.5, "min": 0.1}
    wce = {"name": "wce", "weight": 0.5, "class_weight": [1.0, 2.0]}
    spec = {"terms": [wce, {"name": "dice", "schedule": schedule}]}
    assert with_model_terms(spec, [aux, se]) == [
        term("wce", 0.5, class_weight=[1.0, 2.0]),
        {"name": "dice", "schedule": schedule, "input": "logits", "kwargs": {}},
        term("wce", 0.2, "aux_logits", class_weight=[1.0, 2.0]),  # 0.4 x 0.5; the class weights stay the loss's
        {"name": "dice", "schedule": {"start": 0.4, "step": -0.2, "min": pytest.approx(0.04)}, "input": "aux_logits",
         "kwargs": {}},
        term("encnet_se", 0.2, "se_logits"),
    ]
    assert with_model_terms("ce", []) == [term("ce")]


def test_the_loop_reads_every_form_through_the_same_spec() -> None:
    # `{name: dice, weight: 2.0}` is one term of weight 2 in the loop as in build_loss; wce's class weights stay its own
    unet = {"name": "unet", "base_channels": 4}
    module = SegmentationModule(model=unet, loss={"name": "dice", "weight": 2.0}, num_classes=3)
    assert module.loss.weights == {"dice": 2.0}
    module = SegmentationModule(
        model=unet, loss={"name": "wce", "class_weight": "median_frequency"},
        num_classes=3, class_frequency=lambda: [0.5, 0.25, 0.125],
    )
    assert module.loss.weights == {"wce": 1.0}
    assert module.loss.losses[0].class_weight.tolist() == [0.5, 1.0, 2.0]  # median 0.25 / freq
