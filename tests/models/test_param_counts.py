"""Parameter counts derived from each paper's layer list, independently of the model code."""

import pytest
import torch

from seglightning.models import build_model
from seglightning.models.fastfcn import JPU


def conv(i: int, o: int, k: int = 1, bias: bool = False, groups: int = 1) -> int:
    return k * k * (i // groups) * o + (o if bias else 0)


def bn(c: int) -> int:
    return 2 * c


def resnet50_features() -> int:
    """ResNet-50 (He et al. 2016, Table 1) without the classifier: stem + bottlenecks [3, 4, 6, 3]."""
    total, width = conv(3, 64, 7) + bn(64), 64
    for mid, blocks in zip((64, 128, 256, 512), (3, 4, 6, 3)):
        out = 4 * mid
        for b in range(blocks):
            total += conv(width, mid) + bn(mid) + conv(mid, mid, 3) + bn(mid) + conv(mid, out) + bn(out)
            if b == 0:  # projection shortcut
                total += conv(width, out) + bn(out)
            width = out
    return total


def aspp(i: int, c: int = 256, rates: int = 3) -> int:
    """1x1 + one 3x3 per rate + image pooling (each conv-BN), concat -> 1x1 conv-BN projection."""
    return conv(i, c) + bn(c) + rates * (conv(i, c, 3) + bn(c)) + conv(i, c) + bn(c) + conv((rates + 2) * c, c) + bn(c)


def fcn_head(i: int, classes: int) -> int:
    return conv(i, i // 4, 3) + bn(i // 4) + conv(i // 4, classes, bias=True)


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_resnet50_formula_matches_the_published_count():
    # torchvision/timm ResNet-50: 25,557,032 parameters, of which 2048 * 1000 + 1000 in the classifier
    assert resnet50_features() == 25_557_032 - 2_049_000


@pytest.mark.parametrize("output_stride", [16, 8])
def test_deeplabv3_resnet50_with_aux_head(output_stride):
    classes = 21
    expected = resnet50_features() + aspp(2048) + conv(256, classes, bias=True) + fcn_head(1024, classes)
    model = build_model("deeplabv3", num_classes=classes, encoder="resnet50", output_stride=output_stride, aux=True)
    assert count(model) == expected


def test_deeplabv3plus_resnet50():
    classes = 21
    decoder = conv(256, 48) + bn(48) + conv(256 + 48, 256, 3) + bn(256) + conv(256, 256, 3) + bn(256)
    expected = resnet50_features() + aspp(2048) + decoder + conv(256, classes, bias=True)
    assert count(build_model("deeplabv3plus", num_classes=classes, encoder="resnet50")) == expected


def test_jpu_on_resnet50_stages():
    width, stages = 512, (512, 1024, 2048)
    reduce = sum(conv(c, width, 3) + bn(width) for c in stages)
    separable = conv(3 * width, 3 * width, 3, groups=3 * width) + bn(3 * width) + conv(3 * width, width)
    expected = reduce + 4 * (separable + bn(width))
    assert expected == 19_735_552
    assert count(JPU(stages, width)) == expected
