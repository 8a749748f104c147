"""The training loader of a run that can resume inside an epoch.

Lightning restores its loop counters from a mid-epoch checkpoint but restarts a plain DataLoader
from the epoch's first batch. This loader continues instead: its iterator starts on the first
``next()`` (not on ``iter()``, which Lightning calls before it has set the sampler's epoch), asks
``batches_done()`` how many batches of this epoch the restored loop already counts (0 in a fresh
epoch), and has the sampler skip those samples. Shuffle order and augmentation are functions of
``(seed, epoch, index)``, so the batches that follow are the ones an uninterrupted run trains on,
whatever the number of workers.

``state_dict`` (Lightning stores it in the checkpoint) records what fixes the order; resuming with a
different seed, dataset size, batch size or number of processes warns that the data order differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader

from .samplers import ShardSampler


class ResumableDataLoader(DataLoader):
    def __init__(self, *args: Any, batches_done: Callable[[], int], **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not isinstance(self.sampler, ShardSampler):
            raise TypeError("ResumableDataLoader needs a ShardSampler (sampler=...)")
        self.batches_done = batches_done

    def __iter__(self) -> Iterator[Any]:
        self.sampler.skip_next(self.batches_done() * self.batch_size)
        yield from super().__iter__()

    def state_dict(self) -> dict[str, Any]:
        s = self.sampler
        return {
            "seed": s.seed,
            "shuffle": s.shuffle,
            "num_samples": len(s.dataset),
            "world_size": s.world_size,
            "batch_size": self.batch_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        now = self.state_dict()
        changed = {k: (v, now[k]) for k, v in state.items() if k in now and now[k] != v}
        if changed:
            what = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changed.items())
            rank_zero_warn(
                f"resuming inside an epoch with a different training loader ({what}): the rest of the epoch "
                "skips as many batches as were done, but its data order differs from the interrupted run's"
            )
