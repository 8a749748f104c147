"""Building blocks shared by several decoders (DeepLab, FastFCN, Gated-SCNN).

- ``ConvBNReLU``: k x k convolution (no bias, "same" padding for any dilation) -> BN -> ReLU.
- ``ASPPBranches`` / ``ASPP``: Atrous Spatial Pyramid Pooling (Chen et al., "Rethinking Atrous
  Convolution for Semantic Image Segmentation", arXiv:1706.05587, Sec. 3.3): one 1x1 branch, one
  3x3 branch per atrous rate, and an image-level branch (global average pooling -> 1x1 conv -> BN
  -> ReLU -> bilinear upsampling), each with ``out_channels`` (256) maps; ``ASPP`` concatenates them
  and projects with a 1x1 conv-BN-ReLU followed by dropout (0.5, as torchvision's DeepLabV3 and
  FastFCN). Rates are (6, 12, 18) at output stride 16 and doubled at 8 (``aspp_rates``).
- ``FCNHead``: the auxiliary head of PSPNet/FastFCN/torchvision (3x3 conv to in/4 channels, BN,
  ReLU, dropout 0.1, 1x1 classifier), trained with its own weight on an intermediate stage.

Bilinear resizing uses ``align_corners=False`` everywhere (torchvision's convention).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize of a [B,C,h,w] map to ``size`` (no-op when it already has that size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class ConvBNReLU(nn.Sequential):
    """Conv (no bias, same padding) -> BatchNorm -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, dilation: int = 1):
        super().__init__(
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                padding=dilation * (kernel_size - 1) // 2,
                dilation=dilation,
                bias=False,
            ),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


def aspp_rates(output_stride: int, base: Sequence[int] = (6, 12, 18)) -> tuple[int, ...]:
    """DeepLabv3's atrous rates: ``base`` at output stride 16, doubled at 8 (Chen 2017, Sec. 3.3)."""
    if output_stride == 16:
        return tuple(base)
    if output_stride == 8:
        return tuple(2 * r for r in base)
    raise ValueError(f"ASPP is defined for output stride 8 or 16 (Chen et al. 2017), got {output_stride}")


class ImagePooling(nn.Module):
    """ASPP's image-level branch: global average pool -> 1x1 conv-BN-ReLU -> upsample."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = ConvBNReLU(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return resize(self.conv(self.pool(x)), x.shape[-2:])


class ASPPBranches(nn.Module):
    """The parallel ASPP branches, concatenated: [B, (len(rates) + 2) * out_channels, h, w]."""

    def __init__(self, in_channels: int, out_channels: int = 256, rates: Sequence[int] = (6, 12, 18)):
        super().__init__()
        self.branches = nn.ModuleList(
            [ConvBNReLU(in_channels, out_channels, 1)]
            + [ConvBNReLU(in_channels, out_channels, 3, dilation=r) for r in rates]
            + [ImagePooling(in_channels, out_channels)]
        )
        self.out_channels = out_channels * len(self.branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class ASPP(nn.Sequential):
    """ASPP branches -> 1x1 conv-BN-ReLU projection to ``out_channels`` -> dropout."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 256,
        rates: Sequence[int] = (6, 12, 18),
        dropout: float = 0.5,
    ):
        branches = ASPPBranches(in_channels, out_channels, rates)
        super().__init__(branches, ConvBNReLU(branches.out_channels, out_channels, 1), nn.Dropout(dropout))


class FCNHead(nn.Sequential):
    """Auxiliary FCN head: 3x3 conv-BN-ReLU to in/4 channels -> dropout 0.1 -> 1x1 classifier."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.1):
        mid = in_channels // 4
        super().__init__(ConvBNReLU(in_channels, mid, 3), nn.Dropout(dropout), nn.Conv2d(mid, num_classes, 1))


def aux_loss_terms(weight: float) -> list[dict]:
    """The loss-factory term of an auxiliary head: the main loss on ``aux_logits`` at ``weight``."""
    return [{"name": None, "weight": float(weight), "input": "aux_logits"}]
