"""Under DDP every rank takes the non-finite decision of the worst rank (2 gloo processes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


class _Strategy:
    root_device = torch.device("cpu")

    def reduce(self, tensor, reduce_op):
        assert reduce_op == "sum"
        dist.all_reduce(tensor)
        return tensor


class _Trainer:
    world_size, global_step, current_epoch, strategy = 2, 7, 1, _Strategy()


class _Module:
    trainer = _Trainer()

    def log(self, *args, **kwargs):
        pass


def _rank(rank: int, folder: str) -> None:
    from seglightning.modules.nonfinite import NonFiniteGuard, NonFiniteLossError

    dist.init_process_group("gloo", init_method=f"file://{folder}/store", rank=rank, world_size=2)
    loss = torch.tensor(float("nan") if rank == 0 else 0.5)  # only rank 0's batch went wrong
    batch = {"meta": [{"id": f"r{rank}_a"}, {"id": f"r{rank}_b"}]}
    outcomes = {}
    for policy in ("skip", "raise"):
        try:
            outcomes[policy] = NonFiniteGuard(policy).check(
                _Module(), loss, {"ce": loss, "dice": torch.tensor(0.1)}, batch, 3
            )
        except NonFiniteLossError as error:
            outcomes[policy] = str(error)
    Path(folder, f"rank{rank}.json").write_text(json.dumps(outcomes))
    dist.destroy_process_group()


@pytest.mark.ddp
@pytest.mark.slow
def test_all_ranks_take_the_same_decision(tmp_path):
    mp.spawn(_rank, args=(str(tmp_path),), nprocs=2)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["skip"] for r in ranks] == [True, True]  # rank 1's loss was finite; it skips too
    assert ranks[0]["raise"] == ranks[1]["raise"]  # both stop, with the same message
    message = ranks[0]["raise"]
    assert (
        "global step 7 (epoch 1, batch 3): rank 0: loss nan, non-finite terms: ce=nan; samples ['r0_a', 'r0_b']"
        in message
    )
    assert "r1_a" not in message and "dice" not in message
