"""RunCost: resumed totals (sums and maxima), the test pass keeping its own totals, and the process
tree's resident memory (psutil and the /proc fallback) following a child that allocates memory.
A resumed training run is checked in test_resume_mid_epoch.py (cost summed over both segments)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from seglightning.run import cost as run_cost
from seglightning.run.cost import MB, RunCost


def saved(**totals):
    cost = RunCost()
    cost.totals.update(totals)
    return cost.state_dict()


def test_a_resumed_fit_sums_the_segments_and_keeps_the_peaks():
    first = saved(fit_seconds=10.0, val_seconds=2.0, train_images=40, val_images=8, segments=1,
                  peak_host_bytes=5e12, peak_device_bytes=0)  # larger than any real RSS
    cost = RunCost()
    cost._stage = "fit"
    cost.totals.update(fit_seconds=4.0, val_seconds=1.0, train_images=16, segments=1, peak_device_bytes=3 * MB)
    cost.load_state_dict(first)
    summary = cost.summary()
    assert summary["fit_seconds"] == 14.0 and summary["val_seconds"] == 3.0 and summary["train_seconds"] == 11.0
    assert summary["train_images"] == 56 and summary["segments"] == 2
    assert summary["train_images_per_second"] == pytest.approx(56 / 11.0, abs=1e-3)
    assert summary["peak_host_memory_mb"] == pytest.approx(5e12 / MB, rel=1e-6)
    assert summary["peak_device_memory_mb"] is None  # no CUDA device in this run
    assert summary["device_hours"] == pytest.approx(14.0 / 3600, abs=1e-6)


def test_testing_from_the_best_checkpoint_keeps_the_runs_own_totals():
    cost = RunCost()
    cost._stage = "test"
    cost.totals.update(fit_seconds=7.0, segments=1)
    cost.load_state_dict(saved(fit_seconds=3.0, segments=1))
    assert cost.summary()["fit_seconds"] == 7.0 and cost.summary()["segments"] == 1


@pytest.mark.parametrize("reader", ["psutil", "proc"])
def test_the_process_tree_memory_includes_a_child(reader, monkeypatch):
    if reader == "psutil":
        pytest.importorskip("psutil")
    else:
        monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil -> ImportError: the /proc reader
    before = run_cost.process_tree_rss()
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
         "print('ready', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        during = run_cost.process_tree_rss()
    finally:
        child.kill()
        child.wait()
    assert during - before > 250 * MB
