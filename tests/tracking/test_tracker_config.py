"""Tracker selection without training: lazy imports, modes from the environment, config errors, ids on
resume."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from seglightning.tracking import neptune_logger, wandb_logger
from seglightning.tracking.context import stable_run_id
from seglightning.tracking.loggers import build_loggers
from tests.tracking.readers import neptune_run

pytestmark = pytest.mark.tracker

CONTEXT = {
    "config": {"seed": 0},
    "tags": {"loss": "ce", "arch": "unet", "data": "synthetic"},
    "group": None,
    "name": "run",
    "resume_step": None,
}


def test_seglightning_works_without_any_tracker_package(tmp_path):
    """Tracker packages load inside their logger only: blocked, training code still imports and the
    default loggers build (``timm`` imports wandb itself when installed; that is not ours)."""
    code = (
        "import sys\n"
        "for name in ('wandb', 'neptune_scale', 'mlflow'): sys.modules[name] = None\n"
        "import seglightning.train, seglightning.tracking.media_callback\n"
        "from seglightning.tracking.loggers import build_loggers\n"
        f"print([type(x).__name__ for x in build_loggers({{'tensorboard': {{}}}}, {str(tmp_path)!r}, {{}})])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split("\n")[-2] == "['ResumableCSVLogger', 'MediaTensorBoardLogger']"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "offline"),
        ({"WANDB_API_KEY": "x" * 40}, "online"),
        ({"WANDB_API_KEY": "x" * 40, "WANDB_MODE": "offline"}, "offline"),
        ({"WANDB_MODE": "disabled"}, "disabled"),
    ],
)
def test_wandb_auto_mode_follows_the_environment(monkeypatch, env, expected):
    for key in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert wandb_logger.resolve_mode("auto") == expected
    assert wandb_logger.resolve_mode("offline") == "offline"


@pytest.mark.parametrize(
    ("token", "project", "expected"),
    [
        (None, None, "offline"),
        ("tok", None, "offline"),
        (None, "ws/proj", "offline"),
        ("tok", "ws/proj", "async"),
    ],
)
def test_neptune_auto_mode_needs_a_token_and_a_project(monkeypatch, token, project, expected):
    monkeypatch.delenv("NEPTUNE_API_TOKEN", raising=False)
    if token:
        monkeypatch.setenv("NEPTUNE_API_TOKEN", token)
    assert neptune_logger.resolve_mode("auto", project) == expected


def test_bad_tracker_options_name_the_config_key(tmp_path):
    with pytest.raises(TypeError, match=r"logger\.wandb\.projekt"):
        build_loggers({"wandb": {"projekt": "x"}}, tmp_path, CONTEXT)
    with pytest.raises(ValueError, match=r"logger\.neptune\.mode='online'"):
        build_loggers({"neptune": {"mode": "online"}}, tmp_path, CONTEXT)
    with pytest.raises(KeyError, match="unknown logger 'neptun'"):
        build_loggers({"neptun": {}}, tmp_path, CONTEXT)


def test_a_users_logger_by_config_reaches_the_trainer(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    from seglightning.run.prepare import prepare_run
    from tests.conftest import train_config

    cfg = train_config(
        tmp_path,
        "+logger.mine._target_=lightning.pytorch.loggers.CSVLogger",
        "+logger.mine.save_dir=${run_dir}/mine",
    )
    loggers = prepare_run(cfg).trainer.loggers
    assert [type(x).__name__ for x in loggers] == ["ResumableCSVLogger", "CSVLogger"]
    assert isinstance(loggers[1], CSVLogger) and loggers[1].save_dir == f"{tmp_path}/mine"
    with pytest.raises(TypeError, match=r"^logger\.mine built OrderedDict: .*_target_ to a Logger"):
        build_loggers({"mine": {"_target_": "collections.OrderedDict"}}, tmp_path, CONTEXT)


def test_wandb_id_is_stable_per_run_dir(tmp_path):
    first, again = (wandb_logger.build(tmp_path / "a", CONTEXT) for _ in range(2))
    other = wandb_logger.build(tmp_path / "b", CONTEXT)
    assert first.version == again.version == stable_run_id(tmp_path / "a") != other.version
    assert first._wandb_init["resume"] == "allow"


def test_neptune_resume_forks_the_previous_attempt(tmp_path, monkeypatch):
    monkeypatch.delenv("NEPTUNE_API_TOKEN", raising=False)
    run_dir = tmp_path / "run"
    first = neptune_logger.build(run_dir, CONTEXT)
    for step in range(6):  # Lightning logs "epoch" with every call: twice per step here
        first.log_metrics({"train/loss": 1.0 / (step + 1), "epoch": 0}, step)
        first.log_metrics({"val/mIoU": 0.1, "epoch": 0}, step)
    first.close("failed")
    resumed = neptune_logger.build(run_dir, {**CONTEXT, "resume_step": 4})
    for step in (3, 4, 5):
        resumed.log_metrics({"train/loss": 0.5}, step)
    resumed.close("success")

    base = stable_run_id(run_dir)
    assert (run_dir / "neptune" / "runs.txt").read_text().split() == [base, f"{base}-1"]
    runs = {r["metadata"].run_id: r for r in map(neptune_run, (run_dir / "neptune").glob("*/run_operations.sqlite3"))}
    assert [s for s, _ in runs[base]["metrics"]["epoch"]] == [0, 1, 2, 3, 4, 5]  # steps strictly increase
    fork = runs[f"{base}-1"]["create"].fork_point
    assert (fork.parent_run_id, fork.step.whole) == (base, 3)  # inherits steps <= 3
    assert [s for s, _ in runs[f"{base}-1"]["metrics"]["train/loss"]] == [4, 5]
    assert runs[f"{base}-1"]["create"].experiment_id == runs[base]["create"].experiment_id == f"{tmp_path.name}/run"


def test_finish_trackers_closes_every_run_when_the_job_fails(tmp_path, monkeypatch):
    from seglightning.tracking.loggers import finish_trackers

    monkeypatch.delenv("NEPTUNE_API_TOKEN", raising=False)
    loggers = build_loggers({"neptune": {}}, tmp_path, CONTEXT)
    with pytest.raises(RuntimeError), finish_trackers(loggers):
        loggers[1].log_metrics({"val/mIoU": 0.1}, 0)
        raise RuntimeError("job failed")
    (db,) = Path(tmp_path, "neptune").glob("*/run_operations.sqlite3")
    assert neptune_run(db)["configs"]["status"] == "failed" and loggers[1]._run is None
