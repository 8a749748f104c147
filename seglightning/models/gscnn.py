"""Gated-SCNN (Takikawa et al., "Gated-SCNN: Gated Shape CNNs for Semantic Segmentation",
ICCV 2019, arXiv:1907.05740), on any ``Encoder``.

Follows the paper (Sec. 3, Fig. 2) and the structure of nv-tlabs/GSCNN ``network/gscnn.py``:
- Regular stream: the encoder at output stride 8 (the paper's WideResNet-38/ResNet-101 are dilated
  to stride 8). Its side outputs (1x1 conv to one channel, bilinearly upsampled to the input) gate
  the shape stream: from the second feature (stride 4 for a ResNet), the third (stride 8) and the
  last one (the reference's ``dsn3``/``dsn4``/``dsn7``).
- Shape stream at full input resolution: the first (finest) encoder feature, upsampled to the
  input, passes three times through a residual block (torchvision ``BasicBlock``), a 1x1 channel
  reduction (-> 32, 16, 8) and a gated convolution (``GatedSpatialConv2d``:
  ``alpha = sigmoid(BN(conv1x1(relu(conv1x1(BN([s; r]))))))``, output ``conv1x1(s * (1 + alpha))``),
  then a 1x1 conv to one channel: ``edge_logits`` [B,1,H,W] (the reference returns the sigmoid).
- Fusion: ``sigmoid(conv1x1([sigmoid(edge_logits); image gradient]))`` (no bias). The image
  gradient is computed on the input tensor, per image rescaled to [0,1]: ``"sobel"`` (gradient
  magnitude, max-normalised; pure torch, the default) or ``"canny"`` (kornia's GPU Canny, binary,
  closest to the reference's ``cv2.Canny(img, 10, 100)`` on the CPU; needs ``kornia``).
- ASPP (rates doubled for stride 8) whose branches are concatenated with an edge branch (1x1
  conv-BN-ReLU of the fused map, resized to the feature) and projected by a 1x1 conv to 256.
- Decoder (DeepLabv3+ style, as the reference): the ASPP output upsampled to the second encoder
  feature, concatenated with its 48-channel 1x1 projection, two 3x3 conv-BN-ReLU (256) and a 1x1
  classifier (no bias), upsampled to the input: ``logits``.

Losses (``loss_terms``, all through the loss factory, weights configurable): ``gscnn_edge``
(class-balanced BCE on ``edge_logits`` vs the ``edge`` band, weight 20), ``gscnn_attention``
(segmentation loss where the edge probability > 0.8, weight 1) and ``gscnn_dualtask``
(Gumbel-softmax boundary consistency, weight 1); the main term is the user's segmentation loss.
The model ``requires`` the ``edge`` target (``data.extras.edge_band``: radius-2 band around class
boundaries, computed in the data workers). Boundary F1 is evaluated at GSCNN's fractions of the
image diagonal (``bf1_tolerance``). Where this differs from the reference (the edge target at the
image frame, the image gradient) and why: docs/design-notes.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock

from .blocks import ASPPBranches, ConvBNReLU, aspp_rates, resize
from .encoders import Encoder
from .registry import register_model

IMAGE_GRADIENTS = ("sobel", "canny")
# GSCNN's --eval_thresholds: boundary F1 tolerances as fractions of the image diagonal
GSCNN_EVAL_THRESHOLDS = (0.0005, 0.001875, 0.00375, 0.005)


class GatedSpatialConv2d(nn.Module):
    """Gated convolution of shape-stream features ``s`` by a one-channel regular-stream map ``r``."""

    def __init__(self, channels: int):
        super().__init__()
        self.gate = nn.Sequential(
            nn.BatchNorm2d(channels + 1),
            nn.Conv2d(channels + 1, channels + 1, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels + 1, 1, 1),
            nn.BatchNorm2d(1),
            nn.Sigmoid(),
        )
        self.conv = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, shape: torch.Tensor, regular: torch.Tensor) -> torch.Tensor:
        alpha = self.gate(torch.cat([shape, regular], dim=1))
        return self.conv(shape * (alpha + 1))


def _unit_range(x: torch.Tensor) -> torch.Tensor:
    """Per-image min-max rescaling of a [B,1,H,W] map to [0, 1]."""
    lo = x.amin(dim=(-2, -1), keepdim=True)
    hi = x.amax(dim=(-2, -1), keepdim=True)
    return (x - lo) / (hi - lo).clamp_min(1e-8)


def sobel_magnitude(image: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude of the channel-mean image, per image max-normalised: [B,1,H,W]."""
    gray = image.mean(1, keepdim=True)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=gray.dtype, device=gray.device)
    kernels = torch.stack([kx, kx.t()]).unsqueeze(1)  # [2,1,3,3]
    grad = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), kernels)
    magnitude = grad.pow(2).sum(1, keepdim=True).sqrt()
    return magnitude / magnitude.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-8)


