"""Adapter for segmentation-models-pytorch (Iakubovskii, github.com/qubvel-org/segmentation_models.pytorch).

``model=smp model.arch=<architecture> model.encoder=<encoder>``: any smp architecture (``unet``,
``unetplusplus``, ``fpn``, ``pspnet``, ``deeplabv3``, ``deeplabv3plus``, ``linknet``, ``manet``,
``pan``, ``upernet``, ``segformer``, ``dpt``) with any smp encoder (``resnet34``, ``mit_b0``,
``tu-<timm name>``...), built by ``smp.create_model(..., encoder_weights=None)``: each architecture
is exactly smp's, which cites its paper. Extra kwargs go to the smp class (e.g. ``decoder_channels``).

smp architectures need inputs divisible by the encoder's output stride (DPT: twice its patch
size); the adapter pads the image at the bottom/right with zeros (the mean colour after
normalisation) and crops the logits back, so any input size works.

``encoder_weights`` (see :mod:`seglightning.models.pretrained`): ``null``; smp's own weight name for
the encoder (``imagenet``, ``ssl``, ``swsl``, ...; ``true`` means ``imagenet``), loaded by smp from the
Hugging Face hub cache (``HF_HOME``, ``HF_HUB_OFFLINE``); for ``tu-<timm name>`` encoders ``true``
(timm's default tag; put another tag in the name, ``tu-resnet50.a1_in1k``); or a local state-dict
file of smp's encoder module (``model.encoder.state_dict()``, or the file smp itself downloads for
that encoder), loaded strictly.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .pretrained import hub_download, is_local_file, local_checkpoint, read_state_dict
from .registry import register_model


def _smp() -> Any:
    try:
        import segmentation_models_pytorch
    except ImportError as err:
        raise ImportError(
            "model=smp needs segmentation-models-pytorch: pip install 'seglightning[smp]'"
        ) from err
    return segmentation_models_pytorch


def _hub_weights(encoder: str, value: bool | str | None) -> bool | str | None:
    """smp's ``encoder_weights`` argument: ``True`` for a timm (``tu-``) encoder, a weight name
    (``imagenet`` for ``true``) for smp's own encoders, ``None`` for random initialisation."""
    if value in (None, False):
        return None
    if encoder.startswith("tu-"):
        if value is not True:
            raise ValueError(f"model.encoder_weights={value}: a tu- encoder takes true (timm's default tag) or null; "
                             f"put another tag in the name (model.encoder={encoder}.<tag>)")
        return True
    return "imagenet" if value is True else str(value)


def _hub_repo(smp: Any, encoder: str, weights: bool | str | None) -> tuple[str, None, str | None]:
    """The hub repository and revision the weights come from (for error messages)."""
    if encoder.startswith("tu-"):
        import timm

        try:
            cfg = timm.models.get_pretrained_cfg(encoder[3:]) if weights else None
        except RuntimeError:  # an invalid tag: timm's own error follows
            cfg = None
        return (cfg.hf_hub_id if cfg else None) or f"timm/{encoder[3:]}", None, None
    settings = smp.encoders.encoders.get(encoder, {}).get("pretrained_settings", {}).get(weights, {})
    return settings.get("repo_id", f"{encoder}.{weights}"), None, settings.get("revision")


@register_model("smp")
class SMPModel(nn.Module):
    """An smp model returning ``{"logits"}`` at the input resolution for any input size."""

    def __init__(
        self,
        num_classes: int,
        arch: str = "unetplusplus",
        encoder: str = "resnet34",
        encoder_weights: bool | str | Path | None = None,
        in_channels: int = 3,
        **kwargs: Any,
    ):
        super().__init__()
        smp = _smp()
        choices = smp.MODEL_ARCHITECTURES_MAPPING
        if arch.lower() not in choices:
            raise KeyError(f"unknown smp architecture '{arch}' (config key model.arch); choose one of: {', '.join(choices)}")
        local = encoder_weights not in (None, False) and is_local_file(encoder_weights)
        hub_weights = None if local else _hub_weights(encoder, encoder_weights)
        what = f"smp encoder '{encoder}' (model.encoder_weights={encoder_weights})"
        hub = hub_download(what, *_hub_repo(smp, encoder, hub_weights)) if hub_weights is not None else nullcontext()
        with hub:
            self.net = smp.create_model(
                arch, encoder_name=encoder, encoder_weights=hub_weights, in_channels=in_channels,
                classes=num_classes, **kwargs,
            )
        if local:
            file = local_checkpoint(encoder_weights, what)
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
