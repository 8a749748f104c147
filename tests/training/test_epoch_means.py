"""EpochMeans: batch-size-weighted epoch means, summed over processes, carried in checkpoints."""

from __future__ import annotations

import pytest
import torch

from seglightning.modules.epoch_means import EpochMeans


def test_means_are_weighted_by_batch_size():
    means = EpochMeans()
    means.add({"loss": torch.tensor(1.0), "ce": torch.tensor(0.5)}, 4)
    means.add({"loss": torch.tensor(4.0), "ce": torch.tensor(2.0)}, 2)  # a smaller last batch
    out = means.compute()
    assert out["loss"].item() == pytest.approx((4 * 1.0 + 2 * 4.0) / 6)
    assert out["ce"].item() == pytest.approx((4 * 0.5 + 2 * 2.0) / 6)


def test_the_sum_over_processes_pools_their_samples():
    rank0, rank1 = EpochMeans(), EpochMeans()
    rank0.add({"loss": torch.tensor(1.0)}, 4)
    rank1.add({"loss": torch.tensor(3.0)}, 4)
    rank1.add({"loss": torch.tensor(5.0)}, 4)
    other = torch.tensor([rank1.sums["loss"].item(), rank1.weight])  # what an all-reduce adds
    pooled = rank0.compute(lambda local: local + other)
    assert pooled["loss"].item() == pytest.approx((1.0 + 3.0 + 5.0) / 3)


def test_state_round_trip_continues_the_epoch_and_reset_starts_a_new_one():
    first = EpochMeans()
    first.add({"loss": torch.tensor(2.0, requires_grad=True) * 1}, 3)
    resumed = EpochMeans()
    resumed.load_state_dict(first.state_dict(), torch.device("cpu"))
    resumed.add({"loss": torch.tensor(6.0)}, 1)
    assert resumed.compute()["loss"].item() == pytest.approx((3 * 2.0 + 6.0) / 4)
    assert not resumed.compute()["loss"].requires_grad  # values are detached
    resumed.reset()
    assert resumed.compute() == {}
