"""Rank-aware samplers whose order is a pure function of (seed, epoch).

``ShardSampler`` replaces Lightning's distributed sampler (the trainer runs with
``use_distributed_sampler=False``): training shards are padded to equal length (every rank steps
together), evaluation shards are *not* padded, so no sample is counted twice and dataset-level
metrics on N processes equal one process exactly. ``set_epoch`` (called by Lightning before each
epoch) also forwards the epoch to the dataset, which seeds its per-sample augmentation with it.
``skip_next(n)`` drops the first ``n`` indices of the next pass only: a run resumed inside an epoch
continues with the batches it had not trained on (:mod:`seglightning.data.resumable`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler


class ShardSampler(Sampler[int]):
    def __init__(self, dataset, shuffle: bool, seed: int = 0, rank: int = 0, world_size: int = 1, pad: bool = False):
        self.dataset, self.shuffle, self.seed = dataset, shuffle, seed
        self.rank, self.world_size, self.pad, self.epoch = rank, world_size, pad, 0
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def _indices(self) -> list[int]:
        n = len(self.dataset)
        if self.shuffle:
            g = torch.Generator().manual_seed(int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1)[0]))
            order = torch.randperm(n, generator=g).tolist()
        else:
            order = list(range(n))
        if self.pad and n % self.world_size:
            order += order[: self.world_size - n % self.world_size]
        return order[self.rank :: self.world_size]

    def skip_next(self, n: int) -> None:
        """Leave out the first ``n`` indices of this rank's next pass (``len`` is unchanged)."""
        self._skip = int(n)

    def __iter__(self) -> Iterator[int]:
        skip, self._skip = self._skip, 0
        return iter(self._indices()[skip:])

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.pad:
            return -(-n // self.world_size)
        return len(range(self.rank, n, self.world_size))
