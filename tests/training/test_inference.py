"""Inference modes (seglightning/modules/inference.py): slide, multi-scale and flip against the
whole-image forward, with models whose symmetries fix the expected answer."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seglightning.models import build_model
from seglightning.modules.inference import Inference, window_starts


def conv_net(kernel: int = 5, symmetric: bool = False, seed: int = 0) -> nn.Module:
    """Two zero-padded convolutions: translation-equivariant away from the border, with a
    receptive-field radius of ``kernel - 1``; ``symmetric`` kernels make it commute with h-flips."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 8, kernel, padding=kernel // 2),
        nn.ReLU(),
        nn.Conv2d(8, 4, kernel, padding=kernel // 2),
    )
    if symmetric:
        with torch.no_grad():
            for conv in (net[0], net[2]):
                conv.weight.copy_((conv.weight + conv.weight.flip(-1)) / 2)
    return net.eval()


def test_window_starts_follow_mmsegmentation():
    # ceil((H - crop) / stride) + 1 windows, the last shifted back to end at the border
    assert window_starts(30, 16, 8) == [0, 8, 14]
    assert window_starts(32, 16, 8) == [0, 8, 16]
    assert window_starts(10, 16, 8) == [0]  # smaller than the crop: one window, the image
    assert window_starts(17, 16, 16) == [0, 1]


@torch.no_grad()
def test_slide_with_one_window_covering_the_image_equals_whole():
    model = build_model("unet", num_classes=3, base_channels=4).eval()
    image = torch.randn(2, 3, 24, 40)
    whole = model(image)["logits"]
    for crop in ([24, 40], [32, 64]):
        slide = Inference.from_config({"mode": "slide", "crop": crop, "stride": [8, 8]})
        assert torch.equal(slide.logits(lambda x: model(x)["logits"], image), whole)


@torch.no_grad()
def test_slide_on_a_translation_equivariant_model_is_whole_in_the_interior():
    net, radius = conv_net(kernel=3), 2
    size = (61, 83)
    image = torch.randn(1, 3, *size)
    whole = net(image)
    crop, stride = (32, 40), (24, 30)
    slide = Inference.from_config(
        {"mode": "slide", "crop": list(crop), "stride": list(stride)}
    ).logits(net, image)
    # pixels closer than the receptive radius to a window edge inside the image see zero padding
    # in that window instead of image content; everywhere else the averaged windows equal whole
    seam = torch.zeros(size, dtype=torch.bool)
    for axis, (n, c, s) in enumerate(zip(size, crop, stride)):
        for start in window_starts(n, c, s):
            for edge, inner in ((start, start > 0), (start + c, start + c < n)):
                if inner:
                    lo, hi = max(edge - radius, 0), min(edge + radius, n)
                    if axis == 0:
                        seam[lo:hi, :] = True
                    else:
                        seam[:, lo:hi] = True
    interior = ~seam
    assert interior.float().mean() > 0.5
    torch.testing.assert_close(slide[..., interior], whole[..., interior], rtol=0, atol=1e-5)
    assert not torch.allclose(slide[..., seam], whole[..., seam], atol=1e-3)  # the seams do differ


@torch.no_grad()
def test_flip_on_a_flip_symmetric_input_equals_no_flip():
    net = conv_net(kernel=3, symmetric=True)
    half = torch.randn(1, 3, 16, 12)
    image = torch.cat([half, half.flip(-1)], dim=-1)  # mirror-symmetric left to right
    plain = net(image)
    flipped = Inference.from_config({"flip": True}).logits(net, image)
    torch.testing.assert_close(flipped.softmax(1), plain.softmax(1), rtol=0, atol=1e-6)
    assert torch.equal(flipped.argmax(1), plain.argmax(1))
    # and on an asymmetric input the flipped pass does change the result (the test can fail)
    other = torch.randn(1, 3, 16, 24)
    assert not torch.allclose(
        Inference.from_config({"flip": True}).logits(conv_net(3), other).softmax(1),
        conv_net(3)(other).softmax(1),
        atol=1e-4,
    )


@torch.no_grad()
def test_scales_one_equals_whole():
    model = build_model("unet", num_classes=3, base_channels=4).eval()
    image = torch.randn(2, 3, 24, 40)
    forward = lambda x: model(x)["logits"]  # noqa: E731
    whole = forward(image)
    assert torch.equal(Inference.from_config({"scales": [1.0]}).logits(forward, image), whole)
    averaged = Inference.from_config({"scales": [1.0, 1.0]}).logits(
        forward, image
    )  # two equal passes
    torch.testing.assert_close(averaged.softmax(1), whole.softmax(1), rtol=0, atol=1e-6)


@torch.no_grad()
def test_multi_scale_averages_softmax_at_full_resolution():
    net = conv_net(kernel=3)
    image = torch.randn(1, 3, 20, 28)
    got = Inference.from_config({"scales": [0.5, 1.5], "flip": True}).logits(net, image)
    expected = torch.zeros(1, 4, 20, 28)
    for scale in (0.5, 1.5):
        x = F.interpolate(image, scale_factor=scale, mode="bilinear", align_corners=False)
        for flip in (False, True):
            logits = net(x.flip(-1)).flip(-1) if flip else net(x)
            expected += (
                F.interpolate(logits, size=(20, 28), mode="bilinear", align_corners=False).softmax(
                    1
                )
                / 4
            )
    torch.testing.assert_close(got.exp(), expected)


def test_bad_inference_configs_are_clear_errors():
    with pytest.raises(ValueError, match="mode=slide needs crop"):
        Inference.from_config({"mode": "slide"})
    with pytest.raises(ValueError, match="stride=.*larger than crop"):
        Inference.from_config({"mode": "slide", "crop": [8, 8], "stride": [16, 8]})
    with pytest.raises(ValueError, match="mode=tiles: choose one of whole, slide"):
        Inference.from_config({"mode": "tiles"})
    with pytest.raises(ValueError, match="scales=.*positive"):
        Inference.from_config({"scales": [0.0]})
    with pytest.raises(ValueError, match="unknown keys \\['crops'\\]"):
        Inference.from_config({"crops": [8, 8]})
