"""Distance-penalised cross-entropy (Caliva, Iriondo, Martinez, Majumdar & Pedoia 2019,
"Distance map loss penalty term for semantic segmentation", MIDL)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import SegLoss
from .common import check_multiclass, masked_mean
from .registry import register_loss


def boundary_proximity(target: Tensor, dist_map: Tensor, valid: Tensor) -> Tensor:
    """Normalised proximity of each pixel to the boundary of its ground-truth region, in [0, 1].

    For pixel ``i`` of class ``y`` in image ``b``, ``d_i >= 1`` is its distance to the outside of
    its region (``1 - phi_y(i)`` from the signed map) and ``M`` the largest such distance in the
    region: proximity ``(M - d_i) / (M - 1)`` — 1 on the border, 0 at the region's centre. A region
    of border pixels only (``M = 1``) is all 1, a class covering the whole image (no boundary) 0.
    For two classes this is Caliva's binary map, ``(max(edt) - edt) / max(max(edt) - edt)`` on each
    side (JunMa11/SegLoss ``compute_edts_forPenalizedLoss``).
    """
    batch, num_classes = dist_map.shape[:2]
    label = torch.where(valid, target, torch.zeros_like(target))
    depth = 1.0 - dist_map.gather(1, label.unsqueeze(1)).squeeze(1)
    depth = torch.where(valid, depth, torch.ones_like(depth))
    region = (torch.arange(batch, device=target.device).view(-1, *[1] * (target.dim() - 1)) * num_classes + label)
    region = torch.where(valid, region, batch * num_classes).flatten()  # void pixels: a spare slot
    largest = depth.new_ones(batch * num_classes + 1).scatter_reduce(0, region, depth.flatten(), "amax")
    size = torch.bincount(region, minlength=batch * num_classes + 1)
    largest, size = largest[region].view_as(depth), size[region].view_as(depth)
    covers_image = size == target[0].numel()
    deep = largest > 1
    interior = (largest - depth) / torch.where(deep, largest - 1.0, 1.0)
    return torch.where(deep, interior, torch.where(covers_image, 0.0, 1.0))


@register_loss("dpce")
class DistancePenalizedCELoss(SegLoss):
    """``mean over valid pixels of CE_i * (1 + proximity_i)``: cross-entropy weighted in [1, 2],
    2 on the ground-truth boundaries and 1 deep inside regions (see ``boundary_proximity``).

    The penalty is applied (JunMa11/SegLoss's ``DistPenalizedCE`` computes it and returns plain
    CE). Proximity comes from the workers' ``dist_map``, per class region, so a multi-class image
    is handled one region at a time; it differs from CE only through these weights.
    """

    requires = ("dist_map",)

    def __init__(self, ignore_index: int = 255) -> None:
        super().__init__()
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        check_multiclass(logits, target, self.name)
        dist_map = self.extra(extras, "dist_map")
        if dist_map.shape != logits.shape:
            raise ValueError(
                f"loss '{self.name}': dist_map {tuple(dist_map.shape)} does not match logits {tuple(logits.shape)}"
            )
        valid = target != self.ignore_index
        ce = F.cross_entropy(logits, target, ignore_index=self.ignore_index, reduction="none")
        with torch.no_grad():
            weight = 1.0 + boundary_proximity(target, dist_map.to(ce.dtype), valid)
        return masked_mean(ce * weight, valid)
