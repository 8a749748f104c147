"""``seglightning-report --logger ...``: the sweep report reaches every tracker through
``MediaLogger.log_report``, offline, and is read back with each tracker's own format."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from seglightning.cli import report
from tests.sweeps.test_report import fake_run, write_per_image
from tests.tracking.readers import neptune_run, wandb_run

pytestmark = [pytest.mark.tracker, pytest.mark.slow]

PLOTS = {"heatmap", "bars", "paired", "ranks"}  # ranks.png: the sweep has per_image.csv


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    sweep = tmp_path_factory.mktemp("sweep") / "ablation"
    rng = np.random.default_rng(0)
    for loss in ("ce", "dice"):
        for seed in (0, 1):
            write_per_image(fake_run(sweep, loss, "unet", seed, rng=rng), rng, 8, 0.5)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_MODE", "offline")
        mp.setenv("WANDB_SILENT", "true")
        mp.delenv("NEPTUNE_PROJECT", raising=False)
        mp.delenv("NEPTUNE_API_TOKEN", raising=False)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.chdir(sweep)
        import io
        from contextlib import redirect_stdout

        out = io.StringIO()
        with redirect_stdout(out):
            report([str(sweep), *(f"--logger={name}" for name in ("wandb", "mlflow", "neptune", "tensorboard"))])
    return sweep, out.getvalue()


def csv_header(path: Path) -> list[str]:
    with open(path, newline="") as f:
        return next(csv.reader(f))


def test_every_tracker_says_what_it_logged(logged):
    _, printed = logged
    for kind in ("WandbRunLogger", "MediaMLFlowLogger", "NeptuneScaleLogger", "MediaTensorBoardLogger"):
        assert f"{kind}: report tables runs, results, comparison; plots heatmap, bars, paired" in printed


def test_wandb_gets_the_tables_as_wandb_tables_and_the_plots(logged):
    sweep, _ = logged
    (run_dir,) = (sweep / "report" / "wandb").glob("offline-run-*")
    run = wandb_run(run_dir)
    assert run["run"].run_group == "ablation" and run["run"].display_name == "ablation-report"
    (row,) = [r for r in run["history"] if "sweep/results/_type" in r]
    assert row["sweep/results/_type"] == "table-file" and row["sweep/results/nrows"] == 2
    table = json.loads((run_dir / "files" / row["sweep/results/path"]).read_text())
    assert table["columns"] == csv_header(sweep / "results.csv")
    assert [r[0] for r in table["data"]] == ["ce", "dice"]
    assert row["sweep/comparison/nrows"] == len(list(csv.DictReader(open(sweep / "comparison.csv"))))
    assert {k.split("/")[1] for k in row if k.endswith("/_type") and row[k] == "image-file"} == PLOTS
    assert row["sweep/report/_type"] == "html-file"  # report.html as W&B Html


def test_mlflow_gets_log_tables_texts_and_plots(logged):
    from mlflow.tracking import MlflowClient

    sweep, _ = logged
    client = MlflowClient(f"sqlite:///{sweep / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ablation")
    (run,) = client.search_runs([experiment.experiment_id])
    table = client.load_table(experiment.experiment_id, "sweep/results.json", run_ids=[run.info.run_id])
    with open(sweep / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(table.columns)[: len(rows[0])] == list(rows[0])
    assert table["mIoU/mean"].tolist() == pytest.approx([float(r["mIoU/mean"]) for r in rows])
    artifacts = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "sweep")}
    assert {"runs.json", "results.json", "comparison.json", "results.md", "comparison.md",
            "heatmap.png", "bars.png", "paired.png", "report.html"} <= artifacts


def test_neptune_gets_the_report_files_and_the_cell_means(logged):
    sweep, _ = logged
    (db,) = (sweep / "report" / "neptune").glob("*/run_operations.sqlite3")
    run = neptune_run(db)
    uploads = {Path(u.source_path).name for u in run["uploads"]}
    assert {"results.csv", "results.md", "comparison.csv", "comparison.md", "runs.csv", "paired.png",
            "report.html"} <= uploads
    assert "sweep/results_csv" in run["configs"] and "sweep/paired_png" in run["configs"]
    with open(sweep / "results.csv", newline="") as f:
        ce = next(r for r in csv.DictReader(f) if r["loss"] == "ce")
    assert run["configs"]["sweep/results/ce,unet/mIoU"] == pytest.approx(float(ce["mIoU/mean"]))


def test_tensorboard_gets_the_tables_as_text_and_the_plots_as_images(logged):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sweep, _ = logged
    acc = EventAccumulator(str(sweep / "report" / "tensorboard"), size_guidance={"images": 0, "tensors": 0})
    acc.Reload()
    assert {f"sweep/{p}" for p in PLOTS} <= set(acc.Tags()["images"])
    assert {"sweep/results/text_summary", "sweep/comparison/text_summary"} <= set(acc.Tags()["tensors"])
    text = acc.Tensors("sweep/comparison/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "Paired over images (mIoU)" in text
    link = acc.Tensors("sweep/report_html/text_summary")[0].tensor_proto.string_val[0].decode()
    assert (sweep / "report.html").resolve().as_uri() in link
