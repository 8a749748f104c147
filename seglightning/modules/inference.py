"""Inference modes for evaluation, test and prediction (config ``module.inference``).

``{mode: whole | slide, crop: [h, w], stride: [h, w], scales: [1.0], flip: false}``:

- ``whole``: one forward pass on the full image.
- ``slide``: mmsegmentation's sliding window (``EncoderDecoder.slide_inference``): windows of
  ``crop`` every ``stride`` (``ceil((H - crop) / stride) + 1`` rows of windows, the last shifted
  back to end at the border, so every window lies inside the image; an image smaller than the
  crop is one window); each pixel gets the mean of the logits of the windows that cover it
  (count-normalised).
- ``scales`` / ``flip``: test-time augmentation as in DeepLab's multi-scale + flip evaluation and
  mmsegmentation's ``SegTTAModel``: the input is resized by each scale (bilinear), also flipped
  horizontally with ``flip``, each pass (whole or slide) gives logits that are flipped back, resized
  to the input size (bilinear) and turned into a softmax; the probabilities are averaged.

The result is always a logits tensor [B,C,H,W]: the model's logits for a single pass (so the
default is the plain forward, bit for bit), the count-normalised logits for ``slide`` alone, and
``log`` of the averaged probabilities for several passes (its softmax is that average and its
argmax the prediction).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

MODES = ("whole", "slide")
Forward = Callable[[Tensor], Tensor]


def window_starts(size: int, crop: int, stride: int) -> list[int]:
    """Start offsets of mmsegmentation's windows along one axis (the last one shifted to fit)."""
    count = max(size - crop + stride - 1, 0) // stride + 1
    return [max(min(i * stride + crop, size) - crop, 0) for i in range(count)]


def _pair(value: Any, key: str) -> tuple[int, int] | None:
    if value is None:
        return None
    pair = (
        (int(value), int(value))
        if isinstance(value, (int, float))
        else tuple(int(v) for v in value)
    )
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(
            f"module.inference.{key}={value}: give [h, w] in pixels (positive integers)"
        )
    return pair  # type: ignore[return-value]


@dataclass(frozen=True)
class Inference:
    """One inference set-up (module docstring); :meth:`from_config` validates a config mapping."""

    mode: str = "whole"
    crop: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None
    scales: tuple[float, ...] = (1.0,)
    flip: bool = False

    @classmethod
    def from_config(cls, spec: Mapping[str, Any] | Inference | None) -> Inference:
        if isinstance(spec, Inference):
            return spec
        spec = {k: v for k, v in dict(spec or {}).items() if v is not None}
        unknown = set(spec) - {"mode", "crop", "stride", "scales", "flip"}
        if unknown:
            raise ValueError(
                f"module.inference has unknown keys {sorted(unknown)}; it takes mode, crop, stride, scales, flip"
            )
        mode = str(spec.get("mode", "whole"))
        if mode not in MODES:
            raise ValueError(f"module.inference.mode={mode}: choose one of {', '.join(MODES)}")
        crop, stride = _pair(spec.get("crop"), "crop"), _pair(spec.get("stride"), "stride")
        if mode == "slide":
            if crop is None or stride is None:
                raise ValueError(
                    "module.inference.mode=slide needs crop: [h, w] and stride: [h, w]"
                )
            if stride[0] > crop[0] or stride[1] > crop[1]:
                raise ValueError(
                    f"module.inference.stride={list(stride)} is larger than crop={list(crop)}: "
                    "pixels between windows would get no prediction"
                )
        scales = tuple(float(s) for s in spec.get("scales", (1.0,)))
        if not scales or min(scales) <= 0:
            raise ValueError(
                f"module.inference.scales={list(scales)}: give one or more positive factors, e.g. [0.5, 1.0, 1.5]"
            )
        return cls(
            mode,
            crop if mode == "slide" else None,
            stride if mode == "slide" else None,
            scales,
            bool(spec.get("flip", False)),
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain types, for ``metrics.json`` and the checkpoint's hyperparameters."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @property
    def plain(self) -> bool:
        """A single whole-image pass (the model's own forward)."""
        return self.mode == "whole" and self.scales == (1.0,) and not self.flip

    def logits(self, forward: Forward, image: Tensor, whole: Tensor | None = None) -> Tensor:
        """Logits [B,C,H,W] for ``image`` [B,3,H,W]; ``forward(x)`` gives a model's logits at the
        resolution of ``x``; ``whole`` is ``forward(image)`` when the caller has it already."""
        if self.plain:
            return whole if whole is not None else forward(image)
        passes = [(s, f) for s in self.scales for f in ((False, True) if self.flip else (False,))]
        if passes == [(1.0, False)]:
            return self._pass(forward, image)
        size = image.shape[-2:]
        total = None
        for scale, flip in passes:
            x = (
                image
                if scale == 1.0
                else F.interpolate(
                    image,
                    size=(round(size[0] * scale), round(size[1] * scale)),
                    mode="bilinear",
                    align_corners=False,
                )
            )
            logits = self._pass(forward, x.flip(-1) if flip else x)
            logits = logits.flip(-1) if flip else logits
            if logits.shape[-2:] != size:
                logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
            probs = logits.float().softmax(1)
            total = probs if total is None else total + probs
        return (total / len(passes)).clamp_min(torch.finfo(torch.float32).tiny).log()

    def _pass(self, forward: Forward, image: Tensor) -> Tensor:
        return forward(image) if self.mode == "whole" else self._slide(forward, image)

    def _slide(self, forward: Forward, image: Tensor) -> Tensor:
        assert self.crop is not None and self.stride is not None
        h, w = image.shape[-2:]
        total = count = None
        for y in window_starts(h, self.crop[0], self.stride[0]):
            for x in window_starts(w, self.crop[1], self.stride[1]):
                y2, x2 = min(y + self.crop[0], h), min(x + self.crop[1], w)
                logits = forward(image[..., y:y2, x:x2])
                if total is None:  # accumulated in float32 (autocast may give bf16 logits)
                    total = logits.new_zeros((*logits.shape[:2], h, w), dtype=torch.float32)
                    count = logits.new_zeros((1, 1, h, w), dtype=torch.float32)
                total[..., y:y2, x:x2] += logits.float()
                count[..., y:y2, x:x2] += 1
        return total / count
