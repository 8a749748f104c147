"""Non-finite losses (module.nonfinite: raise | skip) and CUDA out-of-memory during training."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import OmegaConf, open_dict

from seglightning import train as train_mod
from seglightning.checkpointing.load_run import load_module
from seglightning.data import build_datamodule
from seglightning.losses.base import SegLoss
from seglightning.losses.registry import LOSSES
from seglightning.modules import SegmentationModule
from seglightning.modules.nonfinite import NonFiniteLossError
from seglightning.run.directory import checkpoint_step
from seglightning.run.out_of_memory import TrainingOutOfMemoryError
from tests.conftest import train_config

NAN_STEP = 5  # the 6th optimizer step: epoch 1, batch 1 (4 batches per epoch)


class NaNProbe(SegLoss):
    """0 (with a gradient path), except NaN on training forwards ``nan_at`` .. ``nan_at + times - 1``
    (1-based, counted in training mode only)."""

    def __init__(self, nan_at: int = 1, times: int = 1):
        super().__init__()
        self.nan_at, self.times, self.calls = nan_at, times, 0

    def forward(self, logits, target, **extras):
        value = logits.sum() * 0.0
        if not self.training:
            return value
        self.calls += 1
        return (
            value + float("nan") if self.nan_at <= self.calls < self.nan_at + self.times else value
        )


@pytest.fixture
def probe(monkeypatch):
    monkeypatch.setitem(LOSSES, "nan_probe", NaNProbe)


def config(run_dir: Path, *overrides: str, times: int = 1):
    cfg = train_config(
        run_dir,
        "callbacks.checkpoint.every_n_train_steps=1",
        "callbacks.checkpoint.train_time_interval=null",
        *overrides,
    )
    with open_dict(cfg):
        cfg.loss = {
            "terms": [{"name": "ce"}, {"name": "nan_probe", "nan_at": NAN_STEP + 1, "times": times}]
        }
    return cfg


def samples_of_step(cfg, step: int) -> list[str]:
    """The names of the training samples of global step ``step`` (0-based), from the sampler's order."""
    dm = build_datamodule(**OmegaConf.to_container(cfg.data, resolve=True), seed=cfg.seed)
    loader = dm.train_dataloader()
    per_epoch = len(loader)
    loader.sampler.set_epoch(step // per_epoch)
    for i, batch in enumerate(loader):
        if i == step % per_epoch:
            return [m["id"] for m in batch["meta"]]
    raise AssertionError(step)


def test_a_nan_loss_stops_the_run_naming_step_term_and_samples(probe, tmp_path):
    cfg = config(tmp_path)
    with pytest.raises(NonFiniteLossError) as error:
        train_mod.train_job(cfg)
    message = str(error.value)
    assert f"global step {NAN_STEP} (epoch 1, batch 1)" in message
    assert "nan_probe=nan" in message and "ce=" not in message  # only the term that went non-finite
    assert str(samples_of_step(cfg, NAN_STEP)) in message
    # the last good state is kept: last.ckpt from the step before, finite weights
    ckpt = torch.load(tmp_path / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == NAN_STEP and all(
        torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point()
    )
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert (
        result["status"] == "failed"
        and "NonFiniteLossError" in result["error"]
        and f"global step {NAN_STEP}" in result["error"]
    )


class WatchStep(L.Callback):
    """Records the weights and the optimizer's step counts around global step ``step``."""

    def __init__(self, step: int):
        self.step, self.before, self.after = step, None, None

    def _snapshot(self, trainer, pl_module):
        state = trainer.optimizers[0].state
        steps = [float(state[p]["step"]) for p in pl_module.parameters() if p in state]
        return {k: v.clone() for k, v in pl_module.state_dict().items()}, steps, trainer.global_step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            self.before = self._snapshot(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.before is not None and self.after is None:
            self.after = self._snapshot(trainer, pl_module)


def test_skip_drops_the_update_counts_it_and_finishes(probe, tmp_path, with_callback):
    watch = WatchStep(NAN_STEP)
    with with_callback(watch):
        result = train_mod.train(config(tmp_path, "module.nonfinite=skip"))
    assert result["status"] == "complete" and result["nonfinite_skips"] == 1
    assert json.loads((tmp_path / "metrics.json").read_text())["nonfinite_skips"] == 1
    (weights_before, adam_before, step_before), (weights_after, adam_after, step_after) = (
        watch.before,
        watch.after,
    )
    assert step_after == step_before + 1  # the step counts (the LR schedule advances)
    assert all(
        torch.equal(weights_before[k], weights_after[k]) for k in weights_before
    )  # no update
    assert adam_after == adam_before and len(adam_before) > 0  # optimizer state untouched
    rows = [
        r for r in csv.DictReader(open(tmp_path / "metrics.csv")) if r.get("train/nonfinite_skips")
    ]
    assert {int(r["step"]): float(r["train/nonfinite_skips"]) for r in rows}[NAN_STEP + 1] == 1.0


def test_skip_stops_after_max_consecutive_skips(probe, tmp_path):
    with pytest.raises(
        NonFiniteLossError,
        match=r"3 consecutive non-finite training losses \(module.max_nonfinite_skips=3\)",
    ):
        train_mod.train(
            config(tmp_path, "module.nonfinite=skip", "module.max_nonfinite_skips=3", times=3)
        )
    assert (
        checkpoint_step(str(tmp_path / "checkpoints/last.ckpt")) == NAN_STEP + 2
    )  # skipped steps still count


def test_the_guard_settings_travel_with_the_checkpoint(tmp_path):
    run = tmp_path / "run"
    cfg = train_config(run, "module.nonfinite=skip", "module.max_nonfinite_skips=3", "trainer.max_epochs=1")
    assert train_mod.train(cfg)["status"] == "complete"
    module = load_module(run / "checkpoints/last.ckpt")
    assert (module.nonfinite.policy, module.nonfinite.max_consecutive_skips) == ("skip", 3)
    assert (module.hparams.nonfinite, module.hparams.max_nonfinite_skips) == ("skip", 3)
    # a checkpoint written before the settings were hyperparameters loads with the defaults
    ckpt = torch.load(run / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    del ckpt["hyper_parameters"]["nonfinite"], ckpt["hyper_parameters"]["max_nonfinite_skips"]
    torch.save(ckpt, tmp_path / "older.ckpt")
    older = load_module(tmp_path / "older.ckpt")
    assert (older.nonfinite.policy, older.nonfinite.max_consecutive_skips) == ("raise", 10)


def test_unknown_policy_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"module.nonfinite='ignore'"):
        train_mod.train(train_config(tmp_path, "module.nonfinite=ignore"))


def test_cuda_out_of_memory_is_explained_and_recorded(tmp_path, monkeypatch):
    step = SegmentationModule.training_step

    def out_of_memory(self, batch, batch_idx):
        if self.global_step == 2:
            raise torch.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.11 GiB total capacity)"
            )
        return step(self, batch, batch_idx)

    monkeypatch.setattr(SegmentationModule, "training_step", out_of_memory)
    with pytest.raises(TrainingOutOfMemoryError) as error:
        train_mod.train_job(train_config(tmp_path))
    message = str(error.value)
    for part in [
        "training step 2",
        "model unet",
        "data.batch_size=4",
        "crop [64, 64]",
        "accumulate_grad_batches=2",
        "Tried to allocate 2.00 GiB",
    ]:
        assert part in message, part
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert (
        result["status"] == "failed" and result["error"] == f"TrainingOutOfMemoryError: {message}"
    )
