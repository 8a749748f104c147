"""Classic U-Net (Ronneberger et al., MICCAI 2015, arXiv:1505.04597).

Follows the widely used PyTorch re-implementation (milesial/Pytorch-UNet): padded 3x3
convolutions (so the output has the input's size), BatchNorm after every convolution, four
2x2 max-pool downsamplings, transposed-convolution (or bilinear) upsampling, skip connections by
concatenation, and a final 1x1 classifier. With ``base_channels=64`` and ``bilinear=False`` the
network has exactly 31,037,698 parameters for 3 input channels and 2 classes.
Odd input sizes are handled by padding the upsampled map to its skip connection.

``encoder=<timm name>`` (``model.encoder=resnet34``) builds the same decoder on an ``Encoder``
feature pyramid instead (the "U-Net with a pretrained encoder" of TernausNet, Iglovikov & Shvets
2018, and segmentation-models-pytorch): at each encoder stage, from the deepest, the map is
upsampled (2x2 transposed convolution halving the channels, or bilinear) to the next shallower
feature, concatenated with it and passed through a DoubleConv; a last block upsamples to the input
without a skip; a 1x1 classifier follows. The decoder width at stride ``s`` is ``base_channels * s``
(as in the classic form: 8b at stride 8 ... b at stride 1); ``base_channels=16`` gives smp's
default decoder (256, 128, 64, 32, 16) on a ResNet.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .encoders import Encoder
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


class DecoderBlock(nn.Module):
    """Upsample by ``scale`` (transposed conv halving channels, or bilinear) to the skip's size,
    concatenate the skip (if any), DoubleConv."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, scale: int, bilinear: bool):
        super().__init__()
        self.up = None if bilinear else nn.ConvTranspose2d(in_channels, in_channels // 2, scale, stride=scale)
        up_channels = in_channels if bilinear else in_channels // 2
        self.conv = DoubleConv(up_channels + skip_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None, size: torch.Size) -> torch.Tensor:
        if self.up is None:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        else:
            x = self.up(x)
            dy, dx = size[0] - x.shape[-2], size[1] - x.shape[-1]
            x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])  # negative pads crop
        return self.conv(x if skip is None else torch.cat([skip, x], dim=1))


class EncoderUNet(nn.Module):
    """U-Net decoder on a timm ``Encoder`` (output stride 32); see the module docstring."""

    def __init__(
        self,
        num_classes: int,
        encoder: str,
        pretrained: str | Path | None = None,
        base_channels: int = 16,
        bilinear: bool = False,
        in_channels: int = 3,
    ):
        super().__init__()
        self.encoder = Encoder(encoder, 32, pretrained, in_channels)
        channels, strides = self.encoder.channels, self.encoder.reductions
        blocks, width = [], channels[-1]
        for i in range(len(channels) - 1, -1, -1):  # into the resolution of feature i-1 (input for i=0)
            target = strides[i - 1] if i > 0 else 1
            skip = channels[i - 1] if i > 0 else 0
            blocks.append(DecoderBlock(width, skip, base_channels * target, strides[i] // target, bilinear))
            width = base_channels * target
        self.blocks = nn.ModuleList(blocks)
        self.classifier = nn.Conv2d(width, num_classes, 1)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.encoder(image)
        x = features.pop()
        for block in self.blocks:
            skip = features.pop() if features else None
            x = block(x, skip, image.shape[-2:] if skip is None else skip.shape[-2:])
        return {"logits": self.classifier(x)}


@register_model("unet")
def build_unet(
    num_classes: int,
    in_channels: int = 3,
    base_channels: int = 64,
    bilinear: bool = False,
    encoder: str | None = None,
    pretrained: str | Path | None = None,
) -> nn.Module:
    """The classic U-Net, or with ``encoder`` (a timm name) the U-Net decoder on that encoder."""
    if encoder is None:
        if pretrained is not None:
            raise ValueError("model.pretrained needs model.encoder: the classic U-Net has no pretrained backbone")
        return UNet(in_channels, num_classes, base_channels, bilinear)
    return EncoderUNet(num_classes, encoder, pretrained, base_channels, bilinear, in_channels)
