"""Checkpoint writes are atomic: SIGKILL in the middle of writing last.ckpt leaves the previous one."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

WRITER = """
import sys, torch
from seglightning.checkpointing import AtomicCheckpointIO
io, path = AtomicCheckpointIO(), sys.argv[1]
io.save_checkpoint({"version": 1, "weights": torch.ones(2)}, path)
print("saved 1", flush=True)
big = torch.arange(40_000_000, dtype=torch.float32)  # 160 MB: the write takes a while
for version in range(2, 1000):
    io.save_checkpoint({"version": version, "weights": big}, path)
"""


def test_sigkill_during_a_write_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "checkpoints" / "last.ckpt"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout.readline().strip() == "saved 1"
    deadline = time.monotonic() + 120
    while not list(path.parent.glob(".last.ckpt.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.001)  # wait until version 2 is being written
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    leftovers = list(path.parent.glob(".last.ckpt.*.tmp"))
    assert leftovers, "the kill did not land during a write"
    ckpt = torch.load(path, map_location="cpu", weights_only=True)  # complete and readable
    assert ckpt["version"] == 1 and torch.equal(ckpt["weights"], torch.ones(2))


def test_a_finished_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    from seglightning.checkpointing import AtomicCheckpointIO

    path = Path(tmp_path) / "last.ckpt"
    io = AtomicCheckpointIO()
    for version in (1, 2):
        io.save_checkpoint({"version": version}, path)
    assert torch.load(path, weights_only=True)["version"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
