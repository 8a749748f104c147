"""Sweeps made before wave 3 still read: run dirs whose metrics.json has NaN literals (as Python's json
wrote them) and no cost, whose per_image.csv and per_class.csv have no bIoU or calibration columns, and
that have no predictions/. seglightning-report over them, alone and mixed with new runs, shows their
metrics and marks the missing ones as absent (never 0)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from seglightning.cli import report
from seglightning.sweeps import build_report
from seglightning.sweeps.html import per_class_tables
from tests.sweeps.test_report import cell_line, fake_run
from tests.sweeps.test_report_families import add_families
from tests.sweeps.test_report_families import write_per_image as write_new_per_image

OLD_METRICS = """{"status": "complete", "monitor": "val/mIoU",
 "final": {"epoch": 3, "step": 40, "val/mIoU": 0.61, "val/mDice": 0.7, "val/bF1": 0.5, "val/pixel_acc": 0.9,
           "val/loss": 0.3, "val/IoU/background": 0.9, "val/IoU/disk": NaN},
 "best": {"epoch": 2, "step": 30, "val/mIoU": %(miou)s, "val/mDice": 0.71, "val/bF1": 0.52, "val/pixel_acc": 0.91,
          "val/loss": 0.29, "val/IoU/background": 0.9, "val/IoU/disk": NaN},
 "test": {"test/mIoU": 0.6, "test/mDice": 0.7, "test/bF1": 0.5, "test/pixel_acc": 0.9, "test/loss": 0.3,
          "test/IoU/background": 0.9, "test/IoU/disk": NaN}}"""
OLD_PER_IMAGE = (
    "split,id,valid_pixels,TP/background,TP/disk,FP/background,FP/disk,FN/background,FN/disk,"
    "bF1/background,bF1/disk\n"
)
OLD_PER_CLASS = "class,IoU,bF1\nbackground,0.9,0.8\ndisk,,\n"


def old_run(sweep: Path, loss: str, seed: int, miou: float) -> Path:
    """A run dir as wave 2 wrote it (written literally): no cost, bIoU, calibration or predictions/."""
    path = fake_run(sweep, loss, "unet", seed)
    (path / "metrics.json").write_text(OLD_METRICS % {"miou": miou})
    rng = np.random.default_rng(seed)
    rows = [["test", f"img{i:03d}", 100, *rng.integers(1, 40, 6), *rng.random(2).round(3)] for i in range(15)]
    with open(path / "per_image.csv", "w", newline="") as f:
        f.write(OLD_PER_IMAGE)
        csv.writer(f).writerows(rows)
    (path / "per_class.csv").write_text(OLD_PER_CLASS)
    return path


def new_run(sweep: Path, loss: str, seed: int) -> Path:
    """A run dir as wave 3 writes it: bIoU and calibration in metrics.json, band counts per image."""
    path = fake_run(sweep, loss, "unet", seed, rng=np.random.default_rng(10 + seed))
    add_families(path, 0.4 + 0.01 * seed, 0.05 + 0.01 * seed)
    write_new_per_image(path, np.random.default_rng(seed), 15, 1.0)
    return path


def comparisons(sweep: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(sweep / "comparison.csv", newline="") as f:
        return {(r["metric"], r["method"]): r for r in csv.DictReader(f)}


def test_a_sweep_from_before_wave_3_reads(tmp_path, capsys):
    for seed in (0, 1):
        old_run(tmp_path, "ce", seed, 0.6 + 0.01 * seed)
        old_run(tmp_path, "dice", seed, 0.7 + 0.01 * seed)
    report([str(tmp_path), "--baseline", "loss=ce"])
    assert "4 of 4 jobs complete" in capsys.readouterr().out
    results = (tmp_path / "results.md").read_text()
    header = cell_line(results, "loss", "model")
    assert cell_line(results, "dice", "unet")[header.index("mIoU mean")] == "0.7050 (tied)"
    assert not {"bIoU mean", "ECE mean"} & set(header)  # never logged: no column
    rows = comparisons(tmp_path)
    assert rows[("mIoU", "seeds")]["difference"] and rows[("mIoU", "images")]["n"] == "15"
    assert not any(metric in ("bIoU", "ECE") for metric, _ in rows)
    iou = per_class_tables(build_report(tmp_path))[0]
    assert iou.rows[1][0] == "disk" and iou.rows[1][1:] == ["–", "–"]  # NaN literal: absent, not 0


def test_old_and_new_runs_mixed(tmp_path, capsys):
    for seed in (0, 1):
        old_run(tmp_path, "ce", seed, 0.6 + 0.01 * seed)
        new_run(tmp_path, "dice", seed)
    report([str(tmp_path), "--baseline", "loss=ce"])
    capsys.readouterr()
    results = (tmp_path / "results.md").read_text()
    header = cell_line(results, "loss", "model")
    old, new = cell_line(results, "ce", "unet"), cell_line(results, "dice", "unet")
    assert old[header.index("mIoU mean")].startswith("0.6050")
    assert new[header.index("bIoU mean")] == "0.4050" and new[header.index("ECE mean")] == "0.0550"
    for metric in ("bIoU", "ECE", "Brier", "NLL"):
        assert old[header.index(f"{metric} mean")] == "–", metric  # absent, not 0
    with open(tmp_path / "results.csv", newline="") as f:
        ce = next(r for r in csv.DictReader(f) if r["loss"] == "ce")
    assert ce["bIoU/n"] == "0" and ce["bIoU/mean"] == "nan" and ce["ECE/n"] == "0"
    rows = comparisons(tmp_path)
    for metric in ("bIoU", "ECE"):
        row = rows[(metric, "seeds")]
        assert (row["n"], row["decision"], row["difference"]) == ("0", "absent", "nan")  # not "tied"
        assert (metric, "images") not in rows  # the old runs have no band counts to bootstrap
    assert rows[("mIoU", "seeds")]["n"] == "2" and rows[("mIoU", "images")]["n"] == "15"
    assert "| dice | unet | 0 | – | – | – | – | – | absent |" in (tmp_path / "comparison.md").read_text()
