"""The opt-in metric families (module.metrics: surface, objects) inside the evaluation suite: logged
names, per_class.csv / per_image.csv columns equal to the standalone metrics, Cityscapes batches
carrying the instance map, and a 2-process evaluation equal to one process."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from seglightning.data.cityscapes import CITYSCAPES_CLASSES
from seglightning.metrics import ConfusionMetrics, EvaluationMetrics
from seglightning.metrics.cityscapes_instances import CityscapesInstanceIoU
from seglightning.metrics.evaluation import DEFAULT_METRICS
from seglightning.metrics.objects import ObjectRecall
from seglightning.metrics.surface import SurfaceDistances
from seglightning.tracking.media import class_report, per_image_table
from tests.metrics.two_processes import on_two_processes

C, VOID = len(CITYSCAPES_CLASSES), 255
FAMILIES = ["iou", "boundary_f1", "surface", "objects"]


def batches(seed: int = 0, n: int = 3):
    g = torch.Generator().manual_seed(seed)
    out = []
    for b in range(n):
        noise = torch.nn.functional.interpolate(torch.randn(2, C, 8, 10, generator=g), size=(48, 60), mode="bilinear")
        target = noise.argmax(1)
        target[:, :3] = VOID
        preds = (noise + 0.5 * torch.randn(noise.shape, generator=g)).argmax(1)
        inst = torch.zeros_like(target)
        target[:, 20:30, 10:25] = 13  # a car instance per image
        inst[:, 20:30, 10:25] = 26001
        out.append((preds, target, inst, [{"id": f"img{b}{i}"} for i in range(2)]))
    return out


def run_suite(data, families=FAMILIES) -> EvaluationMetrics:
    suite = EvaluationMetrics(C, VOID, CITYSCAPES_CLASSES, 2, families)
    for preds, target, inst, meta in data:
        suite.update(preds, target, torch.tensor(1.0), meta, instance_ids=inst)
    return suite


def test_suite_logs_and_writes_the_families_as_the_standalone_metrics(tmp_path):
    data = batches()
    suite = run_suite(data)
    surface, objects = SurfaceDistances(C), ObjectRecall(C)
    iiou = CityscapesInstanceIoU(CITYSCAPES_CLASSES)
    for preds, target, inst, _ in data:
        surface.update(preds, target)
        objects.update(preds, target, inst)
        iiou.update(preds, target, inst)
    out = suite.compute("val")
    for k, v in surface.compute().items():
        name = "val/surface_one_sided" if k == "one_sided" else f"val/{k}"
        torch.testing.assert_close(out[name], v.float(), equal_nan=True)
    assert {"val/HD95", "val/ASSD", "val/NSD@2px", "val/recall@small", "val/detected@large"} <= set(out)
    for k, v in objects.compute().items():
        torch.testing.assert_close(out[f"val/{k}"], v, equal_nan=True)
    scores = iiou.scores(suite.confusion.confmat)
    for k in ("IoU_class", "iIoU_class", "IoU_category", "iIoU_category"):
        torch.testing.assert_close(out[f"val/{k}"], scores[k].float(), equal_nan=True)
    torch.testing.assert_close(out["val/IoU_class"], out["val/mIoU"])
    snapshot = suite.snapshot()
    report = class_report(snapshot, tmp_path)
    for col in ("HD95", "ASSD", "NSD@2px", "surface_one_sided", "recall@small", "detected@medium", "iIoU"):
        assert col in report.columns
    with open(report.table_path) as f:
        rows = list(csv.DictReader(f))
    car = rows[CITYSCAPES_CLASSES.index("car")]
    assert float(car["HD95"]) == pytest.approx(surface.per_class()["HD95"][13].item())
    assert int(car["objects@small"]) == objects.per_class()["objects@small"][13].item()
    path = per_image_table(snapshot, tmp_path, "val")
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and "HD95/car" in rows[0] and "objects/small" in rows[0]
    total = sum(int(r["objects/small"]) + int(r["objects/medium"]) + int(r["objects/large"]) for r in rows)
    assert total == sum(int(v.sum()) for k, v in objects.per_class().items() if k.startswith("objects@"))
    first = [r for r in rows if r["id"] == "img00"][0]
    one = SurfaceDistances(C)
    one.update(data[0][0][:1], data[0][1][:1])
    hd = one.last_per_image["HD95"][0, 13]
    assert float(first["HD95/car"]) == pytest.approx(hd) if not np.isnan(hd) else first["HD95/car"] == "nan"


def test_objects_reads_the_suites_confusion_matrix_and_scores_cityscapes_once(monkeypatch):
    """No second confusion matrix in the objects family; compute() then snapshot() score Cityscapes once,
    with the suite's matrix, and an update in between scores again."""
    calls = []
    scores = CityscapesInstanceIoU.scores

    def counted(self, confmat):
        calls.append(confmat)
        return scores(self, confmat)

    monkeypatch.setattr(CityscapesInstanceIoU, "scores", counted)
    data = batches()
    suite = run_suite(data)
    objects = suite.families["objects"]
    assert objects.needs_confmat and not any(isinstance(m, ConfusionMetrics) for m in objects.modules())
    out = suite.compute("val")
    snapshot = suite.snapshot()
    assert len(calls) == 1 and torch.equal(calls[0], suite.confusion.confmat)
    iiou = scores(objects.cityscapes, suite.confusion.confmat)
    torch.testing.assert_close(out["val/iIoU_class"], iiou["iIoU_class"].float())
    np.testing.assert_array_equal(snapshot.columns["iIoU"], iiou["iIoU"].numpy())
    preds, target, inst, meta = data[0]
    suite.update(preds, target, torch.tensor(1.0), meta, instance_ids=inst)
    suite.snapshot()
    assert len(calls) == 2


