"""Console scripts as a user runs them (subprocesses of the installed entry points)."""

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_data_check_passes_on_clean_data_and_writes_nothing(tmp_path):
    proc = _run("seglightning-data", "check", "data=synthetic", "data.dataset.length=4", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "problems: 0" in proc.stdout
    assert list(tmp_path.iterdir()) == []


def test_data_without_subcommand_prints_usage(tmp_path):
    proc = _run("seglightning-data", "data=synthetic", cwd=tmp_path)
    assert proc.returncode != 0 and "usage: seglightning-data {check}" in proc.stderr


def test_train_with_unknown_key_fails_naming_it(tmp_path):
    proc = _run("seglightning-train", "optim.lernrate=0.1", cwd=tmp_path)
    assert proc.returncode != 0 and "lernrate" in proc.stderr
