"""A Hydra multirun of 2 jobs in one process with W&B (no key, so offline automatically): one W&B run
per job, each holding only its own job's config and history."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seglightning.tracking.context import stable_run_id
from tests.conftest import FAST
from tests.tracking.readers import wandb_run

pytestmark = [pytest.mark.tracker, pytest.mark.slow]


def test_multirun_gives_one_wandb_run_per_job(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    overrides = [o for o in FAST if not o.startswith(("logger=", "trainer.max_epochs="))]
    cmd = [
        str(Path(sys.executable).with_name("seglightning-train")),
        "-m",
        *overrides,
        "logger=[csv,wandb]",
        "seed=0,1",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=1",
        "test_after_fit=false",
        f"hydra.sweep.dir={tmp_path}",
        "hydra.sweep.subdir=seed${seed}",
    ]
    out = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=540)
    assert out.returncode == 0, out.stderr[-3000:]
    ids = set()
    for seed in (0, 1):
        job = tmp_path / f"seed{seed}"
        (run_dir,) = (job / "wandb").glob("offline-run-*")
        run = wandb_run(run_dir)
        ids.add(run["run"].run_id)
        assert run["run"].run_id == stable_run_id(job) and run["run"].display_name == f"seed{seed}"
        assert run["config"]["seed"] == seed and run["config"]["run_dir"] == str(job)
        assert len([r for r in run["history"] if "val/mIoU" in r]) == 1
    assert len(ids) == 2
    assert not (tmp_path / "wandb").exists()
