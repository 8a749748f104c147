"""Every semantic architecture: output contract at odd input sizes, and state-dict round trip."""

import pytest
import torch

from seglightning.models import MODELS, build_model
from seglightning.models.contract import ModelContract, contract_of

from .cases import EXTRA_OUTPUTS, SEMANTIC, registry_name


def _build(case: str, num_classes: int = 3, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(registry_name(case), num_classes=num_classes, **SEMANTIC[case])


@pytest.mark.parametrize("case", sorted(SEMANTIC))
def test_outputs_are_at_input_resolution_for_odd_sizes(case):
    model = _build(case).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 257, 385))
    assert set(out) == {"logits"} | EXTRA_OUTPUTS.get(case, set())
    assert out["logits"].shape == (1, 3, 257, 385)
    for key in out.keys() - {"logits", "se_logits", "edge_logits"}:
        assert out[key].shape == (1, 3, 257, 385)
    if "edge_logits" in out:
        assert out["edge_logits"].shape == (1, 1, 257, 385)
    if "se_logits" in out:
        assert out["se_logits"].shape == (1, 3)


@pytest.mark.parametrize("case", sorted(SEMANTIC))
def test_state_dict_round_trip_gives_identical_logits(case, tmp_path):
    model = _build(case, seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    image = torch.randn(2, 3, 65, 97)
    model.train()
    model(image)["logits"].square().mean().backward()  # moves weights and BN statistics
    optimizer.step()
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)
    restored = _build(case, seed=1)
    restored.load_state_dict(torch.load(path, weights_only=True))
    model.eval()
    restored.eval()
    with torch.no_grad():
        assert torch.equal(model(image)["logits"], restored(image)["logits"])


@pytest.mark.parametrize("case", sorted(SEMANTIC))
def test_declared_loss_terms_and_requirements(case):
    model = _build(case)
    contract = contract_of(model)
    assert contract.task == "semantic"
    terms = list(contract.loss_terms)
    outputs = EXTRA_OUTPUTS.get(case, set())
    for term in terms:
        assert term.get("input", "logits") in outputs | {"logits"}
    if "aux_logits" in outputs:
        assert {"name": None, "weight": 0.4, "input": "aux_logits"} in terms
    if case == "gscnn":
        assert model.requires == contract.requires == ("edge",)
        assert contract.bf1_tolerance == (0.0005, 0.001875, 0.00375, 0.005)
        assert [t["name"] for t in terms] == ["gscnn_edge", "gscnn_attention", "gscnn_dualtask"]
        assert terms[0]["weight"] == 20.0


def test_contract_defaults_and_the_instance_model():
    assert contract_of(torch.nn.Conv2d(3, 2, 1)) == ModelContract("semantic", (), (), None)
    assert contract_of(MODELS["maskrcnn"]).task == "instance"


@pytest.mark.parametrize(
    ("attribute", "value", "match"),
    [("task", "panoptic", "task='panoptic'"), ("requires", "edge", "requires must be a tuple"),
     ("loss_terms", [{"weight": 1}], "loss_terms must be a list")],
)
def test_a_malformed_declaration_names_the_model_and_attribute(attribute, value, match):
    model = torch.nn.Identity()
    setattr(model, attribute, value)
    with pytest.raises(TypeError, match=f"model Identity: {match}"):
        contract_of(model)
