"""One process per run directory: a second launch is told which process holds the run dir (a
multirun skips that job and goes on), a lock left by a killed process is taken over, and two
identical sweeps launched at once give the sequential sweep's metrics.csv, each job run once."""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from seglightning import train as train_mod
from seglightning.run.lock import LOCK_FILE, RunLocked, run_lock
from tests.conftest import FAST, train_config

BIN = Path(sys.executable).parent
HOLD = (  # takes the lock of argv[1], says so, and holds it until killed
    "import sys, time\nfrom seglightning.run.lock import run_lock\n"
    "with run_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(600)\n"
)


def test_second_holder_is_refused_naming_the_first(tmp_path):
    with run_lock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()} {socket.gethostname()}\n"
        with pytest.raises(RunLocked, match=rf"is being run by pid {os.getpid()} on {socket.gethostname()}"):
            with run_lock(tmp_path):
                pass
    assert (tmp_path / LOCK_FILE).read_text() == ""  # released
    with run_lock(tmp_path):  # free again
        pass


def test_lock_of_a_killed_process_is_taken_over(tmp_path, caplog):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "locked\n"
    with pytest.raises(RunLocked, match=f"pid {holder.pid} on"):
        with run_lock(tmp_path):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (tmp_path / LOCK_FILE).read_text().startswith(f"{holder.pid} ")  # the leftover file
    with caplog.at_level(logging.WARNING), run_lock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text().startswith(f"{os.getpid()} ")
    assert f"took over the lock left by pid {holder.pid} on" in caplog.text


def test_train_on_a_locked_run_dir_is_an_error_and_writes_nothing(tmp_path):
    run_dir = tmp_path / "run"
    with run_lock(run_dir):
        with pytest.raises(RunLocked, match=rf"{run_dir} is being run by pid {os.getpid()}"):
            train_mod.train_job(train_config(run_dir))
    assert sorted(p.name for p in run_dir.iterdir()) == [LOCK_FILE]  # no metrics.json "failed"


SWEEP = (
    *(o for o in FAST if not o.startswith("trainer.max_epochs=")),
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "data.dataset.size=[32,32]",
    "data.transforms.train.crop_size=[32,32]",
    "torch_threads=1",
    "seed=0,1,2,3",
    "hydra.sweep.subdir=seed${seed}",
)


def sweep(sweep_dir: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    return subprocess.Popen(
        [str(BIN / "seglightning-train"), "-m", *SWEEP, f"hydra.sweep.dir={sweep_dir}"],
        env=env, cwd=sweep_dir.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@pytest.mark.slow
def test_two_identical_sweeps_at_once_give_the_sequential_results(tmp_path):
    sequential, concurrent = tmp_path / "sequential", tmp_path / "concurrent"
    out, _ = sweep(sequential).communicate(timeout=900)
    first, second = sweep(concurrent), sweep(concurrent)
    outputs = [p.communicate(timeout=900)[0] for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    text = "\n".join(outputs)
    assert "Traceback" not in text and not re.search(r"[1-9]\d* failed", text), text[-5000:]
    assert text.count("[seglightning] run directory:") == 4, text[-5000:]  # each job trained once
    for seed in range(4):
        job = f"seed{seed}"
        assert (concurrent / job / "metrics.csv").read_bytes() == (sequential / job / "metrics.csv").read_bytes()
        assert '"status": "complete"' in (concurrent / job / "metrics.json").read_text()
