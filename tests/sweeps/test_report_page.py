"""End to end: a 3-loss x 2-seed command-line sweep (tiny model, shrunk) leaves each run's cost and
predictions, and its report has cost.png, gallery.png and report.html, which opens in headless
chromium (screenshot not blank, tables and images in the DOM, nothing fetched)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from tests.sweeps.browser import check_report_page, needs_chromium
from tests.sweeps.helpers import SHRINK, run_cli, tiny_model_searchpath

pytestmark = pytest.mark.slow

LOSSES, SEEDS, IMAGES = ("ce", "dice", "lovasz"), (0, 1), 4


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("page")
    args = ["-m", "experiment=loss_ablation", "sweep_name=page", f"loss={','.join(LOSSES)}", "model=tiny_unet",
            f"seed={','.join(map(str, SEEDS))}", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
            f"callbacks.predictions.num_images={IMAGES}", tiny_model_searchpath(root / "conf"), *SHRINK]
    proc = run_cli("seglightning-train", *args, output=root / "out")
    assert proc.returncode == 0, proc.stdout[-4000:]
    return root / "out" / "sweeps" / "page", proc.stdout


def test_every_run_records_its_cost_and_the_same_predictions(sweep):
    sweep_dir, log = sweep
    runs = sorted(p.parent for p in sweep_dir.glob("*/metrics.json"))
    assert len(runs) == len(LOSSES) * len(SEEDS)
    indexes = [json.loads((r / "predictions" / "index.json").read_text())["images"] for r in runs]
    assert all(index == indexes[0] for index in indexes) and len(indexes[0]) == IMAGES
    hours = 0.0
    for run in runs:
        cost = json.loads((run / "metrics.json").read_text())["cost"]
        assert cost["wall_seconds"] > 0 and cost["train_images"] > 0 and cost["peak_host_memory_mb"] > 0
        hours += cost["device_hours"]
    with open(sweep_dir / "runs.csv", newline="") as f:
        assert sum(float(r["cost/device_hours"]) for r in csv.DictReader(f)) == pytest.approx(hours)
    assert f"cost: {hours:.3g} device-hours" in log  # the multirun's summary line


def test_the_report_has_cost_gallery_and_page(sweep):
    sweep_dir, _ = sweep
    for name in ("cost.png", "gallery.png"):
        with Image.open(sweep_dir / name) as image:
            assert image.format == "PNG" and min(image.size) > 100, name
    html = (sweep_dir / "report.html").read_text()
    assert html.count("<tr>") > 3 * IMAGES and "loss=lovasz, model=tiny_unet" in html
    with open(sweep_dir / "worst_images.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 5 * len(LOSSES)


@pytest.mark.browser
@needs_chromium
def test_the_page_opens_in_a_headless_browser(sweep, tmp_path):
    sweep_dir, _ = sweep
    images = 4 + 2 * IMAGES + IMAGES * len(LOSSES)  # 4 plots; per row the image, truth, each cell
    dom = check_report_page(sweep_dir / "report.html", tmp_path, min_images=images)
    assert 'id="gallery"' in dom and 'id="cost.png"' in dom
