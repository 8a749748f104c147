"""The report reads files and computes with numpy: importing it, or running ``seglightning-report``
on a sweep, loads neither torch nor Lightning (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

from .test_report import fake_run, write_per_image

HEAVY = ("torch", "lightning", "pytorch_lightning", "torchvision", "timm")


def loaded_after(code: str) -> list[str]:
    probe = textwrap.dedent(code) + f"\nimport sys\nprint('LOADED:', *(m for m in {HEAVY!r} if m in sys.modules))\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].removeprefix("LOADED:").split()


def test_importing_the_report_loads_no_torch_or_lightning():
    assert loaded_after("import seglightning.sweeps.report, seglightning.cli, seglightning.sweeps.runs") == []


def test_the_scores_and_per_image_counts_load_no_torch():
    assert loaded_after("import seglightning.metrics.functional, seglightning.metrics.image_counts") == []


def test_the_report_cli_on_a_sweep_loads_no_torch_or_lightning(tmp_path):
    rng = np.random.default_rng(0)
    for loss in ("ce", "dice"):
        for seed in (0, 1):
            write_per_image(fake_run(tmp_path, loss, "unet", seed, rng=rng), rng, 8, 0.5)
    loaded = loaded_after(f"from seglightning.cli import report\nreport([{str(tmp_path)!r}])")
    assert loaded == []
    assert (tmp_path / "ranks.png").is_file() and (tmp_path / "comparison.md").is_file()
