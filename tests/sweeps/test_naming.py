"""Sweep and job directory names: stable per sweep name; job dirs short enough for any file system."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

import seglightning  # noqa: F401  (registers the resolvers)
from seglightning.sweeps.naming import MAX_NAME, RESOLVER, job_dir, sweep_dir


def test_a_short_name_is_the_override_dirname():
    assert job_dir("loss=ce,model=unet,seed=0", ["loss=ce", "model=unet", "seed=0"]) == "loss=ce,model=unet,seed=0"


def test_a_long_name_keeps_the_grid_keys_and_a_stable_unique_hash():
    shrink = [f"trainer.option_{i}=value_{i}" for i in range(20)]
    task = ["+optim.lr=0.01", "loss=ce", "model=unet", "seed=1", "data.dataset.size=[32,32]", *shrink]
    dirname = ",".join(sorted(task))
    name = job_dir(dirname, task, {"optim.lr": "0.01,0.1"})
    assert name.startswith("loss=ce,model=unet,optim.lr=0.01,seed=1_") and len(name) <= MAX_NAME + 13
    assert name == job_dir(dirname, task, {"optim.lr": "0.01,0.1"})  # the same command finds the same dir
    assert name != job_dir(dirname.replace("value_3", "value_4"), task, {"optim.lr": "0.01,0.1"})


def test_the_resolver_is_registered_on_import():
    cfg = OmegaConf.create({"d": "a=1", "t": ["a=1"], "p": None, "name": f"${{{RESOLVER}:${{d}},${{t}},${{p}}}}"})
    assert cfg.name == "a=1"


def test_a_named_sweep_has_a_fixed_dir_and_an_unnamed_one_a_timestamp():
    assert sweep_dir("loss_ablation", "2026-01-01_00-00-00") == "sweeps/loss_ablation"
    assert sweep_dir(None, "2026-01-01_00-00-00") == "multirun/2026-01-01_00-00-00"
    with pytest.raises(ValueError, match="sweep_name='a/b' must be a plain directory name"):
        sweep_dir("a/b", "t")
