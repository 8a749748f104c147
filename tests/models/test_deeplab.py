"""DeepLabv3/v3+: ASPP rates by output stride, decoder resolution, auxiliary head term."""

import pytest
import torch

from seglightning.models import build_model
from seglightning.models.blocks import aspp_rates


def _rates(model):
    return [branch[0].dilation[0] for branch in model.aspp[0].branches[1:-1]]


@pytest.mark.parametrize(("output_stride", "rates"), [(16, [6, 12, 18]), (8, [12, 24, 36])])
def test_aspp_rates_double_at_output_stride_8(output_stride, rates):
    model = build_model("deeplabv3", num_classes=2, encoder="resnet18", output_stride=output_stride)
    assert _rates(model) == rates
    assert model.encoder.reductions[-1] == output_stride


def test_aspp_is_defined_for_strides_8_and_16_only():
    assert aspp_rates(16) == (6, 12, 18)
    with pytest.raises(ValueError, match="output stride 8 or 16"):
        build_model("deeplabv3", num_classes=2, encoder="resnet18", output_stride=32)


def test_v3plus_decoder_refines_at_stride_4():
    model = build_model("deeplabv3plus", num_classes=2, encoder="resnet18").eval()
    seen = {}

    def record(module, inputs, output):
        seen["refine"] = output.shape

    model.refine.register_forward_hook(record)
    with torch.no_grad():
        model(torch.randn(1, 3, 64, 96))
    assert seen["refine"] == (1, 256, 16, 24)
    assert model.project[0].out_channels == 48


def test_aux_head_is_optional():
    plain = build_model("deeplabv3", num_classes=2, encoder="resnet18")
    assert plain.aux_head is None and plain.loss_terms == []
    aux = build_model("deeplabv3plus", num_classes=2, encoder="resnet18", aux=True, aux_weight=0.25)
    assert aux.loss_terms == [{"name": None, "weight": 0.25, "input": "aux_logits"}]
