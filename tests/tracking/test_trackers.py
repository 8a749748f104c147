"""One 2-step run (2 epochs x 1 batch) with every tracker at once, offline with the real client
libraries, then each tracker's artefact read back with that tracker's own format."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from seglightning import train as train_mod
from seglightning.tracking.context import stable_run_id
from tests.conftest import train_config
from tests.tracking.readers import neptune_run, wandb_run

pytestmark = [pytest.mark.tracker, pytest.mark.slow]

# fake credentials in the environment during the run: none may reach a file (W&B stays offline
# because WANDB_MODE=offline; Neptune because no project is set; MLflow's token is for HTTP stores)
TOKENS = {
    "WANDB_API_KEY": "sltestwandbkey0123456789abcdef0123456789",
    "NEPTUNE_API_TOKEN": "sltest-neptune-token-6f1c2e",
    "MLFLOW_TRACKING_TOKEN": "sltest-mlflow-token-9b7d3a",
}
CLASSES = ["background", "disk", "square", "triangle", "cross"]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run dir of one run with csv, tensorboard, wandb, neptune and mlflow; cwd is a scratch dir."""
    root = tmp_path_factory.mktemp("trackers")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in TOKENS.items():
            mp.setenv(key, value)
        mp.setenv("WANDB_MODE", "offline")
        mp.delenv("NEPTUNE_PROJECT", raising=False)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.setenv("SEGLIGHTNING_CACHE", str(root / "cache"))
        mp.chdir(tmp_path_factory.mktemp("cwd"))
        cfg = train_config(
            root / "outputs" / "run", "logger=[csv,tensorboard,wandb,neptune,mlflow]", "trainer.limit_train_batches=1",
            "callbacks.overlays.every_n_epochs=1", "++sweep_name=ablation",
        )
        train_mod.train(cfg)
        assert sorted(p.name for p in Path.cwd().iterdir()) == [], "a tracker wrote into the working directory"
    return root / "outputs" / "run"


def test_csv_has_the_metric_columns(tracked):
    header = next(csv.reader(open(tracked / "metrics.csv")))
    assert {"step", "epoch", "train/loss_step", "val/mIoU", "val/bF1", "val/IoU/disk", "test/mIoU"} <= set(header)


