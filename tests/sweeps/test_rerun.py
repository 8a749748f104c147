"""A rerun sweep skips or resumes a job only when its stored config equals the new one (keys that
cannot change results aside); otherwise the earlier run is kept in ``<dir>.stale-<n>`` and the job
runs again. A change of code version is kept with a warning, or rerun with
``sweep.on_code_change=rerun``."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
import yaml

from seglightning.sweeps import build_report, summary, write_report
from seglightning.sweeps.rerun import IGNORED_KEYS, config_differences, supersede_changed_run
from seglightning.train import train
from tests.conftest import train_config

ONE_STEP = (
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=1",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
)


def run(job: Path, *overrides: str) -> dict:
    return train(train_config(job, *ONE_STEP, *overrides))


def lr_of(run_dir: Path) -> float:
    return yaml.safe_load((run_dir / "config.yaml").read_text())["optim"]["lr"]


def test_only_keys_that_can_change_results_count():
    old = {"optim": {"lr": 0.003}, "logger": {"csv": {}}, "callbacks": {"progress_bar": "rich", "early_stopping": None}}
    new = {
        "optim": {"lr": 0.05},
        "logger": {},
        "callbacks": {"progress_bar": "none", "early_stopping": {"patience": 2}},
        "run_dir": "elsewhere",
    }
    assert config_differences(old, new) == {
        "callbacks.early_stopping": [None, "<absent>"],
        "callbacks.early_stopping.patience": ["<absent>", 2],
        "optim.lr": [0.003, 0.05],
    }
    assert "logger" in IGNORED_KEYS and "callbacks.progress_bar" in IGNORED_KEYS


def test_a_changed_config_reruns_the_job_and_keeps_the_earlier_run(tmp_path, capsys):
    job = tmp_path / "sweep" / "loss=ce,seed=0"
    run(job, "optim.lr=0.003")
    first = json.loads((job / "metrics.json").read_text())
    capsys.readouterr()

    result = run(job, "optim.lr=0.05")
    out = capsys.readouterr().out
    assert "already complete" not in out
    assert f"{job}: config changed (optim.lr); running it again (the earlier run is kept in {job.name}.stale-1)" in out
    stale = job.with_name(f"{job.name}.stale-1")
    assert lr_of(stale) == 0.003 and json.loads((stale / "metrics.json").read_text()) == first
    assert (stale / "checkpoints" / "last.ckpt").is_file()
    assert lr_of(job) == 0.05 and result["status"] == "complete"
    assert json.loads((job / "run_meta.json").read_text())["rerun"] == {
        "previous": f"{job.name}.stale-1", "changed": {"optim.lr": [0.003, 0.05]}, "code": None,
    }

    report = build_report(tmp_path / "sweep")
    assert [r.path for r in report.runs] == [job]  # the superseded run is not a run of the sweep
    assert (
        f"RERUN {job.name}: optim.lr: 0.003 -> 0.05 (the earlier run is kept in {job.name}.stale-1)" in summary(report)
    )
    write_report(report)
    with open(tmp_path / "sweep" / "runs.csv", newline="") as f:
        (row,) = csv.DictReader(f)
    assert row["rerun"].startswith("optim.lr: 0.003 -> 0.05")

    run(job, "optim.lr=0.003")  # back again: the second rerun gets the next free name
    assert lr_of(job.with_name(f"{job.name}.stale-2")) == 0.05 and lr_of(job) == 0.003


def test_a_change_of_an_ignored_key_still_skips_the_finished_job(tmp_path, capsys):
    job = tmp_path / "job"
    run(job)
    capsys.readouterr()
    run(job, "callbacks.progress_bar=tqdm", "callbacks.lr_monitor=true", "trainer.log_every_n_steps=5",
        "sweep_name=renamed")
    assert f"{job} already complete; skipping" in capsys.readouterr().out
    assert not job.with_name("job.stale-1").exists()


def test_an_unfinished_run_with_another_config_is_not_resumed(tmp_path, capsys):
    job = tmp_path / "job"
    run(job, "optim.lr=0.003")
    (job / "metrics.json").write_text(json.dumps({"status": "interrupted"}))
    cfg = train_config(job, *ONE_STEP, "optim.lr=0.05")
    assert supersede_changed_run(cfg, job)["changed"] == {"optim.lr": [0.003, 0.05]}
    assert not (job / "checkpoints" / "last.ckpt").exists()  # nothing left to resume from
    assert (job.with_name("job.stale-1") / "checkpoints" / "last.ckpt").is_file()


def other_code(run_dir: Path) -> None:
    """Make the run look as if an older commit had made it."""
    meta = json.loads((run_dir / "run_meta.json").read_text())
    meta["git"] = {"sha": "0123456789abcdef" * 2 + "01234567", "dirty": False}
    (run_dir / "run_meta.json").write_text(json.dumps(meta))


def test_a_code_change_keeps_the_run_with_a_warning_or_reruns_it_on_request(tmp_path, capsys, caplog):
    job = tmp_path / "sweep" / "job"
    run(job)
    other_code(job)
    capsys.readouterr()
    with caplog.at_level(logging.WARNING, logger="seglightning.sweeps.rerun"):
        run(job)
    assert f"{job} already complete; skipping" in capsys.readouterr().out
    assert "was made with code git 0123456789ab, this is" in caplog.text
    assert "sweep.on_code_change=rerun runs it again" in caplog.text
    report = build_report(tmp_path / "sweep")
    assert "CODE 1 run(s) were made with other code (git 0123456789ab) than this" in summary(report)
    write_report(report)
    with open(tmp_path / "sweep" / "runs.csv", newline="") as f:
        (row,) = csv.DictReader(f)
    assert (row["code_version"], row["code_differs"]) == ("git 0123456789ab", "yes")

    run(job, "sweep.on_code_change=rerun")
    assert "code changed (git 0123456789ab -> " in capsys.readouterr().out
    assert job.with_name("job.stale-1").is_dir()
    rerun = json.loads((job / "run_meta.json").read_text())["rerun"]
    assert rerun["changed"] == {} and rerun["code"][0] == "git 0123456789ab"
    assert "CODE" not in summary(build_report(tmp_path / "sweep"))


def test_a_bad_on_code_change_is_named(tmp_path):
    with pytest.raises(ValueError, match="sweep.on_code_change=always: use one of keep, rerun"):
        supersede_changed_run(train_config(tmp_path, "sweep.on_code_change=always"), tmp_path)


@pytest.mark.slow
def test_the_issue_repro_an_edited_experiment_reruns_its_job_through_the_cli(tmp_path):
    from tests.sweeps.helpers import SHRINK, TINY_MODELS, run_cli

    conf = tmp_path / "my_conf"
    (conf / "experiment").mkdir(parents=True)
    (conf / "model").mkdir()
    (conf / "model" / "tiny_unet.yaml").write_text(TINY_MODELS["tiny_unet"])

    def launch(lr: float) -> str:
        (conf / "experiment" / "my_exp.yaml").write_text(
            f"# @package _global_\nsweep_name: my_exp\nmodel: {{base_channels: 8}}\noptim:\n  lr: {lr}\n"
        )
        args = ["-m", "--config-dir", str(conf), "experiment=my_exp", "loss=ce", "seed=0", *ONE_STEP,
                *(s for s in SHRINK if not s.startswith("optim.lr"))]
        proc = run_cli("seglightning-train", *args, output=tmp_path / "out")
        assert proc.returncode == 0, proc.stdout[-4000:]
        return proc.stdout

    launch(0.003)
    sweep = tmp_path / "out" / "sweeps" / "my_exp"
    (job,) = (p.parent for p in sweep.glob("*/metrics.json"))
    out = launch(0.05)
    assert "already complete" not in out and "config changed (optim.lr)" in out
    assert f"RERUN {job.name}: optim.lr: 0.003 -> 0.05 (the earlier run is kept in {job.name}.stale-1)" in out
    stale = job.with_name(f"{job.name}.stale-1")
    assert lr_of(stale) == 0.003 and lr_of(job) == 0.05
    assert (job / ".hydra" / "overrides.yaml").is_file() and not (stale / ".hydra").exists()
    with open(sweep / "runs.csv", newline="") as f:
        assert [r["run_dir"] for r in csv.DictReader(f)] == [job.name]
    assert f"{job} already complete; skipping" in launch(0.05)
