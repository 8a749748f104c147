"""The encoder interface every decoder builds on: a timm ``features_only`` backbone by name.

``Encoder(name, output_stride=32 | 16 | 8, pretrained=None | PATH)`` wraps
``timm.create_model(name, features_only=True, output_stride=...)``: ``forward(image)`` returns the
feature pyramid as a list, shallow to deep, with ``channels[i]`` channels at ``reductions[i]``
(the stride w.r.t. the input, after dilation: a ResNet at output stride 8 has reductions
``[2, 4, 8, 8, 8]``). Output strides below 32 replace the last strides with dilation (Chen et al.
2017 "atrous" backbones; timm's ``output_stride``). Any timm model with ``features_only`` support
works: ``resnet50``, ``resnet101``, ``resnet50d`` (ResNet-D), ``mobilenetv3_large_100``,
``mobilenetv2_100``, ``efficientnet_b0``, ``convnext_tiny``, ...

``pretrained`` (config key ``model.pretrained``; see :mod:`seglightning.models.pretrained`):
``null``/``false`` random initialisation; ``true`` timm's default pretrained tag of the encoder
through timm's hub loading (Hugging Face cache, ``HF_HOME``, ``HF_HUB_OFFLINE``); a tag
(``a1_in1k`` loads ``resnet50.a1_in1k``); ``hf-hub:org/name``; or a local checkpoint of the
*classification* model as timm saves it (``torch.save(timm.create_model(name).state_dict(), path)``,
or a dict with a ``state_dict``/``model`` entry): every backbone tensor must be in it (the
classifier is dropped), and a checkpoint of another architecture is an error, not a silent partial
load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from .pretrained import hub_download, is_local_file, local_checkpoint, read_state_dict, timm_source

OUTPUT_STRIDES = (8, 16, 32)


def _check_backbone_keys(name: str, file: Path) -> None:
    """Raise if ``file`` lacks a backbone tensor of timm model ``name`` or has foreign ones."""
    with torch.device("meta"):
        reference = timm.create_model(name, pretrained=False)
    classifier = reference.pretrained_cfg.get("classifier") or ()
    classifier = (classifier,) if isinstance(classifier, str) else tuple(classifier)

    def is_head(key: str) -> bool:
        return any(key.startswith(f"{c}.") for c in classifier)

    expected = {k for k in reference.state_dict() if not is_head(k)}
    found = {k for k in read_state_dict(file) if not is_head(k)}
    missing, unexpected = sorted(expected - found), sorted(found - expected)
    if missing or unexpected:
        raise ValueError(
            f"{file} is not a checkpoint of timm model '{name}': "
            f"{len(missing)} missing tensors {missing[:3]}, {len(unexpected)} unexpected {unexpected[:3]}"
        )


class Encoder(nn.Module):
    """A timm feature pyramid (see module docstring): ``forward(x) -> [f_0, ..., f_n]``."""

    def __init__(
        self,
        name: str,
        output_stride: int = 32,
        pretrained: bool | str | Path | None = None,
        in_channels: int = 3,
    ):
        super().__init__()
        if output_stride not in OUTPUT_STRIDES:
            raise ValueError(f"encoder output_stride must be one of {OUTPUT_STRIDES}, got {output_stride}")
        kwargs: dict[str, Any] = {"features_only": True, "output_stride": output_stride, "in_chans": in_channels}
        if pretrained not in (None, False) and is_local_file(pretrained):
            file = local_checkpoint(pretrained, f"encoder '{name}' (model.pretrained)")
            _check_backbone_keys(name, file)
            pretrained = file
        known = timm.is_model(name.split(".")[0])
        model_name, weights, repo = timm_source(name, pretrained) if known else (name, {}, None)
        try:
            prefetch = None if weights.get("pretrained_cfg_overlay") else (
                f"python -c \"import timm; timm.create_model('{model_name}', pretrained=True)\"")
            with hub_download(f"encoder '{name}' (model.pretrained={pretrained})", repo, prefetch):
                self.body = timm.create_model(model_name, **kwargs, **weights)
        except RuntimeError as err:
            if "Unknown model" in str(err):
                raise KeyError(
                    f"unknown encoder '{name}' (config key model.encoder); any timm model name with "
                    f"features_only support, e.g. resnet50, resnet50d, mobilenetv3_large_100, convnext_tiny"
                ) from None
            raise
        self.name = name
        self.output_stride = output_stride
        self.channels: list[int] = list(self.body.feature_info.channels())
        self.reductions: list[int] = list(self.body.feature_info.reduction())

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        return list(self.body(image))

    def index(self, reduction: int) -> int:
        """Index of the first feature at ``reduction`` (e.g. 4 for DeepLabv3+'s low-level feature)."""
        if reduction not in self.reductions:
            raise ValueError(
                f"encoder '{self.name}' has no feature at stride {reduction} (strides {self.reductions})"
            )
        return self.reductions.index(reduction)
