"""Quiet, truthful output: the entry points hide dependencies' deprecation notices and Lightning's
tips but keep real warnings; the CSV logger does not claim that files will be deleted; a run on a
folder dataset prints no warning and each log line once, and its train.log holds the run's lines."""

from __future__ import annotations

import logging
import re
import warnings
from types import SimpleNamespace

import lightning as L
import pytest

from seglightning.checkpointing.run_relative import RunRelativeCheckpoint
from seglightning.cli import RANK_ZERO_LOGGERS, _drop_tips, quiet_third_party
from seglightning.data.datamodule import log_every_epoch
from seglightning.data.workers import available_cpus, usable_workers
from seglightning.testing import write_fixture
from seglightning.tracking.loggers import ResumableCSVLogger
from seglightning.tracking.neptune_logger import NeptuneScaleLogger
from tests.sweeps.helpers import run_cli

# what a warning, a tip or a deprecation notice prints (Python's warnings, Lightning's "<file>.py:<line>: msg",
# Optuna's, Neptune's)
NOISE = re.compile(r"(?i:warn|deprecat|weights_only|failed to sync)|\bTip\b|^\S+\.py:\d+: ")
# a log line on the console ("INFO: msg") or in the log file ("[time][logger][INFO] - msg")
LOG_LINE = re.compile(r"^(?:[A-Z]+: |\[[^]]*\]\[[^]]*\]\[[A-Z]+\] - )(.*)$")


def _warn_from(module: str, category: type[Warning], message: str) -> None:
    exec(
        compile(
            f"import warnings\nwarnings.warn({message!r}, {category.__name__})", module, "exec"
        ),
        {
            "__name__": module,
            "DeprecationWarning": DeprecationWarning,
            "FutureWarning": FutureWarning,
            "UserWarning": UserWarning,
        },
    )


def test_dependency_deprecations_are_hidden_real_warnings_are_not():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_third_party()
        try:
            _warn_from(
                "lightning.pytorch.utilities._pytree", FutureWarning, "LeafSpec is deprecated"
            )
            _warn_from("timm.models", DeprecationWarning, "old api")
            _warn_from("seglightning.models", DeprecationWarning, "our own deprecation")
            _warn_from("torch.nn.functional", UserWarning, "upsample is not deterministic")
        finally:
            for name in RANK_ZERO_LOGGERS:
                logging.getLogger(name).removeFilter(_drop_tips)
    assert sorted(str(w.message) for w in caught) == [
        "our own deprecation",
        "upsample is not deterministic",
    ]


def test_lightning_tips_are_dropped(caplog: pytest.LogCaptureFixture):
    logger = logging.getLogger(RANK_ZERO_LOGGERS[0])
    logger.addFilter(_drop_tips)
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("💡 Tip: For seamless cloud logging, try installing litlogger")
            logger.info("GPU available: False, used: False")
    finally:
        logger.removeFilter(_drop_tips)
    assert [r.getMessage() for r in caplog.records] == ["GPU available: False, used: False"]