def test_tensorboard_event_file_has_scalars_images_and_table(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert list((tracked / "tensorboard").glob("events.out.tfevents.*"))  # fit and test each write one
    acc = EventAccumulator(str(tracked / "tensorboard"), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    assert len(acc.Scalars("val/mIoU")) == 2
    assert {"val/overlays/val_00010", "val/overlays/val_00012", "val/confusion_matrix"} <= set(acc.Tags()["images"])
    assert "val/per_class/text_summary" in acc.Tags()["tensors"]


def test_wandb_offline_run_has_history_config_tags_and_media(tracked):
    (run_dir,) = (tracked / "wandb").glob("offline-run-*")
    run = wandb_run(run_dir)
    assert run["run"].run_id == stable_run_id(tracked) and run_dir.name.endswith(stable_run_id(tracked))
    assert run["run"].run_group == "ablation" and run["run"].job_type == "train"
    assert list(run["run"].tags) == ["loss=ce+dice", "arch=unet", "data=synthetic"]
    assert run["config"]["seed"] == 0 and run["config"]["data"]["name"] == "synthetic"
    history = run["history"]
    assert len([r for r in history if "val/mIoU" in r]) == 2
    overlays = [r for r in history if "val/overlays/_type" in r]
    assert len(overlays) == 3 and all(r["val/overlays/count"] == 2 for r in overlays)  # 2 epochs + end of fit
    masks = overlays[0]["val/overlays/all_masks"][0]
    assert set(masks) == {"ground_truth", "prediction"}
    labels = json.loads(json.dumps(run["config"]["_wandb"]["mask/class_labels"]))
    assert any(v["value"] == {**{str(i): n for i, n in enumerate(CLASSES)}, "5": "void"} for v in labels.values())
    (report,) = [r for r in history if "val/per_class/_type" in r]
    assert report["val/per_class/nrows"] == len(CLASSES) and report["val/confusion_matrix/_type"] == "image-file"
    table = json.loads((run_dir / "files" / report["val/per_class/path"]).read_text())
    assert table["columns"] == ["class", "IoU", "Dice", "bF1", "bIoU", "pixels"]  # the default families
    assert len(list((run_dir / "files" / "media" / "images").rglob("*.png"))) >= 7


def test_wandb_run_finished_and_environment_restored(tracked):
    import os

    import wandb

    assert wandb.run is None
    assert not any(k in os.environ for k in ("WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR", "WANDB_CACHE_DIR"))
    assert (tracked / "wandb" / "cache").is_dir()  # W&B's cache and logs were inside the run dir


def test_neptune_offline_run_file_has_metrics_config_tags_and_files(tracked):
    (db,) = (tracked / "neptune").glob("*/run_operations.sqlite3")
    run = neptune_run(db)
    assert run["metadata"].run_id == stable_run_id(tracked) and run["metadata"].project == "seglightning/offline"
    assert run["create"].experiment_id == "outputs/run"
    assert [s for s, _ in run["metrics"]["val/mIoU"]] == [0, 1]
    assert len(run["metrics"]["train/loss_step"]) == 2 and run["metrics"]["test/mIoU"]
    assert run["configs"]["config/seed"] == 0 and run["configs"]["config/model/name"] == "unet"
    assert run["configs"]["hparams/num_classes"] == len(CLASSES)
    assert run["configs"]["status"] == "success"
    assert run["tags"] == {"loss=ce+dice", "arch=unet", "data=synthetic"} and run["group_tags"] == {"ablation"}
    assert {k: len(v) for k, v in run["files"].items()} == {"val/overlays/val_00010": 2, "val/overlays/val_00012": 2}
    assert run["configs"]["val/per_class/disk/IoU"] == pytest.approx(_final(tracked)["val/IoU/disk"])
    uploads = {Path(u.source_path) for u in run["uploads"]}
    assert {tracked / "confusion_matrix.png", tracked / "per_class.csv"} <= uploads
    assert (tracked / "neptune" / "runs.txt").read_text().split() == [stable_run_id(tracked)]


def test_mlflow_sqlite_run_has_metrics_params_tags_and_artifacts(tracked):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tracked.parent / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ablation")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    expected = {"loss": "ce+dice", "arch": "unet", "data": "synthetic", "group": "ablation"}
    assert expected.items() <= run.data.tags.items()
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val/mIoU")] == [0, 1]
    assert run.data.params["seed"] == "0" and run.data.params["data/name"] == "synthetic"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"overlays", "confusion_matrix.png", "per_class.csv"} <= artifacts
    assert len(client.list_artifacts(run.info.run_id, "overlays")) == 6
    assert Path(experiment.artifact_location) == tracked.parent / "mlflow-artifacts"


def test_mlflow_resumed_run_continues_the_same_mlflow_run(tracked):
    from seglightning.tracking import mlflow_logger

    context = {"config": {"seed": 0}, "tags": {}, "group": "ablation", "name": "run", "resume_step": 1}
    resumed = mlflow_logger.build(tracked, context)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tracked.parent / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("ablation").experiment_id])
    assert resumed.run_id == run.info.run_id


def _final(run_dir: Path) -> dict[str, float]:
    return json.loads((run_dir / "metrics.json").read_text())["final"]


def test_per_class_table_is_the_last_validation_epoch(tracked):
    rows = list(csv.DictReader(open(tracked / "per_class.csv")))
    final = _final(tracked)
    assert [r["class"] for r in rows] == CLASSES
    for r in rows:
        assert float(r["IoU"]) == pytest.approx(final[f"val/IoU/{r['class']}"], nan_ok=True)
    present = [r for r in rows if not math.isnan(float(r["IoU"]))]
    assert sum(float(r["Dice"]) for r in present) / len(present) == pytest.approx(final["val/mDice"])
    bf1 = [float(r["bF1"]) for r in rows if not math.isnan(float(r["bF1"]))]
    assert sum(bf1) / len(bf1) == pytest.approx(final["val/bF1"], abs=1e-6)
    assert all(int(r["pixels"]) > 0 for r in rows)
    assert (tracked / "confusion_matrix.png").stat().st_size > 0


def test_no_token_reaches_any_file(tracked):
    for path in tracked.parent.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for name, token in TOKENS.items():
                assert token.encode() not in data, f"{name} found in {path}"
