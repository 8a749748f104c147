"""The report's cost columns and cost.png, the gallery (boundary vs other errors, rows by
disagreement, worst images) and report.html, on hand-made run dirs with predictions/ as
SavePredictions writes them (no training, no torch)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seglightning.sweeps import build_report, summary, write_report
from seglightning.sweeps.gallery import build_gallery, worst_images
from tests.sweeps.browser import check_report_page, needs_chromium
from tests.sweeps.test_report import CLASSES, fake_run

PALETTE = [0, 0, 0, 200, 30, 30] + [0] * (768 - 6)
SIZE = 24


def square(shift: int = 0) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[6 + shift:18 + shift, 6 + shift:18 + shift] = 1
    return mask


def predictions_of(loss: str) -> dict[str, np.ndarray]:
    """a: every cell right; b: dice off by a pixel (boundary errors), lovasz a far blob (other
    errors); c: dice misses the square."""
    b = {"ce": square(), "dice": square(1), "lovasz": square().copy()}
    b["lovasz"][1:4, 19:22] = 1  # off the frame: the frame ring is in the Boundary IoU band
    c = {"ce": square(), "dice": np.zeros((SIZE, SIZE), np.uint8), "lovasz": square()}
    return {"a": square(), "b": b[loss], "c": c[loss]}


def save_png(mask: np.ndarray, path: Path) -> None:
    image = Image.fromarray(mask, mode="P")
    image.putpalette(PALETTE)
    image.save(path)


def add_predictions(run: Path, loss: str, cost: dict) -> None:
    folder = run / "predictions"
    folder.mkdir()
    truth = square()
    rows = []
    for image_id, pred in predictions_of(loss).items():
        save_png(pred, folder / f"{image_id}.png")
        save_png(truth, folder / f"{image_id}_gt.png")
        Image.fromarray(np.full((SIZE, SIZE, 3), 90, np.uint8)).save(folder / f"{image_id}_image.jpg")
        counts = [[int(((pred == c) & (truth == c)).sum()) for c in range(2)],
                  [int(((pred == c) & (truth != c)).sum()) for c in range(2)],
                  [int(((pred != c) & (truth == c)).sum()) for c in range(2)]]
        rows.append(["test", image_id, SIZE * SIZE, *counts[0], *counts[1], *counts[2]])
    index = {"split": "test", "selection_seed": 0, "ignore_index": 255,
             "images": [{"id": i, "stem": i, "index": n} for n, i in enumerate("abc")]}
    (folder / "index.json").write_text(json.dumps(index))
    with open(run / "per_image.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["split", "id", "valid_pixels", *(f"{k}/{c}" for k in ("TP", "FP", "FN") for c in CLASSES)])
        writer.writerows(rows)
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**metrics, "cost": cost}))


COST = {"wall_seconds": 36.0, "fit_seconds": 30.0, "train_seconds": 24.0, "val_seconds": 6.0, "test_seconds": 6.0,
        "train_images_per_second": 2.0, "eval_images_per_second": 4.0, "peak_host_memory_mb": 900.0,
        "peak_device_memory_mb": None, "device": "cpu", "device_count": 1, "device_hours": 0.01, "segments": 1}


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for k, loss in enumerate(("ce", "dice", "lovasz")):
        for seed in (0, 1):
            run = fake_run(tmp_path, loss, "unet", seed, rng=rng)
            add_predictions(run, loss, {**COST, "device_hours": 0.01 * (k + 1) + 0.001 * seed})
    return tmp_path


def test_gallery_separates_boundary_errors_orders_rows_by_disagreement_and_lists_worst(sweep):
    report = build_report(sweep)
    gallery = build_gallery(report.cells, report.columns)
    assert gallery.seed == 0 and gallery.labels == ["loss=ce, model=unet", "loss=dice, model=unet",
                                                    "loss=lovasz, model=unet"]
    assert [row.image_id for row in gallery.rows] == ["c", "b", "a"]  # most disagreement first
    assert "per_image.csv" in gallery.measure
    b = gallery.rows[1]
    assert b.errors[0] == (0.0, 0.0)
    assert b.errors[1][0] > 0 and b.errors[1][1] == 0  # one-pixel shift: only boundary errors
    assert b.errors[2] == (0.0, 9 / SIZE**2)  # a 3x3 blob far from the square: only other errors
    # the shift by one pixel: 12 + 12 false positives and 12 + 12 false negatives, less 2 corners counted twice
    assert b.errors[1][0] == pytest.approx(46 / SIZE**2)
    assert (b.predictions[1] == (255, 215, 0)).all(-1).sum() == 46  # painted gold
    assert (b.predictions[2] == (230, 0, 230)).all(-1).sum() == 9  # painted magenta
    worst = {w.label: w.images for w in worst_images(report.cells, report.columns, gallery)}
    assert [i for i, _, _ in worst["loss=dice, model=unet"]] == ["c", "b", "a"]
    # c: dice predicts background only: background IoU 432/576, disk IoU 0 (in the ground truth)
    assert worst["loss=dice, model=unet"][0][1] == pytest.approx((432 / 576 + 0) / 2)
    assert all(pictured for _, _, pictured in worst["loss=ce, model=unet"])


def test_cost_columns_plot_and_total(sweep, capsys):
    report = build_report(sweep)
    written = write_report(report)
    for name in ("cost.png", "gallery.png", "worst_images.csv", "report.html"):
        assert written[name].is_file(), name
    with open(sweep / "runs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {float(r["cost/device_hours"]) for r in rows} == {0.01, 0.011, 0.02, 0.021, 0.03, 0.031}
    assert all(r["cost/peak_device_memory_mb"] == "" and r["cost/device"] == "cpu" for r in rows)
    results = (sweep / "results.md").read_text()
    assert "cost per run" in results and "0.0105 device-h (36 s)" in results
    with open(sweep / "results.csv", newline="") as f:
        means = {r["loss"]: float(r["cost/device_hours_mean"]) for r in csv.DictReader(f)}
    assert means == pytest.approx({"ce": 0.0105, "dice": 0.0205, "lovasz": 0.0305})
    line = summary(report).splitlines()[0]
    assert "cost: 0.123 device-hours, 3.6 min wall time over 6 runs" in line


def test_report_html_is_self_contained_and_shows_every_output(sweep):
    write_report(build_report(sweep))
    html = (sweep / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)  # nothing fetched
    for section in ('id="grid"', 'id="cost"', 'id="results.csv"', 'id="comparison.csv"', 'id="per-class"',
                    'id="gallery"', 'id="worst"', 'id="intervals"', 'id="heatmap.png"', 'id="cost.png"'):
        assert section in html, section
    # 5 plots (heatmap, bars, paired, ranks, cost), 3 rows of 5 gallery panels
    assert html.count('src="data:image/png;base64,') == 5 + 3 * 5
    assert 'id="ranks.csv"' in html and 'id="ranks.png"' in html and "Rank interval" in html
    assert "More outputs" not in html
    # outputs added to the report later appear on the page without a code change
    (sweep / "extra_table.csv").write_text("a,b\n1,0.123456\n")
    Image.new("RGB", (8, 8), "blue").save(sweep / "extra_plot.png")
    write_report(build_report(sweep))
    html = (sweep / "report.html").read_text()
    assert "Extra table" in html and "0.1235" in html and 'id="extra_plot.png"' in html


@pytest.mark.browser
@needs_chromium
def test_report_html_in_a_headless_browser(sweep, tmp_path):
    write_report(build_report(sweep))
    dom = check_report_page(sweep / "report.html", tmp_path / "chromium", min_images=5 + 3 * 5)
    assert 'id="gallery"' in dom and 'id="worst"' in dom and 'id="cost"' in dom


def test_report_command_with_gallery_seed_as_the_readme_writes_it(sweep, capsys):
    """README: ``seglightning-report outputs/sweeps/my_grid --gallery-seed 1``: the page's gallery is seed 1's."""
    from seglightning.cli import report as report_cli

    report_cli([str(sweep), "--gallery-seed", "1"])
    assert "report.html" in capsys.readouterr().out
    assert "<p class=\"note\">Seed 1;" in (sweep / "report.html").read_text()
    report_cli([str(sweep)])  # default: the smallest seed most cells saved
    assert "<p class=\"note\">Seed 0;" in (sweep / "report.html").read_text()
