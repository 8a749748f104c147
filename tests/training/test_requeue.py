"""After a stop: submitit's requeue protocol, ``scontrol requeue`` under plain Slurm, or only exit."""

from __future__ import annotations

import os
import signal
import stat

import pytest
from submitit.core.job_environment import SignalHandler

from seglightning.checkpointing import Interrupted, StopSignals, requeue


@pytest.fixture(autouse=True)
def _keep_signal_handlers():
    """requeue() puts back the handlers it was given; restore this process's own afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def interrupted(installed_over: dict) -> Interrupted:
    stop = StopSignals(["SIGTERM", "SIGUSR2"])
    stop.previous = dict(installed_over)
    return Interrupted("SIGTERM", 12, 1, "/run/checkpoints/last.ckpt", 75, stop)


def test_under_submitit_its_handler_checkpoints_and_requeues(monkeypatch):
    handler = SignalHandler(None, None, None)  # what submitit installs in a job (bypass on SIGTERM)
    calls = []
    monkeypatch.setattr(
        handler, "checkpoint_and_try_requeue", lambda signum, frame: calls.append(signum)
    )
    monkeypatch.setenv("SLURM_JOB_ID", "123")  # submitit wins over plain Slurm
    with pytest.raises(SystemExit) as exited:
        requeue(
            interrupted(
                {signal.SIGTERM: handler.bypass, signal.SIGUSR2: handler.checkpoint_and_try_requeue}
            ),
            "auto",
            rank=1,
        )
    assert calls == [signal.SIGUSR2] and exited.value.code == 75


def fake_scontrol(tmp_path, monkeypatch):
    log = tmp_path / "scontrol.log"
    script = tmp_path / "bin" / "scontrol"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}:{os.environ['PATH']}")
    return log


def test_under_plain_slurm_rank_zero_runs_scontrol_requeue(tmp_path, monkeypatch):
    log = fake_scontrol(tmp_path, monkeypatch)
    monkeypatch.setenv("SLURM_JOB_ID", "123")
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    for rank in (1, 0):
        with pytest.raises(SystemExit) as exited:
            requeue(interrupted({}), "auto", rank=rank)
        assert exited.value.code == 75
    assert log.read_text() == "requeue 123\n"  # once: rank 0 only


def test_never_only_exits(tmp_path, monkeypatch):
    log = fake_scontrol(tmp_path, monkeypatch)
    monkeypatch.setenv("SLURM_JOB_ID", "123")
    with pytest.raises(SystemExit):
        requeue(interrupted({}), "never", rank=0)
    assert not log.exists()


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match=r"callbacks.preemption.signals: 'SIGFOO'"):
        StopSignals(["SIGFOO"])
    with pytest.raises(ValueError, match=r"callbacks.preemption.requeue='always'"):
        requeue(interrupted({}), "always")
