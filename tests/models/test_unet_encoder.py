"""U-Net with a timm encoder (model.encoder=resnet34) next to the classic form."""

import pytest
import torch

from seglightning.models import build_model
from seglightning.models.unet import UNet


def test_classic_form_is_unchanged():
    model = build_model("unet", num_classes=2, base_channels=64, bilinear=False)
    assert isinstance(model, UNet)
    assert sum(p.numel() for p in model.parameters()) == 31_037_698


@pytest.mark.parametrize("bilinear", [False, True])
@pytest.mark.parametrize("encoder", ["resnet18", "convnext_atto"])
def test_encoder_form_decodes_every_stage_to_full_resolution(encoder, bilinear):
    model = build_model("unet", num_classes=3, encoder=encoder, base_channels=4, bilinear=bilinear).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 65, 97))
    assert out["logits"].shape == (1, 3, 65, 97)
    # one block per encoder stage, decoder width base * stride (1 at the end)
    assert len(model.blocks) == len(model.encoder.channels)
    assert model.classifier.in_channels == 4


def test_resnet34_decoder_widths_match_smp_defaults():
    model = build_model("unet", num_classes=2, encoder="resnet34", base_channels=16)
    widths = [block.conv[-2].num_features for block in model.blocks]
    assert widths == [256, 128, 64, 32, 16]


def test_pretrained_needs_an_encoder():
    with pytest.raises(ValueError, match="model.pretrained needs model.encoder"):
        build_model("unet", num_classes=2, pretrained="weights.pth")
