"""Classic U-Net (Ronneberger et al., MICCAI 2015, arXiv:1505.04597).

Follows the widely used PyTorch re-implementation (milesial/Pytorch-UNet): padded 3x3
convolutions (so the output has the input's size), BatchNorm after every convolution, four
2x2 max-pool downsamplings, transposed-convolution (or bilinear) upsampling, skip connections by
concatenation, and a final 1x1 classifier. With ``base_channels=64`` and ``bilinear=False`` the
network has exactly 31,037,698 parameters for 3 input channels and 2 classes.
Odd input sizes are handled by padding the upsampled map to its skip connection.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_model


class DoubleConv(nn.Sequential):
    """(3x3 conv, no bias -> BN -> ReLU) x 2."""

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None):
        mid = mid_channels or out_channels
        super().__init__(
            nn.Conv2d(in_channels, mid, 3, padding=1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class Down(nn.Sequential):
    """2x2 max-pool then DoubleConv."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))


class Up(nn.Module):
    """Upsample, pad to the skip connection's size, concatenate, DoubleConv."""

    def __init__(self, in_channels: int, out_channels: int, bilinear: bool):
        super().__init__()
        if bilinear:
            self.up: nn.Module = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        dy, dx = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
        x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class UNet(nn.Module):
    """U-Net with ``base_channels`` feature maps at full resolution (64 in the paper)."""

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 2,
        base_channels: int = 64,
        bilinear: bool = False,
    ):
        super().__init__()
        b, factor = base_channels, 2 if bilinear else 1
        self.inc = DoubleConv(in_channels, b)
        self.downs = nn.ModuleList(
            [Down(b, 2 * b), Down(2 * b, 4 * b), Down(4 * b, 8 * b), Down(8 * b, 16 * b // factor)]
        )
        self.ups = nn.ModuleList(
            [
                Up(16 * b, 8 * b // factor, bilinear),
                Up(8 * b, 4 * b // factor, bilinear),
                Up(4 * b, 2 * b // factor, bilinear),
                Up(2 * b, b, bilinear),
            ]
        )
        self.outc = nn.Conv2d(b, num_classes, kernel_size=1)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        skips = [self.inc(image)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        return {"logits": self.outc(x)}


@register_model("unet")
def build_unet(
    num_classes: int,
    in_channels: int = 3,
    base_channels: int = 64,
    bilinear: bool = False,
) -> nn.Module:
    return UNet(in_channels, num_classes, base_channels, bilinear)