def canny_edges(image: torch.Tensor) -> torch.Tensor:
    """Binary Canny edges (kornia, thresholds 0.1/0.2 on the [0,1]-rescaled grey image): [B,1,H,W]."""
    try:
        from kornia.filters import canny
    except ImportError as err:
        raise ImportError("model.image_gradient=canny needs kornia (pip install kornia); or use sobel") from err
    _, edges = canny(_unit_range(image.mean(1, keepdim=True)))
    return edges


@register_model("gscnn")
class GSCNN(nn.Module):
    """Gated-SCNN: regular stream (``Encoder``) + gated shape stream + edge-fused ASPP + decoder."""

    requires = ("edge",)

    def __init__(
        self,
        num_classes: int,
        encoder: str = "resnet50",
        output_stride: int = 8,
        pretrained: str | Path | None = None,
        image_gradient: str = "sobel",
        aspp_channels: int = 256,
        edge_weight: float = 20.0,
        attention_weight: float = 1.0,
        attention_threshold: float = 0.8,
        dualtask_weight: float = 1.0,
        in_channels: int = 3,
        bf1_tolerance: Sequence[float] = GSCNN_EVAL_THRESHOLDS,
    ):
        super().__init__()
        self.bf1_tolerance = tuple(float(t) for t in bf1_tolerance)  # the loop's default tolerances
        if image_gradient not in IMAGE_GRADIENTS:
            raise ValueError(f"model.image_gradient must be one of {IMAGE_GRADIENTS}, got '{image_gradient}'")
        self.image_gradient = image_gradient
        self.encoder = Encoder(encoder, output_stride, pretrained, in_channels)
        ch = self.encoder.channels
        # side outputs of the regular stream that gate the shape stream
        self.gate_sources = (1, 2, len(ch) - 1)
        self.side = nn.ModuleList([nn.Conv2d(ch[i], 1, 1) for i in self.gate_sources])
        widths = (ch[0], 32, 16, 8)
        self.res = nn.ModuleList([BasicBlock(w, w) for w in widths[:-1]])
        self.reduce = nn.ModuleList([nn.Conv2d(a, b, 1) for a, b in zip(widths[:-1], widths[1:])])
        self.gates = nn.ModuleList([GatedSpatialConv2d(w) for w in widths[1:]])
        self.edge_out = nn.Conv2d(widths[-1], 1, 1, bias=False)
        self.fuse = nn.Conv2d(2, 1, 1, bias=False)
        self.aspp = ASPPBranches(ch[-1], aspp_channels, aspp_rates(output_stride))
        self.aspp_edge = ConvBNReLU(1, aspp_channels, 1)
        self.aspp_project = nn.Conv2d(self.aspp.out_channels + aspp_channels, aspp_channels, 1, bias=False)
        self.fine = nn.Conv2d(ch[1], 48, 1, bias=False)
        self.decoder = nn.Sequential(
            ConvBNReLU(aspp_channels + 48, aspp_channels, 3),
            ConvBNReLU(aspp_channels, aspp_channels, 3),
            nn.Conv2d(aspp_channels, num_classes, 1, bias=False),
        )
        terms = [
            {"name": "gscnn_edge", "weight": float(edge_weight)},
            {"name": "gscnn_attention", "weight": float(attention_weight), "threshold": float(attention_threshold)},
            {"name": "gscnn_dualtask", "weight": float(dualtask_weight)},
        ]
        self.loss_terms = [t for t in terms if t["weight"] > 0]

    @torch.no_grad()
    def gradient_map(self, image: torch.Tensor) -> torch.Tensor:
        """The fixed image-gradient map fused with the predicted edges: [B,1,H,W] in [0, 1]."""
        return sobel_magnitude(image) if self.image_gradient == "sobel" else canny_edges(image)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        size = image.shape[-2:]
        features = self.encoder(image)
        shape = resize(features[0], size)
        for res, reduce, gate, side, i in zip(self.res, self.reduce, self.gates, self.side, self.gate_sources):
            shape = gate(reduce(res(shape)), resize(side(features[i]), size))
        edge_logits = self.edge_out(shape)
        attention = torch.sigmoid(self.fuse(torch.cat([torch.sigmoid(edge_logits), self.gradient_map(image)], dim=1)))

        x = features[-1]
        edge_branch = self.aspp_edge(resize(attention, x.shape[-2:]))
        x = self.aspp_project(torch.cat([self.aspp(x), edge_branch], dim=1))
        fine = self.fine(features[1])
        logits = self.decoder(torch.cat([fine, resize(x, fine.shape[-2:])], dim=1))
        return {"logits": resize(logits, size), "edge_logits": edge_logits}
