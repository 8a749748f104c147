"""Every JSON file a run writes is strict JSON (jq, a browser's JSON.parse): NaN is null, read back as NaN."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from seglightning import train as train_mod
from seglightning.run import directory as rd
from tests.conftest import train_config


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-standard JSON constant {name}")


def assert_strict_json(path: Path) -> None:
    json.loads(path.read_text(), parse_constant=_reject_constant)  # Python's JSON.parse: no NaN/Infinity
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (.ci/run installs it)")
    done = subprocess.run(["jq", ".", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, f"jq rejects {path}: {done.stderr}"


def test_nan_scores_are_written_as_null_and_read_back_as_nan(tmp_path):
    scores = {"test/mIoU": 0.5, "test/IoU/cat": float("nan"), "test/IoU/dog": np.float32("nan"), "epoch": 3}
    rd.write_metrics(tmp_path, {"status": "complete", "test": scores, "best": {"val/x": float("inf")}})
    path = tmp_path / rd.METRICS_FILE
    assert_strict_json(path)
    raw = json.loads(path.read_text())
    assert raw["test"]["test/IoU/cat"] is None and raw["test"]["test/IoU/dog"] is None
    assert raw["best"]["val/x"] is None
    read = rd.read_metrics(tmp_path)
    assert math.isnan(read["test"]["test/IoU/cat"]) and math.isnan(read["test"]["test/IoU/dog"])
    assert read["test"]["test/mIoU"] == 0.5 and read["test"]["epoch"] == 3
    assert read["status"] == "complete"


def test_every_json_file_of_a_run_is_strict(tmp_path):
    train_mod.train(train_config(tmp_path, "trainer.max_epochs=1"))
    files = sorted(tmp_path.rglob("*.json"))
    assert {"metrics.json", "run_meta.json"} <= {f.name for f in files}
    for path in files:
        assert_strict_json(path)
