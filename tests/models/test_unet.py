import pytest
import torch

from seglightning.models import build_model
from seglightning.models.unet import UNet


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _unet_params_by_formula(c_in: int, classes: int, b: int) -> int:
    """Parameters of the transposed-conv U-Net, derived from its layer list (not from the model)."""

    def double_conv(i: int, o: int) -> int:  # two bias-free 3x3 convs, each followed by BN (2 params/ch)
        return 9 * i * o + 2 * o + 9 * o * o + 2 * o

    def up(i: int, o: int) -> int:  # 2x2 transposed conv i -> i/2 (with bias), then DoubleConv(i, o)
        return 4 * i * (i // 2) + i // 2 + double_conv(i, o)

    widths = [b, 2 * b, 4 * b, 8 * b, 16 * b]
    total = double_conv(c_in, b)
    total += sum(double_conv(widths[k], widths[k + 1]) for k in range(4))
    total += sum(up(widths[k + 1], widths[k]) for k in reversed(range(4)))
    return total + b * classes + classes  # 1x1 classifier


def test_classic_unet_has_the_published_parameter_count():
    assert _count(UNet(3, 2, 64, bilinear=False)) == 31_037_698
    assert _unet_params_by_formula(3, 2, 64) == 31_037_698


@pytest.mark.parametrize("base", [4, 16])
def test_parameter_count_matches_formula_for_other_widths(base):
    assert _count(build_model("unet", num_classes=7, base_channels=base)) == _unet_params_by_formula(3, 7, base)


@pytest.mark.parametrize("bilinear", [False, True])
def test_output_contract_at_odd_input_sizes(bilinear):
    model = build_model("unet", num_classes=5, base_channels=4, bilinear=bilinear).eval()
    out = model(torch.randn(2, 3, 57, 85))
    assert set(out) == {"logits"}
    assert out["logits"].shape == (2, 5, 57, 85)


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(KeyError, match=r"unknown model 'unetz'.*model\.name.*unet"):
        build_model("unetz", num_classes=2)
