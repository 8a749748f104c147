"""The shared encoder interface: timm features_only backbones, output stride, local weights."""

import pytest
import timm
import torch

from seglightning.models.encoders import Encoder


@pytest.mark.parametrize(
    ("output_stride", "reductions"), [(32, [2, 4, 8, 16, 32]), (16, [2, 4, 8, 16, 16]), (8, [2, 4, 8, 8, 8])]
)
def test_output_stride_dilates_the_last_stages(output_stride, reductions):
    encoder = Encoder("resnet18", output_stride)
    assert encoder.reductions == reductions
    assert encoder.channels == [64, 64, 128, 256, 512]
    features = encoder(torch.randn(1, 3, 64, 96))
    assert [tuple(f.shape[-2:]) for f in features] == [(64 // r, 96 // r) for r in reductions]
    assert encoder.index(4) == 1


@pytest.mark.parametrize("name", ["mobilenetv3_large_100", "convnext_atto", "resnet18d"])
def test_other_families_share_the_interface(name):
    encoder = Encoder(name, output_stride=16)
    features = encoder(torch.randn(1, 3, 64, 64))
    assert [f.shape[1] for f in features] == encoder.channels
    assert encoder.reductions[-1] == 16


def test_pretrained_loads_a_local_timm_checkpoint(tmp_path):
    reference = timm.create_model("resnet18")
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": reference.state_dict()}, path)
    encoder = Encoder("resnet18", output_stride=8, pretrained=path)
    assert torch.equal(encoder.body.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)


def test_missing_or_foreign_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.pth' does not exist"):
        Encoder("resnet18", pretrained=tmp_path / "absent.pth")
    path = tmp_path / "resnet18.pth"
    torch.save(timm.create_model("resnet18").state_dict(), path)
    with pytest.raises(ValueError, match="not a checkpoint of timm model 'resnet34'.*missing"):
        Encoder("resnet34", pretrained=path)


def test_bad_names_and_strides_are_clear_errors():
    with pytest.raises(KeyError, match="unknown encoder 'resnet5'.*model.encoder"):
        Encoder("resnet5")
    with pytest.raises(ValueError, match="output_stride must be one of"):
        Encoder("resnet18", output_stride=4)
    with pytest.raises(ValueError, match="no feature at stride 2"):
        Encoder("convnext_atto").index(2)
