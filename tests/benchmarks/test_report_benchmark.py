"""``python -m benchmarks report`` as the README writes it, shrunk by its own arguments: it writes a
synthetic sweep the report reads, times ``seglightning-report`` on it, and finds no torch loaded."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.report import make_sweep
from seglightning.sweeps.runs import collect_runs


def test_synthetic_sweep_is_a_finished_sweep_with_per_image_counts(tmp_path):
    make_sweep(tmp_path, runs=6, images=5, classes=3)
    runs = collect_runs(tmp_path)
    assert len(runs) == 6 and all(r.status == "complete" for r in runs)
    assert {r.seed for r in runs} == {0, 1, 2} and all((r.path / "per_image.csv").is_file() for r in runs)


def test_report_benchmark_command_shrunk():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "report", "--", "--runs", "6", "--images", "12", "--classes", "3",
         "--repeats", "1"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "torch loaded: False, lightning loaded: False" in done.stdout
    assert "seglightning-report sweep: best" in done.stdout
