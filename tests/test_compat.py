"""Each private Lightning/submitit attribute seglightning reads (seglightning.compat) still exists in
the installed versions; when a version bump removes one, these tests fail naming it."""

from __future__ import annotations

import signal

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from seglightning import compat


class _Probe(L.LightningModule):
    """A tiny module that records what the compat functions say at each training step."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.seen: list[tuple[int, bool, int]] = []

    def training_step(self, batch, batch_idx):
        self.seen.append((batch_idx, compat.should_update_logs(self.trainer), compat.train_batches_done(self.trainer)))
        return self.layer(batch[0]).sum()

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self.layer(batch[0]).sum())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compat")
    loader = DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=2)
    best = ModelCheckpoint(dirpath=folder, monitor="val/loss", save_top_k=1)
    trainer = L.Trainer(
        max_epochs=1, log_every_n_steps=2, callbacks=[best], logger=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=folder,
    )
    probe = _Probe()
    trainer.fit(probe, loader, loader)
    return trainer, probe, best


def test_should_update_logs_follows_log_every_n_steps(fitted):
    _, probe, _ = fitted
    assert [logged for _, logged, _ in probe.seen] == [False, True, False, True]


def test_train_batches_done_counts_the_epoch_batches(fitted):
    _, probe, _ = fitted
    assert [done for _, _, done in probe.seen] == [1, 2, 3, 4]  # the batch in progress is ready


def test_last_checkpoint_saved_names_the_latest_write(fitted):
    trainer, _, best = fitted
    step, path = compat.last_checkpoint_saved(best)
    assert step == trainer.global_step == 4
    assert path == best.best_model_path and path.endswith(".ckpt")
    assert compat.last_checkpoint_saved(ModelCheckpoint()) == (0, "")


def test_submitit_requeue_signal_is_a_signal():
    assert compat.submitit_requeue_signal() in set(signal.Signals)


def test_a_missing_attribute_names_itself_the_version_and_the_function():
    with pytest.raises(compat.CompatError) as error:
        compat.last_checkpoint_saved(object())
    message = str(error.value)
    assert "object._last_global_step_saved is gone from the installed lightning (version 2." in message
    assert "seglightning.compat.last_checkpoint_saved" in message
