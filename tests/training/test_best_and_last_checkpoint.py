"""last.ckpt at every epoch's end: a hard link to best.ckpt when the epoch improved the monitor (one
write, the same state), its own file otherwise (Lightning 2.6's save_last=True skips it then);
rewriting one file never changes the other."""

from __future__ import annotations

import os

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn

from seglightning.checkpointing import AtomicCheckpointIO, LastCheckpoint
from seglightning.checkpointing.atomic_io import link_atomically

SCORES = [0.5, 0.7, 0.6, 0.8]  # val/score per epoch, mode max: new bests at epochs 0, 1 and 3


class Scripted(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).sum()

    def validation_step(self, batch, batch_idx):
        self.log("val/score", SCORES[self.current_epoch])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Probe(L.Callback):
    """After each epoch's checkpoints: is last.ckpt best.ckpt, and which epoch does each hold."""

    def __init__(self, folder):
        self.folder, self.seen = folder, []

    def _look(self):
        last, best = self.folder / "last.ckpt", self.folder / "best.ckpt"
        self.seen.append((
            os.path.samefile(last, best),
            torch.load(last, weights_only=True)["epoch"],
            torch.load(best, weights_only=True)["epoch"],
        ))

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch:
            self._look()

    def on_train_end(self, trainer, pl_module):
        self._look()


def test_last_is_written_every_epoch_and_linked_to_best_when_both_hold_the_same_step(tmp_path):
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(4, 2)), batch_size=2)
    folder = tmp_path / "checkpoints"
    best = ModelCheckpoint(
        dirpath=folder, filename="best", monitor="val/score", mode="max", save_last=False,
        auto_insert_metric_name=False, enable_version_counter=False,
    )
    last = LastCheckpoint(folder / "last.ckpt", best=best)
    probe = Probe(folder)
    trainer = L.Trainer(
        max_epochs=len(SCORES), callbacks=[best, last, probe], plugins=[AtomicCheckpointIO()], logger=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path, accelerator="cpu",
    )
    trainer.fit(Scripted(), data, data)
    # (linked, last.ckpt's epoch, best.ckpt's epoch) after epochs 0..3; epoch 2 did not improve:
    # last.ckpt was written on its own (a rename: best.ckpt kept epoch 1)
    assert probe.seen == [(True, 0, 0), (True, 1, 1), (False, 2, 1), (True, 3, 3)]
    assert best.best_model_path == str(folder / "best.ckpt")
    assert not list(folder.glob(".*.tmp"))


def test_link_falls_back_to_a_copy_across_file_systems(tmp_path, monkeypatch):
    source, target = tmp_path / "best.ckpt", tmp_path / "last.ckpt"
    source.write_bytes(b"new")
    target.write_bytes(b"old")

    def cross_device(src, dst):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    link_atomically(source, target)
    assert target.read_bytes() == b"new" and not os.path.samefile(source, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.ckpt", "last.ckpt"]


@pytest.mark.parametrize("first", ["best.ckpt", "last.ckpt"])
def test_replacing_one_linked_file_leaves_the_other(tmp_path, first):
    io = AtomicCheckpointIO()
    io.save_checkpoint({"version": 1}, tmp_path / "best.ckpt")
    link_atomically(tmp_path / "best.ckpt", tmp_path / "last.ckpt")
    io.save_checkpoint({"version": 2}, tmp_path / first)
    other = ({"best.ckpt", "last.ckpt"} - {first}).pop()
    assert torch.load(tmp_path / first, weights_only=True)["version"] == 2
    assert torch.load(tmp_path / other, weights_only=True)["version"] == 1
