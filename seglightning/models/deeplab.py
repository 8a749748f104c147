"""DeepLabv3 and DeepLabv3+ on any ``Encoder``.

DeepLabv3 (Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation",
arXiv:1706.05587): a dilated backbone at output stride 16 (or 8), ASPP on its last feature with
rates (6, 12, 18) at stride 16 and doubled at stride 8, an image-level pooling branch, 256 channels
per branch, concatenation -> 1x1 conv (256) + BN (+ dropout 0.5, as torchvision) -> 1x1
classifier, bilinearly upsampled to the input (Sec. 3.3). The paper's head has no further 3x3
conv (torchvision's ``DeepLabHead`` adds one; ours follows the paper).

DeepLabv3+ (Chen et al., "Encoder-Decoder with Atrous Separable Convolution", ECCV 2018,
arXiv:1802.02611, Sec. 3.1 / Table 1-2): the ASPP output is upsampled x4 to the stride-4 backbone
feature, which is projected to 48 channels (1x1 conv-BN-ReLU), concatenated, refined by two 3x3
conv-BN-ReLU (256), classified (1x1) and upsampled to the input. Convolutions are standard
(the paper's ResNet-101 variant), not depthwise-separable (its Xception variant).

Optional auxiliary FCN head on the penultimate stage (``aux=True``; off by default): it outputs
``aux_logits`` and adds the loss term "the main loss on ``aux_logits``, weight ``aux_weight``"
(0.4, the FastFCN/PSPNet recipe) through ``loss_terms``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .blocks import ASPP, ConvBNReLU, FCNHead, aspp_rates, aux_loss_terms, resize
from .encoders import Encoder
from .registry import register_model


@register_model("deeplabv3")
class DeepLabV3(nn.Module):
    """DeepLabv3: ``Encoder`` (dilated to ``output_stride``) -> ASPP -> 1x1 classifier."""

    def __init__(
        self,
        num_classes: int,
        encoder: str = "resnet50",
        output_stride: int = 16,
        pretrained: str | Path | None = None,
        aspp_channels: int = 256,
        dropout: float = 0.5,
        aux: bool = False,
        aux_weight: float = 0.4,
        in_channels: int = 3,
    ):
        super().__init__()
        self.encoder = Encoder(encoder, output_stride, pretrained, in_channels)
        self.aspp = ASPP(self.encoder.channels[-1], aspp_channels, aspp_rates(output_stride), dropout)
        self.classifier = nn.Conv2d(aspp_channels, num_classes, 1)
        self.aux_head = FCNHead(self.encoder.channels[-2], num_classes) if aux else None
        self.loss_terms = aux_loss_terms(aux_weight) if aux else []

    def decode(self, features: list[torch.Tensor], context: torch.Tensor) -> torch.Tensor:
        """Features at the classifier's input, given the ASPP output ``context``."""
        return context

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.encoder(image)
        x = self.decode(features, self.aspp(features[-1]))
        out = {"logits": resize(self.classifier(x), image.shape[-2:])}
        if self.aux_head is not None:
            out["aux_logits"] = resize(self.aux_head(features[-2]), image.shape[-2:])
        return out


@register_model("deeplabv3plus")
class DeepLabV3Plus(DeepLabV3):
    """DeepLabv3+: DeepLabv3's encoder and ASPP + the stride-4 decoder (48-ch skip, two 3x3 convs)."""

    def __init__(self, num_classes: int, low_level_channels: int = 48, **kwargs):
        super().__init__(num_classes, **kwargs)
        self.low_index = self.encoder.index(4)
        self.project = ConvBNReLU(self.encoder.channels[self.low_index], low_level_channels, 1)
        aspp_channels = self.classifier.in_channels
        self.refine = nn.Sequential(
            ConvBNReLU(aspp_channels + low_level_channels, aspp_channels, 3),
            ConvBNReLU(aspp_channels, aspp_channels, 3),
        )

    def decode(self, features: list[torch.Tensor], context: torch.Tensor) -> torch.Tensor:
        low = self.project(features[self.low_index])
        return self.refine(torch.cat([resize(context, low.shape[-2:]), low], dim=1))
