"""Distributed training end to end: 2 processes (gloo, CPU, ``trainer.strategy=ddp``,
``trainer.devices=2``) through ``seglightning-train``, stopped by SIGTERM inside an epoch and
resumed from that checkpoint."""

from __future__ import annotations

import csv
import json
import signal

import pytest

from seglightning.evaluate import evaluate
from seglightning.run.directory import checkpoint_step
from tests.conftest import FAST, compose_config
from tests.training.test_preemption import launch, wait_for_step

STEPS_PER_EPOCH = 8  # 64 samples over 2 processes, batch 4
OVERRIDES = (
    *(o for o in FAST if not o.startswith("data.dataset.length")),
    "data.dataset.length=64",
    "trainer.strategy=ddp",
    "trainer.devices=2",
    "callbacks.checkpoint.every_n_train_steps=1",
    "callbacks.checkpoint.train_time_interval=null",
)
METRICS = (
    "mIoU",
    "mDice",
    "bF1",
    "pixel_acc",
    "IoU/background",
    "IoU/disk",
    "IoU/square",
    "IoU/triangle",
    "IoU/cross",
)


@pytest.mark.slow
@pytest.mark.ddp
def test_two_process_training_writes_one_run_and_resumes_inside_an_epoch(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    proc = launch(run_dir, OVERRIDES)
    wait_for_step(run_dir, 2, proc)
    proc.send_signal(signal.SIGTERM)  # rank 0 only: the ranks agree through an all-reduce
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 75, stderr[-3000:]
    stopped = json.loads((run_dir / "metrics.json").read_text())
    assert stopped["status"] == "interrupted" and stopped["step"] == checkpoint_step(
        str(run_dir / "checkpoints/last.ckpt")
    )
    assert stopped["step"] % STEPS_PER_EPOCH, "expected a stop inside an epoch"

    proc = launch(run_dir, OVERRIDES)  # resume=auto from the mid-epoch last.ckpt, 2 processes again
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    result = json.loads((run_dir / "metrics.json").read_text())
    assert result["status"] == "complete" and result["final"]["epoch"] == 1
    assert checkpoint_step(str(run_dir / "checkpoints/last.ckpt")) == 2 * STEPS_PER_EPOCH

    # one run dir, one metrics.json, one tracker run, each checkpoint written once
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert list(tmp_path.rglob("metrics.json")) == [run_dir / "metrics.json"]
    assert list(tmp_path.rglob("metrics.csv")) == [run_dir / "metrics.csv"]
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    assert [r["epoch"] for r in rows if r.get("val/mIoU")] == ["0", "1"]
    steps = [int(r["step"]) for r in rows if r.get("train/loss_step")]
    assert len(steps) == len(set(steps)) == 2 * STEPS_PER_EPOCH
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]

    # the 2-process evaluation equals evaluating the saved checkpoint in 1 process
    best = run_dir / "checkpoints" / "best.ckpt"
    for split, logged in (("val", result["best"]), ("test", result["test"])):
        one = evaluate(
            compose_config(
                "eval",
                [
                    f"ckpt={best}",
                    f"split={split}",
                    f"output={tmp_path / split}",
                    "trainer.accelerator=cpu",
                ],
            )
        )
        for name in METRICS:
            assert one[f"{split}/{name}"] == logged[f"{split}/{name}"], (split, name)
