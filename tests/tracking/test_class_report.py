"""The per-class table and confusion-matrix plot from a hand-made confusion matrix and real metric state."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
from PIL import Image

from seglightning.metrics import EvaluationMetrics, EvaluationSnapshot
from seglightning.tracking.media import class_report

pytestmark = pytest.mark.tracker


def test_class_report_table_and_figure(tmp_path):
    # rows ground truth, columns prediction; class "c" never occurs
    confmat = np.array([[6, 2, 0], [1, 3, 0], [0, 0, 0]])
    report = class_report(EvaluationSnapshot(confmat, {"bF1": np.array([0.5, 1.0, np.nan])}, ["a", "b", "c"]), tmp_path)
    assert report.columns == ["class", "IoU", "Dice", "bF1", "pixels"]
    (a, b, c) = report.rows
    assert a == ["a", pytest.approx(6 / 9), pytest.approx(12 / 15), 0.5, 8]
    assert b == ["b", pytest.approx(3 / 6), pytest.approx(6 / 9), 1.0, 4]
    assert c[0] == "c" and all(math.isnan(v) for v in c[1:4]) and c[4] == 0
    header, first, *_ = csv.reader(open(report.table_path))
    assert header == report.columns and [float(v) for v in first[1:]] == pytest.approx([6 / 9, 12 / 15, 0.5, 8])
    assert Image.open(report.figure_path).size[0] > 300


def test_snapshot_names_one_bf1_column_per_tolerance():
    metrics = EvaluationMetrics(3, 255, ["a", "b", "c"], [3, 5])
    target = torch.zeros(1, 16, 16, dtype=torch.long)
    target[0, 4:12, 4:12] = 1
    metrics.update(target.clone(), target, torch.tensor(0.0))
    state = metrics.snapshot()
    assert metrics.last is state
    assert list(state.bf1) == ["bF1@3px", "bF1@5px"] and state.confmat.sum() == 256
    assert state.bf1["bF1@3px"][:2].tolist() == [1.0, 1.0] and math.isnan(state.bf1["bF1@3px"][2])
