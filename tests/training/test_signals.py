"""Every stop signal (SIGTERM, SIGUSR1, SIGUSR2, Ctrl-C) at every stage of a run (set-up, training,
validation, test, report): last.ckpt at the last finished step, metrics.json interrupted with the
signal and the stage, exit 75 (130 for Ctrl-C), the handlers put back, and the rerun ends with the
uninterrupted run's metrics.json. The signal is sent to this process by the run itself."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest

from seglightning import train as train_mod
from seglightning.checkpointing import StopSignals
from seglightning.run import prepare as prepare_mod
from seglightning.run.directory import checkpoint_step
from tests.conftest import FAST, metrics_without_cost, train_config

# 2 epochs x 3 batches, 2 validation and 2 test batches of 32 x 32 images
OVERRIDES = (
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "data.dataset.size=[32,32]",
    "data.transforms.train.crop_size=[32,32]",
    "callbacks.checkpoint.every_n_train_steps=1",
    "callbacks.checkpoint.train_time_interval=null",
)
STEPS = 6
SIGNALS = ("SIGTERM", "SIGUSR1", "SIGUSR2", "SIGINT")
# stage -> the step of last.ckpt after the stop (None: no checkpoint could be written yet)
STAGES = {"setup": None, "training": 2, "validation": 3, "test": STEPS, "report": STEPS}


@pytest.fixture(autouse=True)
def _own_handlers():
    """The handlers this process had; a run must put them back."""
    watched = [signal.Signals[s] for s in SIGNALS]
    before = {sig: signal.getsignal(sig) for sig in watched}
    yield before
    for sig, handler in before.items():
        signal.signal(sig, handler)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The uninterrupted run's metrics.json (without its cost: wall times differ between runs)."""
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    train_mod.train(train_config(run_dir, *OVERRIDES))
    return metrics_without_cost(run_dir)


def send(sig: signal.Signals) -> None:
    """Send ``sig`` to this process, checking that the run's handler is the one to receive it."""
    handler = signal.getsignal(sig)
    assert isinstance(getattr(handler, "__self__", None), StopSignals), f"{sig.name}: not handled by the run"
    os.kill(os.getpid(), sig)


class SendAt(L.Callback):
    """Sends the signal once, inside the training, validation or test loop."""

    def __init__(self, sig: signal.Signals, stage: str):
        self.sig, self.stage, self.sent = sig, stage, False

    def _send(self, stage: str) -> None:
        if stage == self.stage and not self.sent:
            self.sent = True
            send(self.sig)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == 2:
            self._send("training")

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        if not trainer.sanity_checking:
            self._send("validation")

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        self._send("test")


@contextlib.contextmanager
def signal_at(sig: signal.Signals, stage: str, with_callback):
    """The run receives ``sig`` during ``stage``."""
    with pytest.MonkeyPatch.context() as patch:
        if stage == "setup":  # while the data is built
            build = prepare_mod.build_datamodule

            def building(*args, **kwargs):
                send(sig)
                return build(*args, **kwargs)

            patch.setattr(prepare_mod, "build_datamodule", building)
        if stage == "report":  # while the trackers close, after the test pass
            finish = train_mod.finish_trackers

            @contextlib.contextmanager
            def finishing(loggers):
                with finish(loggers):
                    yield
                    send(sig)

            patch.setattr(train_mod, "finish_trackers", finishing)
        with with_callback(SendAt(sig, stage)):
            yield


def interrupt_and_rerun(tmp_path, name, stage, with_callback, _own_handlers, reference, rerun=True):
    sig = signal.Signals[name]
    run_dir = tmp_path / "run"
    cfg = train_config(run_dir, *OVERRIDES)
    with signal_at(sig, stage, with_callback), pytest.raises(SystemExit) as exited:
        train_mod.train(cfg)
    assert exited.value.code == (130 if name == "SIGINT" else 75)
    assert {s: signal.getsignal(s) for s in _own_handlers} == _own_handlers
    result = json.loads((run_dir / "metrics.json").read_text())
    last = run_dir / "checkpoints" / "last.ckpt"
    assert result["status"] == "interrupted" and result["signal"] == name and result["stage"] == stage
    if STAGES[stage] is None:
        assert not last.exists() and result["checkpoint"] is None and result["step"] == 0
    else:
        assert checkpoint_step(str(last)) == result["step"] == STAGES[stage]
        assert result["checkpoint"] == "checkpoints/last.ckpt"
    if rerun:
        train_mod.train(train_config(run_dir, *OVERRIDES))  # resume=auto
        assert metrics_without_cost(run_dir) == reference


@pytest.mark.parametrize(
    ("name", "stage"), [("SIGTERM", "test"), ("SIGINT", "training")]
)
def test_reported_cases_stop_saved_and_rerun_matches(tmp_path, name, stage, with_callback, _own_handlers, reference):
    """SIGTERM in the test pass used to exit 0 (status running); Ctrl-C in training exit 1, unsaved."""
    interrupt_and_rerun(tmp_path, name, stage, with_callback, _own_handlers, reference)


@pytest.mark.slow
@pytest.mark.parametrize("stage", list(STAGES))
@pytest.mark.parametrize("name", SIGNALS)
def test_every_signal_at_every_stage(tmp_path, name, stage, with_callback, _own_handlers, reference):
    # the rerun is checked for one requeue signal and Ctrl-C at each stage (the others take the same path)
    rerun = name in ("SIGUSR1", "SIGINT")
    interrupt_and_rerun(tmp_path, name, stage, with_callback, _own_handlers, reference, rerun=rerun)


@pytest.mark.slow
def test_multirun_stopped_inside_a_job_writes_its_summary_and_the_rerun_finishes(tmp_path):
    sweep_dir = tmp_path / "sweep"
    cmd = [
        str(Path(sys.executable).with_name("seglightning-train")), "-m",
        *(o for o in FAST if not o.startswith("trainer.max_epochs=")), *OVERRIDES[1:],
        "trainer.max_epochs=1", "torch_threads=1", "seed=0,1,2",
        f"hydra.sweep.dir={sweep_dir}", "hydra.sweep.subdir=seed${seed}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    last = sweep_dir / "seed1" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 600
    while not (last.exists() and checkpoint_step(str(last)) >= 1):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0][-3000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode == 75, out[-3000:]
    status = {d.name: json.loads((d / "metrics.json").read_text())["status"] for d in sweep_dir.glob("seed*")}
    assert status == {"seed0": "complete", "seed1": "interrupted"}  # seed2 never launched
    assert "sweep interrupted" in out and (sweep_dir / "runs.csv").is_file()
    assert "1 interrupted" in out or "interrupted" in (sweep_dir / "runs.csv").read_text()

    rerun = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    for seed in range(3):
        assert json.loads((sweep_dir / f"seed{seed}" / "metrics.json").read_text())["status"] == "complete"
