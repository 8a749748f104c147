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


def test_hydra_parser_loader_and_sweeper_compose_a_sweep():
    """Hydra's private command-line parser, config loader and basic sweeper, as config_check and the
    sweep readers use them: a multirun command line becomes its config and its jobs."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode
    from hydra.utils import get_class

    args, _ = compat.hydra_args_parser().parse_known_args(["-m", "loss=ce,dice", "seed=1"])
    assert args.multirun and args.overrides == ["loss=ce,dice", "seed=1"]
    from seglightning.cli import CONFIG_DIR

    loader = compat.hydra_config_loader(compat.hydra_config_search_path("seglightning.cli", CONFIG_DIR))
    cfg = loader.load_configuration("train", ["seed=1"], RunMode.RUN, from_shell=True)
    assert cfg.seed == 1 and cfg.model.name and "loss" in cfg
    batches = compat.hydra_sweep_batches(OverridesParser.create().parse_overrides(["loss=ce,dice", "seed=1"]))
    assert [job for batch in batches for job in batch] == [["loss=ce", "seed=1"], ["loss=dice", "seed=1"]]
    assert get_class(compat.HYDRA_BASIC_SWEEPER).__name__ == "BasicSweeper"
    assert get_class(compat.HYDRA_BASIC_LAUNCHER).__name__ == "BasicLauncher"


def test_a_missing_private_module_names_itself_the_version_and_the_function():
    with pytest.raises(compat.CompatError) as error:
        compat._private_import("hydra._internal.no_such_module", "thing", "hydra-core", "hydra_args_parser")
    message = str(error.value)
    assert "hydra._internal.no_such_module.thing is gone from the installed hydra-core (version 1." in message
    assert "seglightning.compat.hydra_args_parser" in message
