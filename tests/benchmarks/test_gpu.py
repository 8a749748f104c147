"""benchmarks/gpu.py on a machine without CUDA: says so and exits 0 (the GPU path runs on GPUs)."""

from __future__ import annotations

import subprocess
import sys

import torch

from benchmarks import gpu


def test_without_cuda_says_so_and_exits_zero(monkeypatch, capsys) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu.main([]) == 0
    assert "no CUDA device" in capsys.readouterr().out


def test_module_exit_status_without_cuda() -> None:
    env_code = (
        "import torch; torch.cuda.is_available = lambda: False; import runpy; "
        "runpy.run_module('benchmarks.gpu', run_name='__main__')"
    )
    done = subprocess.run([sys.executable, "-c", env_code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "no CUDA device" in done.stdout
