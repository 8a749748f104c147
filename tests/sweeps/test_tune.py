"""seglightning-tune: two tiny trials in a SQLite study, pruning reports, top-up on rerun; config errors."""

from __future__ import annotations

import csv
import json

import optuna
import pytest
import yaml

from seglightning.tune import Objective, flatten_space, override_value, suggest
from tests.cli.test_quiet import NOISE, doubled_lines, log_messages
from tests.conftest import compose_config
from tests.sweeps.helpers import SHRINK, run_cli, tiny_model_searchpath


@pytest.mark.slow
def test_two_trials_then_a_rerun_tops_the_study_up(tmp_path):
    args = [
        "study.name=lr",
        "study.n_trials=2",
        "model=tiny_unet",
        "study.pruner.n_startup_trials=1",
        "study.pruner.n_warmup_steps=0",
        tiny_model_searchpath(tmp_path / "conf"),
        *[s for s in SHRINK if not s.startswith("optim.lr")],
    ]
    proc = run_cli("seglightning-tune", *args, output=tmp_path / "out")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert doubled_lines(proc.stdout) == [] and "Seed set to 0" in log_messages(proc.stdout)  # each line once
    assert [line for line in proc.stdout.splitlines() if NOISE.search(line)] == []
    study_dir = tmp_path / "out" / "tune" / "lr"
    study = optuna.load_study(study_name="lr", storage=f"sqlite:///{study_dir / 'study.db'}")
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert [t.state for t in study.trials] in (
        [optuna.trial.TrialState.COMPLETE] * 2,
        [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED],
    )
    for trial in study.trials:
        run_dir = study_dir / f"trial_{trial.number:04d}"
        assert trial.user_attrs["run_dir"] == str(run_dir)
        config = yaml.safe_load((run_dir / "config.yaml").read_text())
        assert (
            config["optim"]["lr"] == trial.params["optim.lr"]
            and config["optim"]["weight_decay"] == trial.params["optim.weight_decay"]
        )
        assert config["sweep_name"] == "lr" and config["callbacks"]["checkpoint"]["monitor"] == "val/mIoU"
        assert f"optim.lr={trial.params['optim.lr']!r}" in (run_dir / "overrides.yaml").read_text()
        assert trial.intermediate_values  # the pruning callback reported every validation
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert trial.value == json.loads((run_dir / "metrics.json").read_text())["best"]["val/mIoU"]
    best = json.loads((study_dir / "best.json").read_text())
    assert best["value"] == study.best_value and best["overrides"][0].startswith("optim.lr=")
    with open(study_dir / "trials.csv", newline="") as f:
        assert [int(r["number"]) for r in csv.DictReader(f)] == [0, 1]

    proc = run_cli(
        "seglightning-tune", *[a.replace("study.n_trials=2", "study.n_trials=3") for a in args], output=tmp_path / "out"
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert len(optuna.load_study(study_name="lr", storage=f"sqlite:///{study_dir / 'study.db'}").trials) == 3


def test_suggest_builds_each_distribution_and_names_bad_keys():
    trial = optuna.trial.FixedTrial({"optim.lr": 0.01, "data.batch_size": 8, "loss": "dice"})
    assert suggest(trial, "optim.lr", {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}) == 0.01
    assert suggest(trial, "data.batch_size", {"type": "int", "low": 4, "high": 16, "step": 4}) == 8
    assert suggest(trial, "loss", {"type": "categorical", "choices": ["ce", "dice"]}) == "dice"
    with pytest.raises(KeyError, match="search_space.optim.lr.type"):
        suggest(trial, "optim.lr", {"type": "uniform", "low": 0, "high": 1})
    with pytest.raises(TypeError, match="search_space.optim.lr.lo"):
        suggest(trial, "optim.lr", {"type": "float", "lo": 0, "high": 1})


def test_the_search_space_nests_like_the_config():
    space = {
        "optim": {"lr": {"type": "float", "low": 0.1, "high": 1.0}},
        "loss": {"type": "categorical", "choices": ["ce"]},
    }
    assert list(flatten_space(space)) == ["optim.lr", "loss"]
    with pytest.raises(ValueError, match="search_space.optim.lr must be a distribution"):
        flatten_space({"optim": {"lr": 0.1}})


def test_override_values_are_hydra_text():
    assert [override_value(v) for v in (0.1, 3, True, None, "dice")] == ["0.1", "3", "true", "null", "dice"]


def test_a_searched_key_set_on_the_command_line_is_an_error(tmp_path):
    cfg = compose_config("tune", ["optim.lr=0.1"])
    with pytest.raises(ValueError, match="optim.lr is both set on the command line and searched"):
        Objective(cfg, tmp_path, ["optim.lr=0.1"])


def test_tune_config_composes_on_top_of_train():
    cfg = compose_config("tune")
    assert cfg.callbacks.checkpoint.monitor == cfg.study.metric == "val/mIoU"
    assert cfg.search_space.optim.lr.log is True
    assert cfg.model.name == compose_config("train").model.name


@pytest.mark.slow
def test_a_trial_whose_process_was_killed_is_marked_failed_at_the_next_launch(tmp_path):
    import time

    from seglightning.tune import KILLED

    study_dir = tmp_path / "out" / "tune" / "crash"
    study_dir.mkdir(parents=True)
    storage = optuna.storages.RDBStorage(f"sqlite:///{study_dir / 'study.db'}", heartbeat_interval=1, grace_period=2)
    study = optuna.create_study(study_name="crash", storage=storage, direction="maximize")
    trial = study.ask()  # what a worker does before training; then it is killed mid-trial
    storage.record_heartbeat(trial._trial_id)
    run_dir = study_dir / "trial_0000"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text(json.dumps({"status": "running"}))
    trial.set_user_attr("run_dir", str(run_dir))
    time.sleep(3)  # longer than the grace period: no heartbeat any more

    proc = run_cli(
        "seglightning-tune", "study.name=crash", "study.n_trials=0", "study.heartbeat=1", output=tmp_path / "out"
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert (
        "trial 0 of study crash was left RUNNING by a process that stopped (no heartbeat); "
        f"marked FAIL, run dir {run_dir}"
        in proc.stdout
    )
    (after,) = optuna.load_study(study_name="crash", storage=f"sqlite:///{study_dir / 'study.db'}").trials
    assert after.state == optuna.trial.TrialState.FAIL
    assert json.loads((run_dir / "metrics.json").read_text()) == {"status": "failed", "error": KILLED}
    with open(study_dir / "trials.csv", newline="") as f:
        assert [r["state"] for r in csv.DictReader(f)] == ["FAIL"]


def test_the_default_study_name_follows_the_config_but_not_what_cannot_change_results():
    from seglightning.tune import study_identity

    base = compose_config("tune")
    assert str(base.study.name).startswith("study-")
    assert compose_config("tune", ["model=deeplabv3plus", "loss=lovasz"]).study.name != base.study.name
    assert compose_config("tune", ["search_space.optim.lr.high=0.05"]).study.name != base.study.name
    same = compose_config("tune", ["study.n_trials=3", "logger=[csv]", "optim.lr=0.5", "sweep_name=x"])
    assert same.study.name == base.study.name  # optim.lr is searched: its fixed value is never used
    assert compose_config("tune", ["study.name=lr"]).study.name == "lr"
    assert study_identity(base)["search_space.optim.lr.high"] == 1.0e-2 and "optim.lr" not in study_identity(base)


def test_a_study_reused_with_another_config_is_an_error_listing_the_differences(capsys):
    from seglightning.tune import check_study_config

    study = optuna.create_study(study_name="shared", direction="maximize")
    check_study_config(study, compose_config("tune", ["study.name=shared"]))
    check_study_config(study, compose_config("tune", ["study.name=shared", "study.n_trials=40"]))  # top-up: same
    other = ["study.name=shared", "model=deeplabv3plus", "loss=lovasz"]
    with pytest.raises(ValueError) as error:
        check_study_config(study, compose_config("tune", other))
    message = str(error.value)
    assert message.startswith("study shared was made with another config (")
    assert "model.name: unet -> deeplabv3plus" in message and "loss.name: <absent> -> lovasz" in message
    assert "study.continue=true" in message
    check_study_config(study, compose_config("tune", [*other, "study.continue=true"]))
    assert "continuing study shared with another config (study.continue=true): " in capsys.readouterr().out


@pytest.mark.slow
def test_two_tune_invocations_with_another_model_and_loss_get_two_studies(tmp_path):
    names = []
    for args in ([], ["model=deeplabv3plus", "loss=lovasz"]):
        proc = run_cli("seglightning-tune", "study.n_trials=0", *args, output=tmp_path / "out")
        assert proc.returncode == 0, proc.stdout[-4000:]
        (name,) = [line.split()[2].rstrip(":") for line in proc.stdout.splitlines() if "] study study-" in line]
        names.append(name)
        study = optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / 'out' / 'tune' / name / 'study.db'}")
        assert study.user_attrs["config"]["model.name"] == ("unet" if not args else "deeplabv3plus")
    assert names[0] != names[1]
