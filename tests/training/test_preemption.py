"""SIGTERM to a running ``seglightning-train``: it finishes the step, writes last.ckpt and
metrics.json (interrupted), exits 75 for a requeue, and the restarted command ends with the
uninterrupted run's metrics.json."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from seglightning import train as train_mod
from seglightning.run.directory import checkpoint_step
from tests.conftest import FAST, metrics_without_cost, train_config

BIN = Path(sys.executable).parent
STEPS = 3 * 4  # 3 epochs x 4 batches
# the subprocess uses this process's thread count (CPU results depend on it)
OVERRIDES = (
    *FAST,
    "trainer.max_epochs=3",
    f"torch_threads={torch.get_num_threads()}",
    "callbacks.checkpoint.every_n_train_steps=1",
    "callbacks.checkpoint.train_time_interval=null",
)


def launch(run_dir: Path, overrides: tuple[str, ...] = OVERRIDES) -> subprocess.Popen:
    """``seglightning-train`` in ``run_dir`` (outside any Slurm job)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    return subprocess.Popen(
        [str(BIN / "seglightning-train"), *overrides, f"hydra.run.dir={run_dir}"],
        env=env,
        cwd=run_dir.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_step(run_dir: Path, step: int, proc: subprocess.Popen, timeout: float = 600) -> None:
    """Until last.ckpt holds ``step`` or more (atomic writes: never read half-written)."""
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if last.exists() and checkpoint_step(str(last)) >= step:
            return
        time.sleep(0.05)
    raise AssertionError(
        f"no checkpoint at step {step}: {proc.stderr.read() if proc.poll() is not None else 'timeout'}"
    )


@pytest.mark.slow
def test_sigterm_saves_exits_for_requeue_and_the_rerun_matches(tmp_path):
    reference = tmp_path / "uninterrupted"
    train_mod.train(train_config(reference, *OVERRIDES[len(FAST) :]))

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    proc = launch(run_dir)
    wait_for_step(run_dir, 2, proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 75, stderr[-3000:]
    result = json.loads((run_dir / "metrics.json").read_text())
    assert result["status"] == "interrupted" and result["signal"] == "SIGTERM"
    assert (
        result["step"] == checkpoint_step(str(run_dir / "checkpoints/last.ckpt"))
        and 2 <= result["step"] < STEPS
    )

    proc = launch(run_dir)  # the requeued job: same command, resume=auto
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    assert metrics_without_cost(run_dir) == metrics_without_cost(reference)
