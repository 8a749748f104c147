"""Mid-epoch last.ckpt and exact resume: a run stopped inside an epoch (crash or stop signal) and
started again ends with the uninterrupted run's metrics.json, bit for bit, with 0 and 2 workers."""

from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path

import lightning as L
import pytest
import torch

from seglightning import train as train_mod
from seglightning.checkpointing import AtomicCheckpointIO
from seglightning.run.directory import checkpoint_step
from tests.conftest import metrics_without_cost, train_config

# 2 epochs x 4 batches (16 samples, batch 4): steps 1-4 in epoch 0, 5-8 in epoch 1
STEPS_PER_EPOCH = 4
MID_EPOCH = (
    "callbacks.checkpoint.every_n_train_steps=1",
    "callbacks.checkpoint.train_time_interval=null",
)


def config(run_dir: Path, workers: int = 0):
    return train_config(run_dir, *MID_EPOCH, f"data.num_workers={workers}")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    train_mod.train(config(run_dir))
    return run_dir


class Crash(Exception):
    pass


class CrashAtStep(L.Callback):
    """Dies when the batch after global step ``step`` starts (a kill between two steps)."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            raise Crash(f"step {self.step}")


class SignalAtStep(L.Callback):
    """Sends ``signum`` to this process when global step ``step`` ends (as Slurm would)."""

    def __init__(self, step: int, signum: int = signal.SIGTERM):
        self.step, self.signum = step, signum

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


def epoch_loss_means(run_dir: Path) -> dict[str, str]:
    """``{epoch: train/loss_epoch}`` as written to metrics.csv."""
    rows = csv.DictReader(open(run_dir / "metrics.csv"))
    return {r["epoch"]: r["train/loss_epoch"] for r in rows if r.get("train/loss_epoch")}


def test_a_crash_inside_an_epoch_resumes_from_the_next_batch(
    uninterrupted, tmp_path, with_callback
):
    stop = STEPS_PER_EPOCH + 2  # epoch 1, after its second batch: not an epoch boundary
    with with_callback(CrashAtStep(stop)), pytest.raises(Crash):
        train_mod.train(config(tmp_path))
    assert checkpoint_step(str(tmp_path / "checkpoints/last.ckpt")) == stop
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "running"
    train_mod.train(config(tmp_path))  # resume=auto: from the mid-epoch last.ckpt
    assert metrics_without_cost(tmp_path) == metrics_without_cost(uninterrupted)
    # the resumed epoch's training loss mean covers the steps before the crash too (sums in last.ckpt)
    assert epoch_loss_means(tmp_path) == epoch_loss_means(uninterrupted)
    # the cost sums both segments (state in last.ckpt): every training image counted once
    cost, reference = (json.loads((d / "metrics.json").read_text())["cost"] for d in (tmp_path, uninterrupted))
    assert cost["segments"] == 2 and reference["segments"] == 1
    assert cost["train_images"] == reference["train_images"] == 2 * STEPS_PER_EPOCH * 4
    assert cost["fit_seconds"] >= cost["train_seconds"] > 0 and cost["val_seconds"] > 0
    assert cost["wall_seconds"] == pytest.approx(cost["fit_seconds"] + cost["test_seconds"], abs=2e-3)


def test_a_stop_signal_saves_exits_for_requeue_and_resumes_exactly(
    uninterrupted, tmp_path, monkeypatch, with_callback
):
    """With 2 data workers (the reference ran with none: the data does not depend on them)."""
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    stop = STEPS_PER_EPOCH + 1
    writes = []
    save = AtomicCheckpointIO.save_checkpoint

    def save_under_fire(self, checkpoint, path, storage_options=None):
        writes.append(checkpoint["global_step"])
        if checkpoint["global_step"] == stop:
            os.kill(os.getpid(), signal.SIGUSR1)  # a second signal while last.ckpt is written
        return save(self, checkpoint, path, storage_options)

    before = signal.getsignal(signal.SIGTERM)
    with with_callback(SignalAtStep(stop)), monkeypatch.context() as patch:
        patch.setattr(AtomicCheckpointIO, "save_checkpoint", save_under_fire)
        with pytest.raises(SystemExit) as exited:
            train_mod.train(config(tmp_path, workers=2))
    assert exited.value.code == 75  # callbacks.preemption.exit_code
    assert signal.getsignal(signal.SIGTERM) == before  # handlers put back
    # one write at the epoch's end (best.ckpt; last.ckpt a hard link to it) and one at the signal's step
    assert writes == [*range(1, STEPS_PER_EPOCH), STEPS_PER_EPOCH, stop]
    assert checkpoint_step(str(tmp_path / "checkpoints/last.ckpt")) == stop
    ckpt = torch.load(tmp_path / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["epoch"] == 1 and ckpt["global_step"] % STEPS_PER_EPOCH != 0
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert result == {
        "status": "interrupted",
        "signal": "SIGTERM",
        "stage": "training",
        "step": stop,
        "epoch": 1,
        "checkpoint": "checkpoints/last.ckpt",
    }
    train_mod.train(config(tmp_path, workers=2))
    assert metrics_without_cost(tmp_path) == metrics_without_cost(uninterrupted)


def test_a_signal_during_an_epochs_last_batch_stops_after_validation(
    uninterrupted, tmp_path, monkeypatch, with_callback
):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with with_callback(SignalAtStep(STEPS_PER_EPOCH)), pytest.raises(SystemExit):
        train_mod.train(config(tmp_path))
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert (result["status"], result["step"], result["epoch"]) == (
        "interrupted",
        STEPS_PER_EPOCH,
        0,
    )
    rows = [r for r in csv.DictReader(open(tmp_path / "metrics.csv")) if r.get("val/mIoU")]
    assert [r["epoch"] for r in rows] == ["0"]  # epoch 0 was validated before the stop
    train_mod.train(config(tmp_path))
    assert metrics_without_cost(tmp_path) == metrics_without_cost(uninterrupted)
