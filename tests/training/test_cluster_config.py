"""The cluster commands of the README compose into what they promise."""

from __future__ import annotations

from hydra import compose, initialize_config_dir

from seglightning.cli import CONFIG_DIR


def compose_train(*overrides: str):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides), return_hydra_config=True)


def test_readme_submitit_multi_node_command():
    cfg = compose_train(
        "experiment=loss_ablation",
        "trainer=ddp",
        "hydra/launcher=slurm_gpu",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.gpus_per_node=4",
        "hydra.launcher.nodes=2",
        "trainer.num_nodes=2",
    )
    launcher = cfg.hydra.launcher
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)
    assert (cfg.trainer.num_nodes, cfg.trainer.devices, cfg.trainer.strategy) == (2, -1, "ddp")
    assert (
        launcher.signal_delay_s > 0 and launcher.max_num_timeout > 0
    )  # SIGUSR2 before the limit, requeued
    assert (
        "SIGUSR2" in cfg.callbacks.preemption.signals and cfg.callbacks.preemption.requeue == "auto"
    )


def test_readme_plain_slurm_command():
    cfg = compose_train(
        "trainer=ddp",
        "trainer.num_nodes=2",
        "data=cityscapes",
        "data.root=/data/cityscapes",
        "hydra.run.dir=outputs/runs/cityscapes_ddp",
    )
    assert cfg.hydra.run.dir == "outputs/runs/cityscapes_ddp" and cfg.trainer.num_nodes == 2
    assert {"SIGUSR1", "SIGTERM"} <= set(cfg.callbacks.preemption.signals)
