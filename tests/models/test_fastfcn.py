"""FastFCN: JPU geometry, EncNet's Encoding layer and SE-loss against their defining formulas."""

import pytest
import torch

from seglightning.losses import build_loss
from seglightning.models import build_model
from seglightning.models.fastfcn import JPU, Encoding


def test_jpu_brings_stride_32_features_to_stride_8():
    # a ResNet-50 at stride 32 on a 257x385 input: c2, c3, c4 at strides 8, 16, 32 (ceil sizes)
    jpu = JPU((512, 1024, 2048)).eval()
    c2, c3, c4 = torch.randn(1, 512, 33, 49), torch.randn(1, 1024, 17, 25), torch.randn(1, 2048, 9, 13)
    with torch.no_grad():
        out = jpu([c2, c3, c4])
    assert out.shape == (1, 2048, 33, 49)


def test_fastfcn_uses_an_undilated_encoder():
    model = build_model("fastfcn", num_classes=3, encoder="resnet18", jpu_width=16)
    assert model.encoder.reductions[-3:] == [8, 16, 32]
    assert model.jpu.out_channels == 64


def test_encoding_layer_equals_the_residual_encoding_formula():
    layer = Encoding(channels=6, codewords=4)
    x = torch.randn(2, 6, 3, 5)
    points = x.flatten(2).transpose(1, 2)  # [B,N,D]
    residual = points[:, :, None, :] - layer.codewords  # [B,N,K,D]
    assign = torch.softmax(layer.scale * residual.pow(2).sum(-1), dim=2)
    expected = (assign[..., None] * residual).sum(1)
    torch.testing.assert_close(layer(x), expected)


def test_se_loss_targets_the_classes_present_in_each_image():
    target = torch.tensor([[[0, 0], [2, 255]], [[1, 1], [255, 255]]])
    logits = torch.randn(2, 3, requires_grad=True)
    presence = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])  # void is not a class
    loss = build_loss("encnet_se")(logits, target)
    torch.testing.assert_close(loss, torch.nn.functional.binary_cross_entropy(torch.sigmoid(logits), presence))
    loss.backward()


def test_head_options_and_their_errors():
    enc = build_model("fastfcn", num_classes=3, encoder="resnet18", jpu_width=16)
    assert {"name": "encnet_se", "weight": 0.2, "input": "se_logits"} in enc.loss_terms
    psp = build_model("fastfcn", num_classes=3, encoder="resnet18", jpu_width=16, head="psp", aux=False)
    assert psp.loss_terms == []
    with pytest.raises(ValueError, match="se_loss needs head=enc"):
        build_model("fastfcn", num_classes=3, encoder="resnet18", head="psp", se_loss=True)
    with pytest.raises(ValueError, match="unknown FastFCN head 'fpn'"):
        build_model("fastfcn", num_classes=3, encoder="resnet18", head="fpn")
