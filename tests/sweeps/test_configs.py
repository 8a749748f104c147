"""Recipes in experiments/ and the launcher presets compose; sweep dirs are stable per sweep name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from seglightning.cli import CONFIG_DIR

RECIPES = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))
ROOT = Path(__file__).resolve().parents[2]


def compose_with_hydra(*overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides), return_hydra_config=True)


def test_experiments_folder_is_the_shipped_experiment_group(tmp_path):
    # the recipes ship in the package (seglightning/conf/experiment); experiments/ links there
    link = ROOT / "experiments"
    assert link.is_symlink() and link.resolve() == (Path(CONFIG_DIR) / "experiment").resolve()
    assert {"loss_ablation", "cityscapes_loss_ablation"} <= set(RECIPES)
    # a clone elsewhere: the copied link still reaches the copied recipes (the link is relative)
    clone = tmp_path / "clone"
    shutil.copytree(ROOT / "seglightning" / "conf", clone / "seglightning" / "conf")
    (clone / "experiments").symlink_to(link.readlink())
    copied = clone / "experiments"
    assert copied.resolve() == (clone / "seglightning" / "conf" / "experiment").resolve()
    for recipe in RECIPES:
        assert (copied / f"{recipe}.yaml").read_text() == (link / f"{recipe}.yaml").read_text()


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_composes_into_a_named_stable_sweep(recipe, monkeypatch):
    monkeypatch.setenv("SEGLIGHTNING_OUTPUT", "/runs")
    cfg = compose_with_hydra(f"experiment={recipe}", "data.root=/data")
    assert cfg.sweep_name == recipe
    assert cfg.hydra.sweep.dir == f"/runs/sweeps/{recipe}"  # no timestamp: a rerun finds its jobs
    params = cfg.hydra.sweeper.params
    assert {"loss", "model", "seed"} <= set(params)
    assert "experiment" in cfg.hydra.job.config.override_dirname.exclude_keys


def test_a_named_sweep_without_a_recipe_is_stable_too(monkeypatch):
    monkeypatch.setenv("SEGLIGHTNING_OUTPUT", "/runs")
    assert compose_with_hydra("sweep_name=my_grid").hydra.sweep.dir == "/runs/sweeps/my_grid"
    assert compose_with_hydra().hydra.sweep.dir.startswith("/runs/multirun/20")  # unnamed: Hydra's timestamp


def test_the_command_line_narrows_a_recipe_grid():
    cfg = compose_with_hydra("experiment=loss_ablation", "loss=dice")
    assert cfg.loss.name == "dice" and cfg.data.name == "synthetic" and cfg.trainer.max_epochs == 10


@pytest.mark.parametrize("launcher", ["joblib", "submitit_local", "submitit_slurm", "slurm_gpu"])
def test_launchers_compose(launcher):
    cfg = compose_with_hydra(f"hydra/launcher={launcher}")
    assert cfg.hydra.launcher._target_.startswith("hydra_plugins.")


def test_slurm_preset_runs_one_task_per_gpu():
    cfg = compose_with_hydra("hydra/launcher=slurm_gpu", "hydra.launcher.gpus_per_node=8", "trainer=ddp")
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert launcher.tasks_per_node == launcher.gpus_per_node == 8
    assert launcher.max_num_timeout > 0 and launcher.signal_delay_s > 0  # requeued, resumes from last.ckpt
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.devices == -1
