"""Adapter for segmentation-models-pytorch (Iakubovskii, github.com/qubvel-org/segmentation_models.pytorch).

``model=smp model.arch=<architecture> model.encoder=<encoder>``: any smp architecture (``unet``,
``unetplusplus``, ``fpn``, ``pspnet``, ``deeplabv3``, ``deeplabv3plus``, ``linknet``, ``manet``,
``pan``, ``upernet``, ``segformer``, ``dpt``) with any smp encoder (``resnet34``, ``mit_b0``,
``tu-<timm name>``...), built by ``smp.create_model(..., encoder_weights=None)``: each architecture
is exactly smp's, which cites its paper. Extra kwargs go to the smp class (e.g. ``decoder_channels``).

smp architectures need inputs divisible by the encoder's output stride (DPT: twice its patch
size); the adapter pads the image at the bottom/right with zeros (the mean colour after
normalisation) and crops the logits back, so any input size works. Weights are never downloaded: ``encoder_weights`` is null or a
local state-dict file for smp's encoder module (``model.encoder.state_dict()``, or the file smp
itself downloads for that encoder), loaded strictly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .encoders import local_checkpoint, read_state_dict
from .registry import register_model


def _smp() -> Any:
    try:
        import segmentation_models_pytorch
    except ImportError as err:
        raise ImportError(
            "model=smp needs segmentation-models-pytorch: pip install 'seglightning[smp]'"
        ) from err
    return segmentation_models_pytorch


@register_model("smp")
class SMPModel(nn.Module):
    """An smp model returning ``{"logits"}`` at the input resolution for any input size."""

    def __init__(
        self,
        num_classes: int,
        arch: str = "unetplusplus",
        encoder: str = "resnet34",
        encoder_weights: str | Path | None = None,
        in_channels: int = 3,
        **kwargs: Any,
    ):
        super().__init__()
        smp = _smp()
        choices = smp.MODEL_ARCHITECTURES_MAPPING
        if arch.lower() not in choices:
            raise KeyError(f"unknown smp architecture '{arch}' (config key model.arch); choose one of: {', '.join(choices)}")
        self.net = smp.create_model(
            arch, encoder_name=encoder, encoder_weights=None, in_channels=in_channels, classes=num_classes, **kwargs
        )
        if encoder_weights is not None:
            file = local_checkpoint(encoder_weights, f"smp encoder '{encoder}'")
            self.net.encoder.load_state_dict(read_state_dict(file))
        # DPT's reassembly downsamples the ViT patch grid once more, so it needs twice the patch size
        stride = self.net.encoder.output_stride * (2 if arch.lower() == "dpt" else 1)
        self.divisor = stride if self.net.requires_divisible_input_shape else 1

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        h, w = image.shape[-2:]
        pad_h, pad_w = -h % self.divisor, -w % self.divisor
        if pad_h or pad_w:
            image = F.pad(image, (0, pad_w, 0, pad_h))
        return {"logits": self.net(image)[..., :h, :w]}
