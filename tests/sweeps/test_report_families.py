"""The sweep report carries Boundary IoU and calibration: columns in results and comparison, ECE
ranked lower-is-better, the per-image bootstrap of bIoU from the band counts, ``--columns``, plots."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from seglightning.cli import report
from seglightning.sweeps import build_report
from tests.sweeps.test_report import CLASSES, cell_line, fake_run


def add_families(run: Path, biou: float, ece: float) -> None:
    """Add bIoU and the calibration scores to a fake run's metrics.json."""
    result = json.loads((run / "metrics.json").read_text())
    for section, p in (("final", "val/"), ("best", "val/"), ("test", "test/")):
        result[section] |= {f"{p}bIoU": biou, f"{p}ECE": ece, f"{p}Brier": 2 * ece, f"{p}NLL": 3 * ece}
    (run / "metrics.json").write_text(json.dumps(result))


def write_per_image(run: Path, rng: np.random.Generator, images: int, quality: float) -> tuple[np.ndarray, np.ndarray]:
    """per_image.csv with TP/FP/FN and the band counts bIoU.I / bIoU.U; returns (I, U) ``[N, C]``."""
    kinds = ("TP", "FP", "FN", "bIoU.I", "bIoU.U")
    header = ["split", "id", "valid_pixels", *(f"{k}/{c}" for k in kinds for c in CLASSES)]
    inter = rng.integers(0, 30, (images, 2)) + int(20 * quality)
    union = inter + rng.integers(0, 30, (images, 2))
    with open(run / "per_image.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i in range(images):
            writer.writerow(["test", f"img{i:03d}", 0, *rng.integers(1, 40, 6), *inter[i], *union[i]])
    return inter, union


def test_report_has_biou_and_ece_and_bootstraps_biou_over_images(tmp_path, capsys):
    rng = np.random.default_rng(3)
    counts, scores = {}, {"ce": (0.40, 0.10), "dice": (0.60, 0.05)}
    for loss, quality in (("ce", 0.0), ("dice", 1.5)):
        for seed in (0, 1, 2):
            run = fake_run(tmp_path, loss, "unet", seed, rng=rng)
            biou, ece = scores[loss]
            add_families(run, biou + 0.001 * seed, ece + 0.001 * seed)
            counts[(loss, seed)] = write_per_image(run, rng, 15, quality)
    report([str(tmp_path), "--baseline", "loss=ce"])
    capsys.readouterr()
    results = (tmp_path / "results.md").read_text()
    header = cell_line(results, "loss", "model")
    assert {f"{m} mean" for m in ("bIoU", "ECE", "Brier", "NLL")} <= set(header)
    dice = cell_line(results, "dice", "unet")
    assert dice[header.index("ECE mean")].startswith("**0.0510")  # lower ECE is the better, separated: bold
    assert dice[header.index("bIoU mean")].startswith("**0.6010")

    with open(tmp_path / "comparison.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {"bIoU", "ECE"} <= {r["metric"] for r in rows if r["method"] == "seeds"}
    boot = next(r for r in rows if (r["metric"], r["method"]) == ("bIoU", "images"))

    def biou(inter: np.ndarray, union: np.ndarray) -> float:  # dataset level: sum I / sum U, mean over classes
        i, u = inter.sum(0), union.sum(0)
        return float(np.mean(i[u > 0] / u[u > 0]))

    expected = np.mean([biou(*counts[("dice", s)]) - biou(*counts[("ce", s)]) for s in range(3)])
    assert float(boot["difference"]) == pytest.approx(expected)
    assert boot["n"] == "15" and float(boot["ci_low"]) < float(boot["difference"]) < float(boot["ci_high"])
    assert "## Paired over images (bIoU)" in (tmp_path / "comparison.md").read_text()

    picked = build_report(tmp_path, "best", None, chosen=["mIoU", "bIoU", "ECE"])
    assert picked.metrics == ["mIoU", "bIoU", "ECE"]
    report([str(tmp_path), "--columns", "mIoU,ECE"])
    header = cell_line((tmp_path / "results.md").read_text(), "loss", "model")
    assert [h for h in header if h.endswith(" mean")] == ["mIoU mean", "ECE mean"]
    with pytest.raises(SystemExit, match="--columns: HD95 not logged"):
        report([str(tmp_path), "--columns", "mIoU,HD95"])


def test_report_carries_the_opt_in_families_with_distances_lower_is_better(tmp_path):
    for loss, hd95, recall in (("ce", 9.0, 0.5), ("dice", 4.0, 0.7)):
        for seed in (0, 1, 2):
            run = fake_run(tmp_path, loss, "unet", seed)
            result = json.loads((run / "metrics.json").read_text())
            result["best"] |= {"val/HD95": hd95 + 0.01 * seed, "val/ASSD": hd95 / 4, "val/NSD@2px": recall,
                               "val/recall@small": recall + 0.001 * seed, "val/surface_one_sided": 3.0}
            (run / "metrics.json").write_text(json.dumps(result))
    built = build_report(tmp_path)
    assert {"HD95", "ASSD", "NSD@2px", "recall@small"} <= set(built.metrics)
    assert "surface_one_sided" not in built.metrics  # a count, not a score
    hd95 = {c.key[0]: c.summary["HD95"].mean for c in built.cells}
    assert hd95 == pytest.approx({"ce": 9.01, "dice": 4.01})
    from seglightning.sweeps.cells import ranking

    assert ranking(built.cells, "HD95").get(("dice", "unet")) == "best"  # the smaller distance wins
    assert {c.metric for c in built.comparisons} >= {"HD95", "recall@small"}