def test_families_are_off_by_default_and_unknown_names_raise():
    suite = run_suite(batches(n=1), families=DEFAULT_METRICS)
    assert "surface" not in suite.families and "objects" not in suite.families
    assert not any(k.startswith("val/HD95") or "recall@" in k for k in suite.compute("val"))
    with pytest.raises(ValueError, match="unknown metric families"):
        EvaluationMetrics(C, VOID, CITYSCAPES_CLASSES, 2, ["iou", "hausdorf"])
    suite = EvaluationMetrics(3, VOID, ["a", "b", "c"], 2, ["iou", "objects"])
    assert suite.families["objects"].cityscapes is None  # iIoU only for Cityscapes classes


def test_cityscapes_batches_carry_the_instance_map(tmp_path):
    from PIL import Image

    from seglightning.data.datamodule import SegmentationDataModule
    from seglightning.testing import write_fixture

    root = write_fixture("cityscapes", tmp_path / "cs", seed=0)
    dm = SegmentationDataModule("cityscapes", root=str(root), batch_size=2)
    dm.request_instance_ids()
    ds = dm.dataset("val")
    item = ds[0]
    raw = np.asarray(Image.open(ds.base.samples[0].extra["instance_ids"])).astype(np.int64)
    np.testing.assert_array_equal(item["instance_ids"].numpy(), np.where(raw >= 1000, raw, 0))
    assert "instance_ids" not in dm.dataset("train")[0]  # training batches never pay for it
    batch = next(iter(dm.val_dataloader()))
    assert batch["instance_ids"].shape == batch["mask"].shape


def test_coco_instance_map_follows_the_semantic_mask(tmp_path):
    pytest.importorskip("pycocotools")
    from seglightning.data.coco import COCOSegmentation
    from seglightning.testing import write_fixture

    root = write_fixture("coco", tmp_path / "coco", seed=0)
    reader = COCOSegmentation(root, "val")
    reader.load_instance_ids = True
    for k in range(len(reader)):
        item = reader[k]
        ids, mask = item["instance_ids"], item["mask"]
        assert ids.shape == mask.shape and ids.max() > 0
        # every instance pixel of a valid class is one object of one class
        for v in np.unique(ids[(ids > 0) & (mask != VOID)]):
            assert len(np.unique(mask[(ids == v) & (mask != VOID)])) == 1
        assert (mask[(ids == 0) & (mask != VOID)] == 0).all()  # outside instances: background


def _on_my_share(rank: int, world: int) -> dict:
    suite = run_suite(batches(n=5)[rank::world])
    return {"compute": suite.compute("val"), "extra": suite.snapshot().columns}


@pytest.mark.slow
@pytest.mark.ddp
def test_ddp_two_processes_equal_single(tmp_path):
    got = on_two_processes(_on_my_share, tmp_path)
    single = run_suite(batches(n=5))
    out = single.compute("val")
    for k in out:
        if k != "val/loss":
            torch.testing.assert_close(got["compute"][k], out[k], equal_nan=True, rtol=0, atol=0, msg=k)
    for k, v in single.snapshot().columns.items():
        np.testing.assert_array_equal(got["extra"][k], v, err_msg=k)


@pytest.mark.slow
def test_train_with_surface_and_objects_on_cityscapes(tmp_path):
    import json

    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from seglightning.cli import CONFIG_DIR
    from seglightning.testing import write_fixture
    from seglightning.train import train

    root = write_fixture("cityscapes", tmp_path / "cs", seed=0)
    overrides = [
        "data=cityscapes", f"data.root={root}", "trainer.max_steps=2", "trainer.accelerator=cpu",
        "data.num_workers=0", "data.batch_size=2", "data.val_batch_size=2",
        "data.transforms.train.crop_size=[48,64]", "model.base_channels=4", "callbacks.progress_bar=none",
        "callbacks.overlays.num_images=1", "logger=[csv]", "test_after_fit=false",
        "module.metrics=[iou,boundary_f1,surface,objects]",
    ]  # fmt: skip
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    with open_dict(cfg):
        cfg.run_dir = str(tmp_path / "run")
    assert train(cfg)["status"] == "complete"
    text = json.dumps(json.loads((tmp_path / "run" / "metrics.json").read_text()))
    for name in ("val/HD95", "val/NSD@2px", "val/recall@small", "val/detected@large", "val/iIoU_class"):
        assert name in text, name
    with open(tmp_path / "run" / "per_class.csv") as f:
        header = next(csv.reader(f))
    assert {"HD95", "recall@small", "iIoU"} <= set(header)
