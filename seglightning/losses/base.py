"""The loss contract every seglightning loss implements.

``loss(logits, target, **extras) -> scalar``: logits in (softmax/sigmoid inside), ``target`` an
index mask with ``ignore_index`` for void pixels. Every loss accepts and ignores unknown extras:
the training loop passes all batch extras (``dist_map``, ``edge``...) and all auxiliary model
outputs (``aux_logits``, ``edge_logits``...). A loss that needs an extra lists it in ``requires``;
the datamodule then computes it in its workers (``data.extras``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from torch import Tensor, nn


class SegLoss(nn.Module):
    """Base class: ``requires``, ``set_epoch`` and ``last_terms`` with plain-loss defaults."""

    name: ClassVar[str] = "loss"  # the registry key, set by ``register_loss``
    requires: tuple[str, ...] = ()

    def forward(self, logits: Tensor, target: Tensor, **extras: Any) -> Tensor:
        raise NotImplementedError

    def set_epoch(self, epoch: int) -> None:
        """Called by the loop at the start of every training epoch; a plain loss has no schedule."""

    @property
    def last_terms(self) -> dict[str, Tensor]:
        """Detached per-term values of the last forward (``{}`` for a loss with a single term)."""
        return {}

    def extra(self, extras: Mapping[str, Any], key: str) -> Tensor:
        """The batch extra ``key`` this loss requires, or a ``ValueError`` saying how to get it."""
        if key not in extras or extras[key] is None:
            raise ValueError(
                f"loss '{self.name}' needs the batch extra '{key}', which the batch does not carry; "
                f"set the datamodule option data.extras to include '{key}' (the training loop does "
                f"this from the loss's `requires`)"
            )
        return extras[key]
