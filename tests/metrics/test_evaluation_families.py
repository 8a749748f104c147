"""The suite's metric families (``module.metrics``): Boundary IoU and calibration logged, per class
and per image; per-image counts add up to the dataset-level values; 2 processes equal 1."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from seglightning.metrics import BoundaryIoU, Calibration, EvaluationMetrics
from seglightning.metrics.calibration import calibration_scores
from seglightning.metrics.evaluation import DEFAULT_METRICS, FAMILIES, check_metric_names
from seglightning.metrics.functional import mean_iou
from seglightning.metrics.surface import SurfaceDistances
from seglightning.sweeps.per_image import read_image_counts
from seglightning.tracking.media import class_report, per_image_table
from tests.metrics.two_processes import on_two_processes

C, VOID = 4, 255
NAMES = ["bg", "a", "b", "c"]


def batches(n: int = 5):
    out = []
    for k in range(n):
        g = torch.Generator().manual_seed(k)
        b = 1 + k % 3
        target = torch.randint(0, C, (b, 3, 4), generator=g).repeat_interleave(6, 1).repeat_interleave(5, 2)
        target[torch.rand(target.shape, generator=g) < 0.1] = VOID
        logits = 2 * torch.randn(b, C, 18, 20, generator=g)
        logits += 3 * torch.nn.functional.one_hot(target.clamp_max(C - 1), C).permute(0, 3, 1, 2)
        out.append((logits, target, [{"id": f"img{k}_{i}"} for i in range(b)]))
    return out


def feed(metrics: EvaluationMetrics, data) -> EvaluationMetrics:
    for logits, target, meta in data:
        metrics.update(logits.argmax(1), target, torch.tensor(0.25), meta, scores=logits)
    return metrics


def suite(metrics=DEFAULT_METRICS) -> EvaluationMetrics:
    return EvaluationMetrics(C, VOID, NAMES, 0.0075, metrics, biou_dilation=[0.02, 2])


def test_logged_per_class_and_per_image_values(tmp_path):
    data = batches()
    metrics = feed(suite(), data)
    logged = metrics.compute("val")
    alone_biou, alone_cal = BoundaryIoU(C, [0.02, 2], VOID), Calibration(C, ignore_index=VOID)
    for logits, target, _ in data:
        alone_biou.update(logits.argmax(1), target)
        alone_cal.update(logits, target)
    biou = alone_biou.compute()
    assert logged["val/bIoU"] == biou[0.02] and logged["val/bIoU@0.02diag"] == biou[0.02]
    assert logged["val/bIoU@2px"] == biou[2]
    for k, v in alone_cal.compute().items():
        assert logged[f"val/{k}"].item() == pytest.approx(v.item(), rel=1e-6)
    snapshot = metrics.snapshot()
    np.testing.assert_allclose(snapshot.columns["bIoU@0.02diag"], alone_biou.per_class()[0].numpy(), equal_nan=True)
    assert snapshot.reliability["count"].sum() == int(alone_cal.count.sum())

    # per image: the bIoU counts and calibration sums of any set of images give its dataset-level values
    per_image = snapshot.per_image
    inter, union = per_image.blocks["bIoU@2px.I"][1], per_image.blocks["bIoU@2px.U"][1]
    assert mean_iou(inter.sum(0), union.sum(0) - inter.sum(0), 0 * inter.sum(0)) == pytest.approx(biou[2].item())
    n, conf, acc = (per_image.blocks[k][1].sum(0) for k in ("cal.n", "cal.conf", "cal.acc"))
    brier, nll = per_image.blocks["cal"][1].sum(0)
    again = calibration_scores(torch.tensor(n), torch.tensor(conf), torch.tensor(acc), torch.tensor(brier),
                               torch.tensor(nll))
    assert again["ECE"].item() == pytest.approx(logged["val/ECE"].item(), rel=1e-6)

    report = class_report(snapshot, tmp_path)
    assert report.columns == ["class", "IoU", "Dice", "bF1", "bIoU@0.02diag", "bIoU@2px", "pixels"]
    assert report.figures["val/reliability"] == tmp_path / "reliability.png"
    assert (tmp_path / "reliability.png").is_file()
    path = per_image_table(snapshot, tmp_path, "val")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    first = rows[0]
    for key in ("bIoU@2px/a", "bIoU@2px.I/a", "bIoU@2px.U/a", "cal.n/0", "cal.conf/15", "cal/nll_sum"):
        assert key in first, key
    assert int(first["bIoU@2px.I/a"]) == inter[0, 1] and sum(int(r["cal.n/3"]) for r in rows) == n[3]
    split, counts = read_image_counts(tmp_path)
    np.testing.assert_array_equal(counts.tp, per_image.tp)


def test_module_metrics_switch_and_registry():
    assert set(DEFAULT_METRICS) - {"iou"} <= set(FAMILIES)
    only = feed(suite(["iou"]), batches(2)).compute("val")
    assert "val/mIoU" in only and not any(k.split("/")[1] in ("bF1", "bIoU", "ECE") for k in only)
    labels_only = EvaluationMetrics(C, VOID, NAMES, 0.0075)
    for logits, target, meta in batches(2):  # no scores (Mask R-CNN): no calibration number at all
        labels_only.update(logits.argmax(1), target, torch.tensor(0.0), meta)
    logged = labels_only.compute("val")
    assert "val/bIoU" in logged and "val/ECE" not in logged and labels_only.snapshot().reliability is None
    from seglightning.metrics.evaluation import needs_scores
    from seglightning.modules import InstanceSegmentationModule, SegmentationModule

    assert needs_scores("calibration") and not needs_scores("boundary_iou") and not needs_scores("iou")
    assert SegmentationModule.gives_scores and not InstanceSegmentationModule.gives_scores  # Mask R-CNN: no ECE
    with pytest.raises(ValueError, match="unknown metric families"):
        check_metric_names(["iou", "bogus"])
    with pytest.raises(ValueError, match="must include 'iou'"):
        check_metric_names(["boundary_iou"])


def test_nsd_tolerance_reaches_the_surface_family():
    """``module.nsd_tolerance`` (here two tolerances) is the surface family's: its logged NSD columns
    are those of SurfaceDistances at the same tolerances."""
    data = batches(2)
    metrics = EvaluationMetrics(C, VOID, NAMES, 0.0075, ["iou", "surface"], nsd_tolerance=[1, 3.5])
    logged = feed(metrics, data).compute("val")
    alone = SurfaceDistances(C, ignore_index=VOID, nsd_tolerance=[1, 3.5])
    for logits, target, _ in data:
        alone.update(logits.argmax(1), target)
    expected = alone.compute()
    assert {"val/NSD@1px", "val/NSD@3.5px"} <= set(logged) and "val/NSD@2px" not in logged
    for name in ("NSD@1px", "NSD@3.5px", "HD95"):
        torch.testing.assert_close(logged[f"val/{name}"], expected[name], equal_nan=True)
    assert not torch.equal(logged["val/NSD@1px"], logged["val/NSD@3.5px"])


def _on_my_share(rank: int, world: int) -> dict:
    metrics = feed(suite(), batches()[rank::world])  # uneven: 3 and 2 batches, each once
    logged = metrics.compute("val")
    snapshot = metrics.snapshot()
    return {"logged": logged, "columns": snapshot.columns, "reliability": snapshot.reliability,
            "blocks": snapshot.per_image.blocks, "ids": snapshot.per_image.ids}


@pytest.mark.slow
@pytest.mark.ddp
def test_two_processes_equal_one(tmp_path):
    got = on_two_processes(_on_my_share, tmp_path)
    single = feed(suite(), batches())
    logged, snapshot = single.compute("val"), single.snapshot()
    for name in ("bIoU", "bIoU@2px", "ECE", "Brier", "NLL", "mIoU"):
        assert torch.equal(got["logged"][f"val/{name}"], logged[f"val/{name}"]), name  # bit for bit
    for k, v in snapshot.columns.items():
        np.testing.assert_array_equal(got["columns"][k], v)
    for k, v in snapshot.reliability.items():
        np.testing.assert_array_equal(got["reliability"][k], v)
    assert got["ids"] == snapshot.per_image.ids
    for k, (_, v) in snapshot.per_image.blocks.items():
        np.testing.assert_array_equal(got["blocks"][k][1], v)


def test_module_options_reach_every_stage_suite():
    """``module.nsd_tolerance`` and ``module.biou_dilation`` reach the suites the LightningModule builds
    (and its saved hyperparameters, so a reloaded checkpoint scores the same)."""
    from seglightning.modules import SegmentationModule

    module = SegmentationModule(
        model={"name": "unet", "base_channels": 4}, loss="ce", num_classes=3,
        metrics=["iou", "boundary_iou", "surface"], biou_dilation=3, nsd_tolerance=[1, 4],
    )
    for stage_suite in module.metrics.values():
        assert stage_suite.families["surface"].surface.tolerances == [1.0, 4.0]
        assert stage_suite.families["boundary_iou"].biou.dilations == [3]
    assert module.hparams.nsd_tolerance == [1, 4]
