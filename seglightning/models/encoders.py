"""The encoder interface every decoder builds on: a timm ``features_only`` backbone by name.

``Encoder(name, output_stride=32 | 16 | 8, pretrained=None | PATH)`` wraps
``timm.create_model(name, features_only=True, output_stride=...)``: ``forward(image)`` returns the
feature pyramid as a list, shallow to deep, with ``channels[i]`` channels at ``reductions[i]``
(the stride w.r.t. the input, after dilation: a ResNet at output stride 8 has reductions
``[2, 4, 8, 8, 8]``). Output strides below 32 replace the last strides with dilation (Chen et al.
2017 "atrous" backbones; timm's ``output_stride``). Any timm model with ``features_only`` support
works: ``resnet50``, ``resnet101``, ``resnet50d`` (ResNet-D), ``mobilenetv3_large_100``,
``mobilenetv2_100``, ``efficientnet_b0``, ``convnext_tiny``, ...

Weights are never downloaded. ``pretrained`` is a local checkpoint of the *classification* model
as timm saves it (``torch.save(timm.create_model(name).state_dict(), path)``, or a dict with a
``state_dict``/``model`` entry); every backbone tensor must be in it (the classifier is dropped),
and a checkpoint of another architecture is an error, not a silent partial load.
"""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from torch import nn

OUTPUT_STRIDES = (8, 16, 32)


def local_checkpoint(path: str | Path, what: str) -> Path:
    """``path`` as an existing file, or a ``FileNotFoundError`` that says weights are not downloaded."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(
            f"{what}: pretrained checkpoint '{file}' does not exist; weights are never downloaded, "
            f"give a local file path or null for random initialisation"
        )
    return file


def read_state_dict(file: Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file (a bare state dict or one under ``state_dict``/``model``)."""
    state = torch.load(file, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{file}: not a state dict (expected a mapping of parameter names to tensors)")
    return state


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
        pretrained: str | Path | None = None,
        in_channels: int = 3,
    ):
        super().__init__()
        if output_stride not in OUTPUT_STRIDES:
            raise ValueError(f"encoder output_stride must be one of {OUTPUT_STRIDES}, got {output_stride}")
        kwargs: dict = {"features_only": True, "output_stride": output_stride, "in_chans": in_channels}
        if pretrained is not None:
            file = local_checkpoint(pretrained, f"encoder '{name}'")
            _check_backbone_keys(name, file)
            kwargs.update(pretrained=True, pretrained_cfg_overlay={"file": str(file)})
        try:
            self.body = timm.create_model(name, **kwargs)
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
