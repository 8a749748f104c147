"""FastFCN: Joint Pyramid Upsampling on a plain backbone (Wu et al., "FastFCN: Rethinking Dilated
Convolution in the Backbone for Semantic Segmentation", arXiv:1903.11816).

The backbone is *not* dilated (output stride 32). JPU (Sec. 3.2, Fig. 4; the reference
``encoding/nn/customize.py`` of wuhuikai/FastFCN) takes the last three stages c2, c3, c4 (strides
8, 16, 32; 512/1024/2048 channels for a ResNet-50), maps each with a 3x3 conv-BN-ReLU to ``width``
(512) channels, upsamples them to stride 8 and concatenates (3 x width), then applies four
depthwise-separable 3x3 convolutions with dilation 1, 2, 4, 8 (depthwise conv -> BN -> pointwise
conv, then BN -> ReLU), each to ``width`` channels, concatenated: 4 x width = 2048 channels at
stride 8, the input every head below expects from a dilated backbone.

Heads (``head=``):
- ``enc``: EncNet's context encoding module (Zhang et al., "Context Encoding for Semantic
  Segmentation", CVPR 2018): 1x1 conv-BN-ReLU to 512, the Encoding layer (32 codewords, soft
  assignment ``softmax_k(s_k ||x_i - d_k||^2)`` of residuals, aggregated per codeword), BN1d ->
  ReLU -> mean over codewords; a sigmoid FC layer rescales channels (``relu(x + x * gamma)``),
  dropout 0.1, 1x1 classifier. Its Semantic Encoding loss head (``se_logits`` [B,C], a linear layer
  on the encoding) trains through the loss factory's ``encnet_se`` term (weight 0.2, the paper;
  ``se_loss`` defaults to on for this head and must stay off for the others).
- ``psp``: PSPNet's pyramid pooling (bins 1, 2, 3, 6; 1x1 conv-BN-ReLU to in/4 each) -> 3x3
  conv-BN-ReLU (512) -> dropout 0.1 -> 1x1 classifier (Zhao et al., CVPR 2017).
- ``aspp``: ASPP with rates (12, 24, 36) (stride-8 rates) and 256 channels -> 3x3 conv-BN-ReLU ->
  dropout 0.1 -> 1x1 classifier (FastFCN's ``DeepLabV3Head``).
The auxiliary FCN head on c3 (``aux=True``, weight ``aux_weight`` 0.4: FastFCN's
``SegmentationLosses``) outputs ``aux_logits``; its term is the main loss on ``aux_logits``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from .blocks import ASPP, ConvBNReLU, FCNHead, aspp_rates, aux_loss_terms, resize
from .encoders import Encoder
from .registry import register_model


class SeparableConv2d(nn.Sequential):
    """Depthwise 3x3 conv (dilated) -> BN -> pointwise 1x1 conv, both without bias."""

    def __init__(self, in_channels: int, out_channels: int, dilation: int):
        super().__init__(
            nn.Conv2d(in_channels, in_channels, 3, padding=dilation, dilation=dilation, groups=in_channels, bias=False),
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
        )


class JPU(nn.Module):
    """Joint Pyramid Upsampling: three stages (strides s, 2s, 4s) -> ``len(dilations) * width`` at s."""

    def __init__(self, in_channels: Sequence[int], width: int = 512, dilations: Sequence[int] = (1, 2, 4, 8)):
        super().__init__()
        if len(in_channels) != 3:
            raise ValueError(f"JPU takes three stages (c2, c3, c4), got channels {list(in_channels)}")
        self.reduce = nn.ModuleList([ConvBNReLU(c, width, 3) for c in in_channels])
        self.dilated = nn.ModuleList(
            [
                nn.Sequential(SeparableConv2d(3 * width, width, d), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
                for d in dilations
            ]
        )
        self.out_channels = len(dilations) * width

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        size = features[0].shape[-2:]
        x = torch.cat([resize(conv(f), size) for conv, f in zip(self.reduce, features)], dim=1)
        return torch.cat([branch(x) for branch in self.dilated], dim=1)


class Encoding(nn.Module):
    """EncNet's Encoding layer: [B,D,H,W] -> residual encodings [B,K,D] (K codewords of dim D)."""

    def __init__(self, channels: int, codewords: int):
        super().__init__()
        bound = 1.0 / (codewords * channels) ** 0.5
        self.codewords = nn.Parameter(torch.empty(codewords, channels).uniform_(-bound, bound))
        self.scale = nn.Parameter(torch.empty(codewords).uniform_(-1.0, 0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(2).transpose(1, 2)  # [B,N,D]
        codewords = self.codewords
        # ||x_i - d_k||^2 and sum_i a_ik (x_i - d_k), expanded to avoid a [B,N,K,D] tensor
        sq_dist = x.pow(2).sum(-1, keepdim=True) - 2 * x @ codewords.t() + codewords.pow(2).sum(-1)
        assign = torch.softmax(self.scale * sq_dist, dim=2)  # [B,N,K]
        return assign.transpose(1, 2) @ x - assign.sum(1).unsqueeze(-1) * codewords  # [B,K,D]


class EncHead(nn.Module):
    """EncNet head on JPU features: returns (logits, se_logits or None)."""

    def __init__(
        self, in_channels: int, num_classes: int, se_loss: bool = True, channels: int = 512, codewords: int = 32
    ):
        super().__init__()
        self.reduce = ConvBNReLU(in_channels, channels, 1)
        self.encode = ConvBNReLU(channels, channels, 1)
        self.encoding = Encoding(channels, codewords)
        self.encoding_norm = nn.Sequential(nn.BatchNorm1d(codewords), nn.ReLU(inplace=True))
        self.attention = nn.Sequential(nn.Linear(channels, channels), nn.Sigmoid())
        self.se_layer = nn.Linear(channels, num_classes) if se_loss else None
        self.classifier = nn.Sequential(nn.Dropout2d(0.1), nn.Conv2d(channels, num_classes, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self.reduce(x)
        encoded = self.encoding_norm(self.encoding(self.encode(x))).mean(1)  # [B,D]
        gamma = self.attention(encoded)[:, :, None, None]
        se_logits = self.se_layer(encoded) if self.se_layer is not None else None
        return self.classifier(torch.relu(x + x * gamma)), se_logits


class PyramidPooling(nn.Module):
    """PSPNet's pyramid pooling: input concatenated with pooled (bins) 1x1 conv-BN-ReLU maps."""

    def __init__(self, in_channels: int, bins: Sequence[int] = (1, 2, 3, 6)):
        super().__init__()
        self.stages = nn.ModuleList(
            [nn.Sequential(nn.AdaptiveAvgPool2d(b), ConvBNReLU(in_channels, in_channels // len(bins), 1)) for b in bins]
        )
        self.out_channels = in_channels + len(bins) * (in_channels // len(bins))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x] + [resize(stage(x), x.shape[-2:]) for stage in self.stages], dim=1)


def _classifier(in_channels: int, mid_channels: int, num_classes: int) -> list[nn.Module]:
    return [ConvBNReLU(in_channels, mid_channels, 3), nn.Dropout2d(0.1), nn.Conv2d(mid_channels, num_classes, 1)]


def psp_head(in_channels: int, num_classes: int) -> nn.Module:
    pool = PyramidPooling(in_channels)
    return nn.Sequential(pool, *_classifier(pool.out_channels, in_channels // 4, num_classes))


def aspp_head(in_channels: int, num_classes: int, channels: int = 256) -> nn.Module:
    return nn.Sequential(ASPP(in_channels, channels, aspp_rates(8)), *_classifier(channels, channels, num_classes))


HEADS = ("enc", "psp", "aspp")


@register_model("fastfcn")
class FastFCN(nn.Module):
    """Plain ``Encoder`` (stride 32) -> JPU on its last three stages -> ``head`` (enc | psp | aspp)."""

    def __init__(
        self,
        num_classes: int,
        encoder: str = "resnet50",
        head: str = "enc",
        pretrained: str | Path | None = None,
        jpu_width: int = 512,
        aux: bool = True,
        aux_weight: float = 0.4,
        se_loss: bool | None = None,
        se_weight: float = 0.2,
        in_channels: int = 3,
    ):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown FastFCN head '{head}' (config key model.head); choose one of {', '.join(HEADS)}")
        self.encoder = Encoder(encoder, 32, pretrained, in_channels)
        self.jpu = JPU(self.encoder.channels[-3:], jpu_width)
        se_loss = head == "enc" if se_loss is None else se_loss
        if se_loss and head != "enc":
            raise ValueError(
                f"model.se_loss needs head=enc (EncNet's SE-loss), not head={head}; set model.se_loss=false"
            )
        if head == "enc":
            self.head: nn.Module = EncHead(self.jpu.out_channels, num_classes, se_loss)
        elif head == "psp":
            self.head = psp_head(self.jpu.out_channels, num_classes)
        else:
            self.head = aspp_head(self.jpu.out_channels, num_classes)
        self.aux_head = FCNHead(self.encoder.channels[-2], num_classes) if aux else None
        self.loss_terms = aux_loss_terms(aux_weight) if aux else []
        if se_loss:
            self.loss_terms.append({"name": "encnet_se", "weight": float(se_weight), "input": "se_logits"})

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.encoder(image)
        out = self.head(self.jpu(features[-3:]))
        logits, se_logits = out if isinstance(out, tuple) else (out, None)
        outputs = {"logits": resize(logits, image.shape[-2:])}
        if se_logits is not None:
            outputs["se_logits"] = se_logits
        if self.aux_head is not None:
            outputs["aux_logits"] = resize(self.aux_head(features[-2]), image.shape[-2:])
        return outputs
