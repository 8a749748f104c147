"""Gated-SCNN's loss terms (Takikawa et al., "Gated-SCNN: Gated Shape CNNs for Semantic
Segmentation", ICCV 2019, Sec. 3.3; nv-tlabs/GSCNN ``loss.py`` ``JointEdgeSegLoss`` and
``my_functionals/DualTaskLoss.py``). ``model=gscnn`` appends them to the user's segmentation loss
through its ``loss_terms``; each reads the model output ``edge_logits`` [B,1,H,W] from the extras.

- ``gscnn_edge`` (weight 20 in the paper): class-balanced binary cross-entropy (HED, Xie & Tu 2015;
  the reference's ``bce2d``) of ``edge_logits`` against the ``edge`` band target: edge pixels weigh
  ``|neg| / (|pos| + |neg|)``, the others ``|pos| / (|pos| + |neg|)``, counted over the batch; the
  weighted sum is divided by the number of pixels. Void pixels (``target == ignore_index``) are
  removed from the counts and the sum (the reference counts them; its edge targets have no void).
- ``gscnn_attention`` (weight 1): the segmentation loss (``loss``, default ``ce``) restricted to the
  pixels whose predicted edge probability ``sigmoid(edge_logits)`` exceeds ``threshold`` (0.8);
  the others are set to ``ignore_index``.
- ``gscnn_dualtask`` (weight 1): ``zeta = |grad(T * G(logits))| / sqrt(2)`` per class, with ``G`` the
  Gumbel-softmax (temperature ``tau`` 0.5), ``T`` a triangle filter of radius 4 (Dollar's
  ``convTri``) and ``grad`` central differences; ``zeta_hat`` the same of the one-hot ground truth.
  The loss is ``0.5 mean_{zeta > th} |zeta - zeta_hat| + 0.5 mean_{zeta_hat > th} |zeta - zeta_hat|``
  over valid pixels (the paper's ``p+`` set, split as the reference does). Differences from the
  released code, which follow the paper instead: the released ``convTri`` and central-difference
  functions return their input unchanged, and it normalises each magnitude map by its maximum
  (which turns a boundary-free ground truth into all-ones); void pixels are set to zero in both
  maps (so they create no mismatch) and excluded from the means, where the reference maps them to
  class 0. It is ~0 when the prediction equals the ground truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import SegLoss
from .common import check_multiclass, masked_mean, one_hot, safe_div
from .factory import build_loss
from .registry import register_loss


def _edge_logits(extras: Mapping[str, Any], loss_name: str) -> Tensor:
    edge_logits = extras.get("edge_logits")
    if edge_logits is None:
        raise ValueError(
            f"loss '{loss_name}' reads the model output 'edge_logits' (Gated-SCNN's shape stream); "
            f"use it with model=gscnn or a model that returns edge_logits"
        )
    return edge_logits[:, 0] if edge_logits.dim() == 4 else edge_logits


@register_loss("gscnn_edge")
class GSCNNEdgeLoss(SegLoss):
    """Class-balanced BCE of ``edge_logits`` vs the ``edge`` band (see module docstring)."""

    requires = ("edge",)

    def __init__(self, ignore_index: int = 255) -> None:
        super().__init__()
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        edge_logits = _edge_logits(extras, self.name)
        edge = self.extra(extras, "edge")
        if edge.shape != target.shape or edge_logits.shape != target.shape:
            raise ValueError(
                f"loss '{self.name}': edge_logits {tuple(edge_logits.shape)}, edge {tuple(edge.shape)} "
                f"and target {tuple(target.shape)} must have the same [B,H,W]"
            )
        valid = target != self.ignore_index
        positive = (edge > 0) & valid
        count = valid.sum().to(edge_logits.dtype)
        n_pos = positive.sum().to(edge_logits.dtype)
        weight = torch.where(positive, count - n_pos, n_pos) / count.clamp_min(1)
        per_pixel = F.binary_cross_entropy_with_logits(edge_logits, positive.to(edge_logits.dtype), reduction="none")
        return safe_div(torch.where(valid, weight * per_pixel, 0).sum(), count)


@register_loss("gscnn_attention")
class GSCNNAttentionLoss(SegLoss):
    """The segmentation loss ``loss`` on the pixels where ``sigmoid(edge_logits) > threshold``."""

    def __init__(
        self,
        threshold: float = 0.8,
        loss: str | Mapping[str, Any] = "ce",
        ignore_index: int = 255,
        num_classes: int | None = None,
        class_frequency: Any = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"loss '{self.name}': threshold must be in [0, 1), got {threshold}")
        self.threshold = threshold
        self.ignore_index = ignore_index
        defaults = {"ignore_index": ignore_index, "num_classes": num_classes, "class_frequency": class_frequency}
        self.loss = build_loss(loss, **{k: v for k, v in defaults.items() if v is not None})
        self.requires = tuple(self.loss.requires)

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        on_edge = torch.sigmoid(_edge_logits(extras, self.name)).detach() > self.threshold
        return self.loss(logits, torch.where(on_edge, target, self.ignore_index), **extras)


def triangle_smooth(x: Tensor, radius: int) -> Tensor:
    """Separable triangle filter ``[1..r+1..1] / (r+1)^2`` per channel, replicate padding."""
    kernel = torch.cat([torch.arange(1, radius + 2), torch.arange(radius, 0, -1)]).to(x) / (radius + 1) ** 2
    channels = x.shape[1]
    x = F.conv2d(
        F.pad(x, (radius, radius, 0, 0), mode="replicate"),
        kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1),
        groups=channels,
    )
    return F.conv2d(
        F.pad(x, (0, 0, radius, radius), mode="replicate"),
        kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1),
        groups=channels,
    )


def boundary_magnitude(probs: Tensor, radius: int = 4, eps: float = 1e-10) -> Tensor:
    """``|grad(T * probs)| / sqrt(2)`` per channel (central differences, replicate padding).

    ``sqrt(g^2 + eps) - sqrt(eps)`` keeps the gradient finite where the map is flat (and 0 there).
    """
    smooth = triangle_smooth(probs, radius)
    padded = F.pad(smooth, (1, 1, 1, 1), mode="replicate")
    gx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2
    gy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
    return ((gx * gx + gy * gy + eps).sqrt() - eps**0.5) / 2**0.5


@register_loss("gscnn_dualtask")
class GSCNNDualTaskLoss(SegLoss):
    """Dual-task boundary consistency of the Gumbel-softmax prediction (see module docstring)."""

    def __init__(self, ignore_index: int = 255, tau: float = 0.5, radius: int = 4, threshold: float = 1e-8) -> None:
        super().__init__()
        if tau <= 0 or radius < 1:
            raise ValueError(f"loss '{self.name}': tau must be > 0 and radius >= 1, got tau={tau}, radius={radius}")
        self.ignore_index = ignore_index
        self.tau = tau
        self.radius = radius
        self.threshold = threshold

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        check_multiclass(logits, target, self.name)
        valid = target != self.ignore_index
        keep = valid.unsqueeze(1).to(logits.dtype)
        sample = F.gumbel_softmax(logits, tau=self.tau, hard=False, dim=1) * keep
        truth = one_hot(target, logits.shape[1], valid, logits.dtype)
        zeta = boundary_magnitude(sample, self.radius)
        zeta_hat = boundary_magnitude(truth, self.radius)
        difference = (zeta - zeta_hat).abs()
        inside = valid.unsqueeze(1).expand_as(difference)
        return 0.5 * masked_mean(difference, inside & (zeta.detach() > self.threshold)) + 0.5 * masked_mean(
            difference, inside & (zeta_hat > self.threshold)
        )
