"""Config mistakes fail in seconds, before torch is imported and before any run folder exists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from seglightning.cli import CONFIG_DIR
from seglightning.config_check import (
    INFERENCE_MODES,
    SCHEMA,
    VALIDATE_LEVELS,
    ConfigError,
    check_command,
    check_values,
    sweep_jobs,
)
from tests.conftest import compose_config, train_config

BIN = Path(sys.executable).parent
TORCH_IMPORTED = re.compile(r"\|\s+torch$", re.MULTILINE)  # python -X importtime's line for `import torch`


def _train(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1", "SEGLIGHTNING_OUTPUT": str(tmp_path / "outputs")}
    return subprocess.run(
        [str(BIN / "seglightning-train"), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["loss=lovaz"], "config group 'loss' has no option 'lovaz'; did you mean loss=lovasz"),
        (["trainer.max_epoch=3"], "'trainer' has no key 'max_epoch'; did you mean trainer.max_epochs"),
        (["--cfg", "job", "loss=lovaz"], "did you mean loss=lovasz"),
        (["-m", "loss=ce,lovaz"], "did you mean loss=lovasz"),
        (["trainer.max_epochs=abc"], "trainer.max_epochs='abc': must be an integer >= -1"),
        (["data.batch_size=0"], "data.batch_size=0: must be an integer >= 1"),
        (["optim.lr=-0.01"], "optim.lr=-0.01: must be a number > 0"),
    ],
)
def test_config_mistake_fails_before_torch_and_writes_nothing(tmp_path, args, message):
    proc = _train(tmp_path, *args)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("import time:")]
    assert lines == [lines[0]] and lines[0].startswith("seglightning-train: ") and message in lines[0], proc.stderr
    assert not TORCH_IMPORTED.search(proc.stderr), "torch was imported before the config was checked"
    assert list(tmp_path.iterdir()) == []  # no run folder, no outputs/


def test_cfg_job_prints_the_config_without_torch(tmp_path):
    proc = _train(tmp_path, "--cfg", "job", "loss=lovasz")
    assert proc.returncode == 0, proc.stderr
    assert "name: lovasz" in proc.stdout
    assert not TORCH_IMPORTED.search(proc.stderr)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("trainer.max_epochs=2.5", "trainer.max_epochs"),
        ("trainer.limit_train_batches=1.5", "trainer.limit_train_batches"),
        ("trainer.limit_val_batches=-1", "trainer.limit_val_batches"),
        ("trainer.limit_test_batches=abc", "trainer.limit_test_batches"),
        ("data.num_workers=-1", "data.num_workers"),
        ("data.val_batch_size=0", "data.val_batch_size"),
        ("optim.weight_decay=-1e-4", "optim.weight_decay"),
        ("optim.lr=0", "optim.lr"),
        ("optim.lr=fast", "optim.lr"),
        ("module.inference.mode=slid", "module.inference.mode"),
        ("+data.validate=ful", "data.validate"),
        ("data.instances=maybe", "data.instances"),
        ("seed=-1", "seed"),
        ("callbacks.progress_bar=fancy", "callbacks.progress_bar"),
        ("callbacks.lr_monitor=yes", "callbacks.lr_monitor"),
        ("trainer.accelerator=gpus", "trainer.accelerator"),
    ],
)
def test_bad_value_names_the_key(override, key):
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}=.*: must be "):
        check_values(compose_config("train", [override]))


@pytest.mark.parametrize(
    "override",
    [
        "trainer.limit_train_batches=0.25",
        "trainer.limit_train_batches=3",
        "trainer.max_epochs=-1",
        "module.inference.mode=slide",
        "+data.validate=header",
        "data.num_workers=0",
        "optim=sgd",
    ],
)
def test_good_values_pass(override):
    check_values(compose_config("train", [override]))


@pytest.mark.parametrize(
    ("name", "override"),
    [
        ("eval", "split=train"),
        ("eval", "inference.mode=tiles"),
        ("predict", "batch_size=0"),
        ("tune", "study.n_trials=-1"),
        ("data_check", "check.level=deep"),
    ],
)
def test_other_commands_values_are_checked(name, override):
    key = override.split("=")[0]
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}="):
        check_values(
            compose_config(
                name,
                [override, "ckpt=x", "input=x", "output=x"]
                if name == "predict"
                else [override, "ckpt=x"]
                if name == "eval"
                else [override],
            )
        )


def test_library_train_checks_values_before_creating_the_run_dir(tmp_path):
    from seglightning.train import train

    with pytest.raises(ConfigError, match="data.batch_size=0"):
        train(train_config(tmp_path / "run", "data.batch_size=0"))
    assert not (tmp_path / "run").exists()


def test_multirun_checks_each_swept_value(tmp_path):
    with pytest.raises(ConfigError, match="optim.lr=-1: must be a number > 0"):
        check_command("train", ["-m", "optim.lr=0.1,-1", "seed=0,1"], CONFIG_DIR)
    check_command("train", ["-m", "optim.lr=0.1,0.01", "loss=ce,lovasz"], CONFIG_DIR)


def test_sweep_jobs_use_every_value_once():
    jobs = sweep_jobs(["loss=ce,dice", "seed=range(3)", "model=unet"], {"loss": "ce,lovasz,dice", "optim.lr": 0.1})
    assert jobs == [
        ["optim.lr=0.1", "model=unet", "loss=ce", "seed=0"],
        ["optim.lr=0.1", "model=unet", "loss=dice", "seed=0"],
        ["optim.lr=0.1", "model=unet", "loss=ce", "seed=1"],
        ["optim.lr=0.1", "model=unet", "loss=ce", "seed=2"],
    ]


def test_config_dir_is_searched(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text("# @package _global_\noptim:\n  lr: -0.5\n")
    with pytest.raises(ConfigError, match="optim.lr=-0.5"):
        check_command("train", ["--config-dir", str(tmp_path), "experiment=mine"], CONFIG_DIR)


def test_choices_match_the_code():
    from seglightning.data.reader import LEVELS
    from seglightning.modules.inference import MODES

    assert INFERENCE_MODES == MODES
    assert set(VALIDATE_LEVELS) == {*LEVELS, "none"}
    assert SCHEMA["data.validate"].choices == VALIDATE_LEVELS
    # the progress bars the callbacks group can build (conf/callbacks/default.yaml), or none
    bars = compose_config("train").callbacks.optional.progress_bar
    assert set(SCHEMA["callbacks.progress_bar"].choices) == {*bars, "none"}


def test_a_config_that_sets_multirun_mode_is_checked_per_swept_value(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "grid.yaml").write_text("# @package _global_\nhydra:\n  mode: MULTIRUN\n")
    with pytest.raises(ConfigError, match="optim.lr=-1: must be a number > 0"):
        check_command("train", ["--config-dir", str(tmp_path), "experiment=grid", "optim.lr=0.1,-1"], CONFIG_DIR)
    with pytest.raises(ConfigError, match="^Ambiguous value for argument 'optim.lr=0.1,-1'"):
        check_command("train", ["optim.lr=0.1,-1"], CONFIG_DIR)
