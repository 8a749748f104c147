"""The segmentation-models-pytorch adapter: any architecture x encoder, any input size, local weights."""

import pytest
import torch

from seglightning.models import build_model

ARCHS = [
    ("unetplusplus", "resnet18", {}),
    ("fpn", "resnet18", {}),
    ("pspnet", "resnet18", {}),
    ("upernet", "resnet18", {}),
    ("segformer", "mit_b0", {}),
    ("dpt", "tu-vit_tiny_patch16_224", {"dynamic_img_size": True}),  # a timm ViT at any size
]


@pytest.mark.parametrize(("arch", "encoder", "kwargs"), ARCHS)
def test_architectures_at_odd_input_sizes(arch, encoder, kwargs):
    model = build_model("smp", num_classes=4, arch=arch, encoder=encoder, **kwargs).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 65, 97))
    assert set(out) == {"logits"} and out["logits"].shape == (1, 4, 65, 97)


def test_encoder_weights_load_from_a_local_file(tmp_path):
    source = build_model("smp", num_classes=2, arch="fpn", encoder="resnet18")
    path = tmp_path / "encoder.pth"
    torch.save(source.net.encoder.state_dict(), path)
    model = build_model("smp", num_classes=2, arch="fpn", encoder="resnet18", encoder_weights=str(path))
    assert torch.equal(model.net.encoder.conv1.weight, source.net.encoder.conv1.weight)
    with pytest.raises(FileNotFoundError, match="absent.pth' does not exist"):
        build_model("smp", num_classes=2, arch="fpn", encoder="resnet18", encoder_weights=str(tmp_path / "absent.pth"))


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown smp architecture 'unet3'.*model.arch"):
        build_model("smp", num_classes=2, arch="unet3")