def test_csv_logger_in_a_run_dir_does_not_warn_about_deleting(tmp_path):
    (tmp_path / "config.yaml").write_text("seed: 0\n")
    (tmp_path / "metrics.csv").write_text("step,val/mIoU\n0,0.5\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logger = ResumableCSVLogger(str(tmp_path))
        logger.log_metrics({"val/mIoU": 0.7}, step=0)
        logger.save()
    assert not [w for w in caught if "deleted" in str(w.message)]
    assert (tmp_path / "config.yaml").is_file()  # the run's other files are untouched
    assert (tmp_path / "metrics.csv").read_text().splitlines()[1:] == [
        "0,0.7"
    ]  # a fresh run replaces the old rows


def log_messages(output: str) -> list[str]:
    """The messages of the log lines in ``output``, in order, without their level/time/logger prefix."""
    return [m.group(1) for m in map(LOG_LINE.match, output.splitlines()) if m]


def doubled_lines(output: str) -> list[str]:
    """Log messages printed twice in a row (two handlers for one record)."""
    messages = log_messages(output)
    return [a for a, b in zip(messages, messages[1:]) if a == b]


def test_log_lines_are_recognised_whatever_the_handler():
    output = "INFO: Seed set to 0\n[2026-12-03 18:03:51,922][lightning.fabric.utilities.seed][INFO] - Seed set to 0\n"
    assert log_messages(output) == ["Seed set to 0", "Seed set to 0"]
    assert doubled_lines(output) == ["Seed set to 0"]
    assert doubled_lines("INFO: Seed set to 0\n│ mIoU │\nINFO: GPU available: False\n") == []


def test_lightning_s_warning_lines_are_noise():
    line = "/venv/lightning/pytorch/loops/fit_loop.py:321: The number of training batches (2) is smaller than the"
    assert NOISE.search(line) and NOISE.search("  self.check_worker_number_rationality()") is None
    assert NOISE.search("💡 Tip: For seamless cloud logging") and NOISE.search("UserWarning: x")
    assert not NOISE.search("INFO: `Trainer.fit` stopped: `max_epochs=1` reached. multiple")


@pytest.mark.parametrize(
    ("configured", "limit", "expected"),
    [(10, 1.0, 4), (10, 2, 2), (10, 0.5, 2), (3, 1.0, 3), (0, 1.0, 0), (10, 0, 10)],
)
def test_the_logging_interval_is_at_most_an_epoch(configured, limit, expected):
    """4 training batches an epoch, before ``limit_train_batches``; 0 (no step logging) stays 0."""
    trainer = SimpleNamespace(log_every_n_steps=configured, limit_train_batches=limit)
    log_every_epoch(trainer, 4)
    assert trainer.log_every_n_steps == expected


def test_loaders_start_no_more_workers_than_cpus():
    assert usable_workers(0) == 0
    assert usable_workers(1) == 1
    assert usable_workers(available_cpus() + 3) == available_cpus()


def test_the_run_s_own_checkpoint_folder_is_not_reported_as_not_empty(tmp_path):
    (tmp_path / "last.ckpt").write_bytes(b"")  # a resumed run's folder
    checkpoint = RunRelativeCheckpoint(dirpath=tmp_path, filename="best", monitor="val/mIoU", mode="max")
    trainer = L.Trainer(logger=False, enable_progress_bar=False, accelerator="cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checkpoint.setup(trainer, L.LightningModule(), "fit")
        # after setup the warning is not filtered any more
        warnings.warn("Checkpoint directory elsewhere exists and is not empty.", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["Checkpoint directory elsewhere exists and is not empty."]


def test_an_offline_neptune_run_ends_with_one_line_naming_neptune_sync(tmp_path, capfd):
    logger = NeptuneScaleLogger(tmp_path, "r1", "a/b", "seglightning/offline", "offline")
    logger.log_metrics({"val/mIoU": 0.5}, step=0)
    logger.close("complete")
    (run_file,) = tmp_path.glob("*_r1_*/run_operations.sqlite3")
    printed = capfd.readouterr()
    assert printed.out == f"[seglightning] neptune: offline run saved; upload it with `neptune sync {run_file}`\n"
    assert printed.err == ""  # not the client's "some data may have failed to sync" (with ANSI codes)


def test_a_folder_run_prints_no_warning_each_line_once_and_its_train_log(tmp_path):
    """The real entry point on a folder dataset (data.num_workers 4, log_every_n_steps 10, last.ckpt
    every step): one epoch of 2 batches."""
    data = write_fixture("folder", tmp_path / "data")
    run_dir = tmp_path / "run"
    proc = run_cli(
        "seglightning-train", "data=folder", f"data.root={data}", f"hydra.run.dir={run_dir}",
        "trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1", "data.batch_size=2", "data.val_batch_size=2",
        "data.transforms.train.crop_size=[48,64]", "model.base_channels=4", "callbacks.overlays.num_images=1",
        "callbacks.checkpoint.every_n_train_steps=1", output=tmp_path / "out",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert [line for line in proc.stdout.splitlines() if NOISE.search(line)] == []
    messages = log_messages(proc.stdout)
    assert messages.count("GPU available: False, used: False") == 1, proc.stdout
    assert len(messages) == len(set(messages)), proc.stdout  # no line twice, whatever the handler
    log = (run_dir / "train.log").read_text()
    assert log_messages(log) == [*messages, f"run directory: {run_dir}  (training took {_took(proc.stdout)} s)"]


def _took(output: str) -> str:
    return re.search(r"\(training took ([0-9.]+) s\)", output).group(1)
